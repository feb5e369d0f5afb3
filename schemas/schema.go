package schemas

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

//go:embed *.schema.json
var schemaFiles embed.FS

// Schema file names, one per wire message.
const (
	FileEvent         = "event.schema.json"
	FileProfileUpdate = "profile_update.schema.json"
	FileSegmentChange = "segment_change.schema.json"
	FileDeadLetter    = "deadletter.schema.json"
)

// SchemaJSON returns the raw JSON Schema document of a wire message.
func SchemaJSON(file string) ([]byte, error) {
	return schemaFiles.ReadFile(file)
}

var (
	compileOnce sync.Once
	compiled    map[string]*jsonschema.Schema
	compileErr  error
)

// Validate checks a JSON document against one of the embedded schemas.
func Validate(file string, doc []byte) error {
	compileOnce.Do(compileAll)
	if compileErr != nil {
		return compileErr
	}
	s, ok := compiled[file]
	if !ok {
		return fmt.Errorf("schemas: unknown schema %q", file)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return fmt.Errorf("schemas: %w", err)
	}
	return s.Validate(v)
}

func compileAll() {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	files := []string{FileEvent, FileProfileUpdate, FileSegmentChange, FileDeadLetter}
	for _, f := range files {
		b, err := schemaFiles.ReadFile(f)
		if err != nil {
			compileErr = err
			return
		}
		var doc any
		if err := json.Unmarshal(b, &doc); err != nil {
			compileErr = fmt.Errorf("schemas: %s: %w", f, err)
			return
		}
		if err := c.AddResource(f, doc); err != nil {
			compileErr = fmt.Errorf("schemas: %s: %w", f, err)
			return
		}
	}
	compiled = make(map[string]*jsonschema.Schema, len(files))
	for _, f := range files {
		s, err := c.Compile(f)
		if err != nil {
			compileErr = fmt.Errorf("schemas: %s: %w", f, err)
			return
		}
		compiled[f] = s
	}
}
