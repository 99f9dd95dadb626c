package cb

import (
	"errors"
	"sync"
	"time"

	"go.uber.org/atomic"

	"github.com/tripswitch/tripswitch/cb/internal/clock"
	"github.com/tripswitch/tripswitch/cb/internal/ring"
	"github.com/tripswitch/tripswitch/internal/fanout"
)

// Breaker is a circuit breaker for calls returning a T. Make one with New
// per dependency and share it: every method is safe for concurrent use,
// and none of Execute, Call, ExecuteContext, Allow or Permit.Done takes a
// lock or allocates. The zero Breaker is not usable.
type Breaker[T any] struct {
	// The methods that do not involve T (State, Metrics, the Force
	// methods, Reset, Name) and the hot path live in the non-generic core:
	// the compiler inlines small functions into ordinary code, not into
	// calls through a generic type's dictionary.
	core
	classifier func(T, error) Outcome
}

// core is everything of a breaker that does not depend on T.
type core struct {
	// w is the state word (see word). It is read on every call and written
	// only on transitions and probe permits.
	w atomic.Uint64
	_ [120]byte
	// streak is the failure streak: the closed generation it belongs to
	// and a count (see streakOf). Successes reset it only when it is not
	// already empty, so a healthy stream never writes it.
	streak atomic.Uint64
	_      [120]byte
	// cleared is the generation of the last close whose window and streak
	// were emptied, <<1, with bit 0 set while a clear, or the publishing
	// of a policy, is under way (see clearFor and publishPolicy).
	cleared atomic.Uint64
	// successBase is the lifetime success count (see markSuccesses) at
	// the last failure or close: ConsecutiveSuccesses is the lifetime
	// count minus it.
	successBase atomic.Uint64
	// probes counts the outcomes of half-open probes by kind. They are
	// lifetime totals but never window contents: a probe's add can land
	// after the closing probe has emptied the window, and must not
	// reappear in it. Probes are rare, so the counters are not striped.
	probes [4]atomic.Uint64
	dates  dates
	// transitions counts the changes told to listeners, by reason (each
	// reason has one destination state), so that a change shorter than
	// the time between two scrapes still shows.
	transitions [numReasons]atomic.Uint64
	listeners   fanout.Set[Transition]
	created     time.Time // wall clock, for exporters' created timestamps

	name string
	// pol is the policy in force. Reconfigure replaces it whole, so a
	// call that loads it once sees one policy throughout, never a mix.
	pol      atomic.Pointer[policy]
	clock    Clock
	coarse   *CoarseClock  // Clock, when it is one, called without an interface
	counters *ring.Stripes // cumulative outcome and tally counters; the windows are differences of them
	openErr  *OpenError
	probeErr *OpenError
	// fleet is the rest of the fleet's window, when a sharer has given
	// one (see FleetLink); every close removes it.
	fleet atomic.Pointer[FleetWindow]
	// holdProbes keeps an open breaker whose open time is over from
	// probing until granted holds its generation+1 (see FleetLink).
	holdProbes atomic.Bool
	granted    atomic.Uint64
	// reconfiguring serialises Reconfigures, so that the listener set
	// ends with the listener of the policy that ends in force.
	reconfiguring sync.Mutex

	// closingHook, when set (by tests only), runs between the CAS that
	// closes the breaker and the completion of the close.
	closingHook func()
}

// policy is everything Config decides, immutable once published: the
// resolved settings, the window they count in, and the Config as given.
type policy struct {
	// Exactly one window is set. It comes first: the end of every call
	// reads it.
	tw *ring.TimeWindow
	cw *ring.CountWindow
	settings
	cfg Config // as given, with the breaker's Clock
}

// Option configures a Breaker[T] beyond Config, for what depends on T.
type Option[T any] func(*Breaker[T])

// WithClassifier lets the result decide the outcome: f alone classifies
// every call (IsFailure and IsIgnored are not asked), so a call returning a
// nil error can still fail. A Rejected (or unknown) Outcome from f counts
// as Failure. f must be safe for concurrent use.
func WithClassifier[T any](f func(T, error) Outcome) Option[T] {
	return func(b *Breaker[T]) { b.classifier = f }
}

// New returns a closed breaker named name with the policy cfg. Every fault
// of cfg is reported, each naming the field and the value, in an error that
// matches ErrInvalidConfig.
func New[T any](name string, cfg Config, opts ...Option[T]) (*Breaker[T], error) {
	s, err := cfg.resolve()
	if name == "" {
		err = errors.Join(&ConfigError{Field: "name", Value: name, Reason: "must not be empty (it names the breaker in errors, events and reports)"}, err)
	}
	if err != nil {
		return nil, err
	}
	b := &Breaker[T]{core: core{
		name:     name,
		clock:    cfg.Clock,
		counters: ring.NewStripes(),
	}}
	b.created = time.Now()
	b.listeners.SetFirst(s.onStateChange)
	b.openErr = &OpenError{Name: name, State: Open, b: &b.core}
	b.probeErr = &OpenError{Name: name, State: HalfOpen, b: &b.core}
	if c, ok := cfg.Clock.(*CoarseClock); ok {
		b.coarse = c
	}
	for _, o := range opts {
		if o != nil {
			o(b)
		}
	}
	now := b.now()
	b.pol.Store(b.newPolicy(s, cfg, nil, now))
	b.dates.publish(0, now, endOfTime)
	return b, nil
}

// newPolicy returns the policy of s and cfg. It keeps the window of old
// when s counts the same way, and makes an empty one otherwise.
func (b *core) newPolicy(s settings, cfg Config, old *policy, now time.Duration) *policy {
	cfg.Clock = b.clock
	p := &policy{settings: s, cfg: cfg}
	switch {
	case old != nil && old.sameShape(&s):
		p.tw, p.cw = old.tw, old.cw
	case s.windowCalls > 0:
		p.cw = ring.NewCountWindow(b.counters, s.windowCalls)
	default:
		p.tw = ring.NewTimeWindow(b.counters, s.width, s.buckets, now)
	}
	return p
}

// MustNew is New for configs known to be valid, such as literals and
// presets; it panics with New's error otherwise.
func MustNew[T any](name string, cfg Config, opts ...Option[T]) *Breaker[T] {
	b, err := New[T](name, cfg, opts...)
	if err != nil {
		panic(err)
	}
	return b
}

// Name returns the name the breaker was made with.
func (b *core) Name() string { return b.name }

// Created returns when the breaker was made, by the wall clock, for
// exporters' created timestamps. It is not in Metrics, which is a function
// of Config.Clock alone (and so exact under a fake clock).
func (b *core) Created() time.Time { return b.created }

// now reads the configured clock. A CoarseClock is read inline; the
// others cost a call, which their reading dwarfs.
func (b *core) now() time.Duration {
	if c := b.coarse; c != nil {
		return time.Duration(c.now.Load())
	}
	return b.readClock()
}

//go:noinline
func (b *core) readClock() time.Duration {
	if b.clock != nil {
		return b.clock.Now()
	}
	return clock.Now()
}

func (b *core) load() word { return word(b.w.Load()) }

func (b *core) cas(old, next word) bool {
	return b.w.CompareAndSwap(uint64(old), uint64(next))
}
