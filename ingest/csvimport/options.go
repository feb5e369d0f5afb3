package csvimport

import (
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Import modes.
const (
	ModeMerge   = "merge"   // update the given properties only
	ModeReplace = "replace" // replace the whole record
)

// Options are the parameters of one import.
type Options struct {
	// JobID is the import id; "" generates one. A client may choose it to
	// follow the job while its upload is still running.
	JobID string
	// IDColumn is the header of the user id column; "" looks for a column
	// named like userId (userId, user_id, id, customerId, …).
	IDColumn string
	// Mode is ModeMerge (default) or ModeReplace.
	Mode string
	// Tags are added to every imported user, with "import:<id>".
	Tags []string
	// Map overrides the automatic header mapping: header → property, "-"
	// skips the column.
	Map map[string]string
	// FileName is shown in the job status.
	FileName string
	// Size is the file size in bytes, when the client knows it (progress).
	Size int64
}

var jobIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

const maxTags = 50

// normalize checks the options and fills defaults.
func (o *Options) normalize() error {
	if o.JobID == "" {
		o.JobID = uuid.NewString()
	} else if !jobIDRE.MatchString(o.JobID) {
		return fieldErr("jobId", ErrInvalidOptions, "jobId must be 1 to 64 letters, digits, '-' or '_'")
	}
	switch o.Mode {
	case "":
		o.Mode = ModeMerge
	case ModeMerge, ModeReplace:
	default:
		return fieldErr("mode", ErrInvalidOptions, "mode must be merge or replace, not %q", o.Mode)
	}
	var tags []string
	seen := map[string]bool{}
	for _, t := range o.Tags {
		for _, part := range strings.Split(t, ",") {
			part = strings.TrimSpace(part)
			if part == "" || seen[part] {
				continue
			}
			if utf8.RuneCountInString(part) > 255 {
				return fieldErr("tags", ErrInvalidOptions, "a tag is longer than 255 characters")
			}
			seen[part] = true
			tags = append(tags, part)
		}
	}
	if len(tags) > maxTags {
		return fieldErr("tags", ErrInvalidOptions, "at most %d tags", maxTags)
	}
	o.Tags = tags
	if o.Size < 0 {
		return fieldErr("size", ErrInvalidOptions, "size must not be negative")
	}
	for h := range o.Map {
		if strings.TrimSpace(h) == "" {
			return fieldErr("map", ErrInvalidOptions, "a mapping has an empty header (use Header=property)")
		}
	}
	if utf8.RuneCountInString(o.FileName) > 255 {
		o.FileName = string([]rune(o.FileName)[:255])
	}
	return nil
}

// ParseMapping reads "Header=property" items (the last "=" splits, so a
// header may contain "=").
func ParseMapping(items []string) (map[string]string, error) {
	m := make(map[string]string, len(items))
	for _, it := range items {
		i := strings.LastIndexByte(it, '=')
		if i <= 0 {
			return nil, fieldErr("map", ErrInvalidOptions, "mapping %q must be Header=property", it)
		}
		m[strings.TrimSpace(it[:i])] = strings.TrimSpace(it[i+1:])
	}
	return m, nil
}
