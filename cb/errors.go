package cb

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// ErrOpen matches, with errors.Is, every error of a call the breaker
// rejected (its concrete type is *OpenError).
var ErrOpen = errors.New("tripswitch: circuit open")

// ErrInvalidConfig matches, with errors.Is, every error New returns for a
// bad Config (each is a *ConfigError, joined when there are several).
var ErrInvalidConfig = errors.New("tripswitch: invalid config")

// OpenError is the error of a rejected call. A breaker preallocates one per
// state it rejects in, so rejecting allocates nothing; treat it as
// read-only.
type OpenError struct {
	Name  string // the breaker's name
	State State  // Open, or HalfOpen when every probe permit was taken

	b *core // the breaker that rejected, for RetryAfter
}

// RetryAfter returns, as of now, the time until the breaker that made the
// error may admit a probe: the open time left, or 0 when it may admit one
// already or when it was forced open (only a person or a program acting
// on it will reopen it). The error is shared by all of a breaker's
// rejections, so the answer is read from the breaker when asked; asked
// right after the rejection, it is the CallResult.RetryAfter that Execute
// would have given. An OpenError made by hand answers 0.
func (e *OpenError) RetryAfter() time.Duration {
	if e.b == nil {
		return 0
	}
	now := e.b.now()
	p := e.b.pol.Load()
	w := e.b.catchUp(now, p)
	if w.state() != Open {
		return 0
	}
	return e.b.retryAfter(p, w, now)
}

// Error describes the rejection.
func (e *OpenError) Error() string {
	if e.State == HalfOpen {
		return "tripswitch: circuit " + strconv.Quote(e.Name) + " is half-open and its probes are taken"
	}
	return "tripswitch: circuit " + strconv.Quote(e.Name) + " is open"
}

// Is makes errors.Is(err, ErrOpen) true.
func (e *OpenError) Is(target error) bool { return target == ErrOpen }

// ConfigError names one field of a Config that New rejected, with its
// value and the rule it breaks.
type ConfigError struct {
	Field  string
	Value  any
	Reason string
}

// Error names the field, its value and the reason.
func (e *ConfigError) Error() string {
	return fmt.Sprintf("tripswitch: invalid config: %s = %v: %s", e.Field, e.Value, e.Reason)
}

// Is makes errors.Is(err, ErrInvalidConfig) true.
func (e *ConfigError) Is(target error) bool { return target == ErrInvalidConfig }
