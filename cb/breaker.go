package cb

import (
	"errors"
	"time"

	"go.uber.org/atomic"

	"github.com/tripswitch/tripswitch/cb/internal/clock"
	"github.com/tripswitch/tripswitch/cb/internal/ring"
)

// Breaker is a circuit breaker for calls returning a T. Make one with New
// per dependency and share it: every method is safe for concurrent use,
// and none of Execute, ExecuteContext, Allow or Permit.Done takes a lock or
// allocates. The zero Breaker is not usable.
//
// Its methods that do not involve T (State, Metrics, the Force methods,
// Reset, Name) come from an embedded non-generic core, where the hot path
// also lives: the compiler inlines small functions into ordinary code but
// not calls through a generic type's dictionary.
type Breaker[T any] struct {
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
	// were emptied, <<1, with bit 0 set while a clear is under way (see
	// clearFor).
	cleared atomic.Uint64
	// succMark is the lifetime success count (see markSuccesses) at the last
	// failure or clear: ConsecutiveSuccesses is the lifetime count minus it.
	succMark atomic.Uint64
	// probes counts the outcomes of half-open probes by kind. They are
	// lifetime totals but never window contents: a probe's add can land
	// after the closing probe has emptied the window, and must not
	// reappear in it. Probes are rare, so the counters are not striped.
	probes [4]atomic.Uint64
	meta   meta

	name     string
	s        settings
	clock    Clock
	coarse   *CoarseClock // Clock, when it is one, called without an interface
	sums     *ring.Stripes
	tw       *ring.TimeWindow
	cw       *ring.CountWindow
	openErr  *OpenError
	probeErr *OpenError

	// closingHook, when set (by tests only), runs between the CAS that
	// closes the breaker and the completion of the close.
	closingHook func()
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
		name:  name,
		s:     s,
		clock: cfg.Clock,
		sums:  ring.NewStripes(),
	}}
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
	if s.windowCalls > 0 {
		b.cw = ring.NewCountWindow(b.sums, s.windowCalls)
	} else {
		b.tw = ring.NewTimeWindow(b.sums, s.width, s.buckets, now)
	}
	b.meta.publish(0, now, endOfTime)
	return b, nil
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

// record counts an outcome of kind k ending at now in the window.
func (b *core) record(now time.Duration, k ring.Kind) {
	if b.tw != nil {
		b.tw.Record(now, k)
	} else {
		b.cw.Record(k)
	}
}

// window returns the window's counts and the lifetime sums of counted
// closed-state outcomes as of now.
// They are written through pointers, not returned: see ring.Stripes.SumTo.
func (b *core) window(now time.Duration, window, sums *ring.Counts) {
	if b.tw != nil {
		b.tw.Snapshot(now, window, sums)
	} else {
		b.cw.Snapshot(window, sums)
	}
}

// probeTotals returns the lifetime counts of probe outcomes.
func (b *core) probeTotals() ring.Counts {
	var c ring.Counts
	for k := range c {
		c[k] = b.probes[k].Load()
	}
	return c
}

// markSuccesses restarts ConsecutiveSuccesses: it stores the lifetime
// count of counted successes, given sums, the closed-state ones (probe
// successes are in the streak too, so a breaker forced open from
// half-open still shows them). A nil sums is summed here.
func (b *core) markSuccesses(sums *ring.Counts) {
	if sums == nil {
		sums = new(ring.Counts)
		b.sums.SumTo(sums)
	}
	b.succMark.Store(sums.Successes() + b.probes[ring.Success].Load() + b.probes[ring.SlowSuccess].Load())
}

// streakAdd counts a failure in the streak of w's closed generation and
// returns the new count, or 0 when the streak already belongs to a newer
// generation (the call outlived its own).
func (b *core) streakAdd(w word) uint64 {
	tag := streakOf(w)
	for {
		s := b.streak.Load()
		n := s & maxStreak
		switch {
		case s&^maxStreak != tag:
			return 0
		case n == maxStreak:
			return n
		case b.streak.CompareAndSwap(s, s+1):
			return n + 1
		}
	}
}

// streakEnd ends the failure streak s, read by a success of w's closed
// generation, if it is that generation's. A success racing a failure may
// lose its CAS: then the failure came after it.
func (b *core) streakEnd(w word, s uint64) {
	if s&^maxStreak == streakOf(w) {
		b.streak.CompareAndSwap(s, streakOf(w))
	}
}

// probeStreak counts a probe's outcome in the failure streak, which runs
// on from the closed generation that tripped: a failure adds one, a
// success ends it.
func (b *core) probeStreak(failed bool) {
	for {
		s := b.streak.Load()
		next := s &^ maxStreak
		if failed {
			next = s + 1
			if s&maxStreak == maxStreak {
				return
			}
		}
		if next == s || b.streak.CompareAndSwap(s, next) {
			return
		}
	}
}
