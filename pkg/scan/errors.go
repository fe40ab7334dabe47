package scan

import (
	"errors"
	"fmt"
)

// Sentinel errors that format scanners wrap. Callers test them with errors.Is.
var (
	// ErrMalformed: the content claims to be a format but breaks its rules.
	ErrMalformed = errors.New("malformed")
	// ErrLimit: a resource limit was hit before the content was read
	// completely. A *LimitError says which one.
	ErrLimit = errors.New("resource limit exceeded")
	// ErrUnsupported: the content is not a format the scanner knows.
	ErrUnsupported = errors.New("unsupported format")
)

// Malformedf returns an error wrapping ErrMalformed.
func Malformedf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// LimitError names the limit that was hit.
type LimitError struct {
	Limit string // the flag name of the limit, e.g. "max-memo"
	Max   int64  // the limit's value
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("%s: %s (%d)", ErrLimit, e.Limit, e.Max)
}

// Is makes errors.Is(err, ErrLimit) true.
func (e *LimitError) Is(target error) bool { return target == ErrLimit }
