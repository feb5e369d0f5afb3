package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// options are the command-line flags.
type options struct {
	file      string
	idColumn  string
	maps      multiFlag
	mode      string
	tags      multiFlag
	server    string
	apiKey    string
	jobID     string
	errorsOut string
	interval  time.Duration
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// DefaultServer is used when neither --server nor USER360_SERVER is set.
const DefaultServer = "http://127.0.0.1:8360"

var errUsage = errors.New("usage")

func parseFlags(args []string, stderr io.Writer, getenv func(string) string) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("user360 import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.file, "file", "", "CSV file to import (required); the first line is the header")
	fs.StringVar(&o.idColumn, "id-column", "", "header of the user id column (default: a column named like userId, id, customerId)")
	fs.Var(&o.maps, "map", `map a header to a property, "Header=property" ("Header=-" skips the column); repeatable`)
	fs.StringVar(&o.mode, "mode", "merge", "merge (update the given properties) or replace (replace the whole record)")
	fs.Var(&o.tags, "tag", "tag every imported user (repeatable or comma-separated); import:<id> is always added")
	fs.StringVar(&o.server, "server", "", "server URL (default $USER360_SERVER or "+DefaultServer+")")
	fs.StringVar(&o.apiKey, "api-key", "", "API key (default $USER360_API_KEY)")
	fs.StringVar(&o.jobID, "job-id", "", "import id (default: a new UUID)")
	fs.StringVar(&o.errorsOut, "errors-out", "", "write the error report (CSV) to this file when rows failed")
	fs.DurationVar(&o.interval, "progress-interval", 2*time.Second, "interval of the plain progress lines (no terminal)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: user360 import --file users.csv [--id-column userId] [--map \"Phone Number=phone\"] [--mode merge|replace] [--tag spring-promo]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "unexpected arguments: %v\n", fs.Args())
		return nil, errUsage
	}
	if o.file == "" {
		fmt.Fprintln(stderr, "--file is required")
		fs.Usage()
		return nil, errUsage
	}
	if o.mode != "merge" && o.mode != "replace" {
		fmt.Fprintf(stderr, "--mode must be merge or replace, not %q\n", o.mode)
		return nil, errUsage
	}
	for _, m := range o.maps {
		if i := strings.LastIndexByte(m, '='); i <= 0 {
			fmt.Fprintf(stderr, "--map %q must be Header=property\n", m)
			return nil, errUsage
		}
	}
	if o.server == "" {
		o.server = getenv("USER360_SERVER")
	}
	if o.server == "" {
		o.server = DefaultServer
	}
	o.server = strings.TrimRight(o.server, "/")
	if o.apiKey == "" {
		o.apiKey = getenv("USER360_API_KEY")
	}
	if o.apiKey == "" {
		fmt.Fprintln(stderr, "an API key is required: --api-key or USER360_API_KEY")
		return nil, errUsage
	}
	if o.interval <= 0 {
		o.interval = 2 * time.Second
	}
	return o, nil
}

var osGetenv = os.Getenv
