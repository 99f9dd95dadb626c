package registry

import (
	"errors"
	"fmt"
	"time"

	"github.com/tripswitch/tripswitch/cb"
)

// ErrInvalidOption matches, with errors.Is, the error of NewChecked (and
// the value New panics with) for an option given a value it cannot take.
var ErrInvalidOption = errors.New("tripswitch: registry: invalid option")

// Option bounds a Registry made by New or NewChecked. A nil Option is
// skipped; of two options setting the same thing, the later wins.
type Option func(*bounds) error

// bounds is what the options set. Its zero value is no bound at all.
type bounds struct {
	maxBreakers int
	idle        time.Duration
	clock       cb.Clock
}

// WithMaxBreakers bounds the registry to n breakers, n > 0. A Get that
// would make breaker n+1 first evicts idle breakers (see WithIdleTimeout);
// if none can go, it fails with an error matching ErrFull and makes
// nothing.
//
// Without WithIdleTimeout nothing is ever evicted, so n is a hard cap:
// once n names are taken, new names are refused until some are Removed.
func WithMaxBreakers(n int) Option {
	return func(b *bounds) error {
		if n <= 0 {
			return fmt.Errorf("%w: WithMaxBreakers(%d): the bound must be positive", ErrInvalidOption, n)
		}
		b.maxBreakers = n
		return nil
	}
}

// WithIdleTimeout lets a full registry evict a breaker that has been idle
// for at least d, d > 0, and is healthy; see the package doc for what
// counts as idle and as healthy, and when eviction runs. It needs
// WithMaxBreakers: an unbounded registry never evicts.
func WithIdleTimeout(d time.Duration) Option {
	return func(b *bounds) error {
		if d <= 0 {
			return fmt.Errorf("%w: WithIdleTimeout(%v): the timeout must be positive", ErrInvalidOption, d)
		}
		b.idle = d
		return nil
	}
}

// WithClock sets the clock that times idleness; nil, the default, means
// the real monotonic clock. It is the registry's own: each breaker keeps
// timing its calls with its Config.Clock. Tests pass a cbtest.Clock to
// decide exactly when a breaker has been idle long enough.
func WithClock(c cb.Clock) Option {
	return func(b *bounds) error {
		b.clock = c
		return nil
	}
}

// New returns an empty Registry bounded as opts say; with no options it is
// unbounded, like the zero Registry and Default.
//
// New panics, with an error matching ErrInvalidOption, if an option is
// invalid: options are usually constants, and a wrong one is a bug to fail
// on at start-up. Use NewChecked for values read from configuration.
func New(opts ...Option) *Registry {
	r, err := NewChecked(opts...)
	if err != nil {
		panic(err)
	}
	return r
}

// NewChecked is New for options whose values are not known to be valid:
// it returns an error matching ErrInvalidOption, naming every fault,
// instead of panicking.
func NewChecked(opts ...Option) (*Registry, error) {
	var b bounds
	var errs []error
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&b); err != nil {
			errs = append(errs, err)
		}
	}
	if b.idle > 0 && b.maxBreakers == 0 && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("%w: WithIdleTimeout without WithMaxBreakers: an unbounded registry never evicts", ErrInvalidOption))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	r := &Registry{maxBreakers: b.maxBreakers, idle: b.idle, clock: b.clock}
	if r.clock == nil {
		r.clock = monotonic{}
	}
	return r, nil
}

// monotonic is the real clock, as durations since the process began
// using this package: time.Since reads the monotonic clock.
type monotonic struct{}

var epoch = time.Now()

// Now returns the time since epoch.
func (monotonic) Now() time.Duration { return time.Since(epoch) }
