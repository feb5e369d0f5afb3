package csvimport

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/user360/user360/ingest/propschema"
	"github.com/user360/user360/internal/config"
	"github.com/user360/user360/schemas"
)

// Config configures the import service.
type Config struct {
	// Namespace prefixes Redis keys (default "u360").
	Namespace string
	// BatchSize is the number of rows per publish to the log (default 2000).
	BatchSize int
	// MaxUploadBytes caps one upload (default 10 GiB).
	MaxUploadBytes int64
	// MaxErrorLines caps the error report kept per job (default 100,000);
	// further errors are counted, not kept.
	MaxErrorLines int
	// JobTTL is how long job state and error reports are kept (default 7 days).
	JobTTL time.Duration
	// StaleAfter: a running job whose state was not refreshed for this long
	// is reported failed (its server went away). Default 2 minutes.
	StaleAfter time.Duration
	// PublishRetries is how many times a batch is retried when the log does
	// not acknowledge it (default 3). Retries are safe: message ids are
	// deterministic.
	PublishRetries int
	// FlushInterval publishes a partial batch when rows arrive slowly
	// (default 1s), so that a trickling upload still makes progress.
	FlushInterval time.Duration
	// Encoders is the number of goroutines encoding batches to records
	// (default 2).
	Encoders int
	// ReadTimeout is the idle time allowed between two reads of the upload;
	// the handler extends the server's read deadline as the body flows
	// (default 60s).
	ReadTimeout time.Duration
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Namespace:      "u360",
		BatchSize:      2000,
		MaxUploadBytes: 10 << 30,
		MaxErrorLines:  100_000,
		JobTTL:         7 * 24 * time.Hour,
		StaleAfter:     2 * time.Minute,
		PublishRetries: 3,
		Encoders:       2,
		FlushInterval:  time.Second,
		ReadTimeout:    60 * time.Second,
	}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.Namespace == "":
		return errors.New("csvimport: Namespace is required")
	case c.BatchSize < 1 || c.BatchSize > 100_000:
		return fmt.Errorf("csvimport: BatchSize %d must be between 1 and 100000", c.BatchSize)
	case c.MaxUploadBytes < 1:
		return errors.New("csvimport: MaxUploadBytes must be positive")
	case c.MaxErrorLines < 0:
		return errors.New("csvimport: MaxErrorLines must not be negative")
	case c.JobTTL < time.Minute:
		return errors.New("csvimport: JobTTL must be at least a minute")
	case c.StaleAfter < time.Second:
		return errors.New("csvimport: StaleAfter must be at least a second")
	case c.PublishRetries < 0:
		return errors.New("csvimport: PublishRetries must not be negative")
	case c.FlushInterval <= 0:
		return errors.New("csvimport: FlushInterval must be positive")
	case c.Encoders < 1 || c.Encoders > 64:
		return errors.New("csvimport: Encoders must be between 1 and 64")
	case c.ReadTimeout < time.Second:
		return errors.New("csvimport: ReadTimeout must be at least a second")
	}
	return nil
}

// Publisher builds the records of events and dead letters and writes them,
// returning once the log acknowledged them; *ingest.Publisher implements
// it. The import encodes batches on several goroutines (EventRecord) and
// produces them in order (Produce).
type Publisher interface {
	EventRecord(tenant string, e *schemas.Event) (*kgo.Record, error)
	DeadLetterRecord(d *schemas.DeadLetter) (*kgo.Record, error)
	Produce(ctx context.Context, recs ...*kgo.Record) error
}

// Schema is what the import needs of the property schema;
// *propschema.Validator implements it.
type Schema interface {
	Apply(t *config.Tenant, traits map[string]any, csv bool) (map[string]any, []propschema.Problem)
	PropertyFold(tenant, name string) (propschema.Property, bool)
	Properties(tenant string) []propschema.Property
}

// KnownUsers tells which user ids already have a profile, in one batched
// call per import batch (e.g. pipelined EXISTS on identity's user_id
// index). Optional: without it, "new" means first seen in this import.
type KnownUsers interface {
	KnownUserIDs(ctx context.Context, tenant string, userIDs []string) ([]bool, error)
}

// Deps are the service's dependencies.
type Deps struct {
	Tenants   *config.Tenants
	Redis     redis.UniversalClient
	Publisher Publisher // ingest.Publisher with source "import"
	Schema    Schema    // (*propschema.Service).Validator()
	// Known, when set, makes "new" vs "updated" reflect existing profiles.
	Known   KnownUsers
	Log     zerolog.Logger
	Metrics *prometheus.Registry // may be nil
	Clock   func() time.Time     // nil means time.Now
}

// Sentinel errors.
var (
	ErrInvalidOptions = errors.New("csvimport: invalid import options")
	ErrInvalidHeader  = errors.New("csvimport: invalid header")
	ErrJobExists      = errors.New("csvimport: an import with this id exists")
	ErrNotFound       = errors.New("csvimport: no such import")
	ErrUnavailable    = errors.New("csvimport: the event log is unavailable")
	ErrState          = errors.New("csvimport: the job state store is unavailable")
	ErrUpload         = errors.New("csvimport: the upload could not be read")
	ErrInvalidFile    = errors.New("csvimport: the file cannot be read as CSV")
)

// FileError stops an import at a line of the file that cannot be read as
// CSV any further (a quoted field not closed within MaxRecordBytes). The
// rows before it are imported.
type FileError struct {
	Line int // where the row starts
	Msg  string
}

func (e *FileError) Error() string {
	return fmt.Sprintf("%v: line %d: %s", ErrInvalidFile, e.Line, e.Msg)
}
func (e *FileError) Unwrap() error { return ErrInvalidFile }

// FieldError is an error about one request field (idColumn, map, mode, …).
type FieldError struct {
	Field string
	Err   error
	Msg   string
}

func (e *FieldError) Error() string { return e.Msg }
func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(field string, err error, format string, a ...any) error {
	return &FieldError{Field: field, Err: err, Msg: fmt.Sprintf(format, a...)}
}
