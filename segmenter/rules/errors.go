package rules

import (
	"errors"
	"fmt"
)

// ErrInvalidRule wraps every validation error.
var ErrInvalidRule = errors.New("rules: invalid rule")

// Error is a validation error: the JSON path of the field at fault (e.g.
// "rule.all[1].op") and the reason.
type Error struct {
	Path   string
	Reason string
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Path, e.Reason) }

// Unwrap makes errors.Is(err, ErrInvalidRule) hold.
func (e *Error) Unwrap() error { return ErrInvalidRule }

func errAt(path, format string, args ...any) error {
	return &Error{Path: path, Reason: fmt.Sprintf(format, args...)}
}
