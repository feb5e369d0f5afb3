package logx

import (
	"io"
	"os"
	"time"

	"github.com/rs/zerolog"
)

// New returns a JSON logger at the given level ("debug", "info", "warn",
// "error"; default info). pretty writes human-readable lines instead.
func New(level string, pretty bool) zerolog.Logger {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		lvl = zerolog.InfoLevel
	}
	var w io.Writer = os.Stderr
	if pretty {
		w = zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: time.TimeOnly}
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger()
}
