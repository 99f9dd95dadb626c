package registry

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"go.uber.org/atomic"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/internal/fanout"
)

// ErrTypeMismatch matches, with errors.Is, the error of a Get or Wrap whose
// name belongs to a breaker of another result type.
var ErrTypeMismatch = errors.New("tripswitch: registry: breaker has another result type")

// ErrConfigConflict matches, with errors.Is, the error of a Get or Wrap whose
// non-zero Config differs from the one the existing breaker of that name
// was made with, or was given by the last Reconfigure.
var ErrConfigConflict = errors.New("tripswitch: registry: breaker exists with another config")

// ErrInvalidName matches, with errors.Is, the error of a Get or Wrap whose
// name cannot name a breaker: the empty name, which no report could tell
// apart, or one that is not valid UTF-8. The reports key breakers by name
// in JSON, which replaces every invalid byte with U+FFFD, so two such
// names could come out as one key: operators would see one breaker where
// there are two.
var ErrInvalidName = errors.New("tripswitch: registry: invalid breaker name")

// ErrNotFound matches, with errors.Is, the error of a Reconfigure of a
// name the registry does not hold.
var ErrNotFound = errors.New("tripswitch: registry: no such breaker")

// ErrFull matches, with errors.Is, the error of a Get or Wrap of a new
// name in a registry that holds WithMaxBreakers breakers of which none
// could be evicted. Nothing is made; the existing names work as before.
var ErrFull = errors.New("tripswitch: registry: full")

// Registry holds named breakers of any result type. The zero Registry is
// empty, unbounded and ready to use; it must not be copied after first
// use.
type Registry struct {
	// mu serialises the making of breakers, so that one name never gets
	// two and a bounded registry never exceeds its bound. Reads and
	// removals do not take it.
	mu      sync.Mutex
	entries sync.Map // name -> *entry
	// count is the number of entries. It grows under mu and shrinks
	// without it (Remove, eviction), so under mu it is never below the
	// number of entries.
	count atomic.Int64

	// The bounds, fixed by New; zero (and clock nil) when unbounded.
	maxBreakers int
	idle        time.Duration
	clock       cb.Clock

	// sweepMu serialises sweeps and guards the fields marked with it here
	// and in entry. It is not mu: a sweep reads every breaker, which may
	// run their OnStateChange listeners, and a listener's own Get must
	// not find the registry locked.
	sweepMu   sync.Mutex
	swept     bool          // sweepMu: a sweep has run
	lastSweep time.Duration // sweepMu: when the last sweep ran

	evicted atomic.Uint64
	refused atomic.Uint64

	// listeners hear the transitions of every breaker the registry makes:
	// each breaker is subscribed to tell them when it is made.
	listeners fanout.Set[cb.Transition]
}

// entry is one registered breaker with what a later Get checks against.
// The Config a Get compares is the breaker's own (cb.Breaker.Config): the
// one it was made with, or given by the last Reconfigure.
type entry struct {
	// circuit is the *cb.Breaker[T]; Get recovers T by type assertion.
	circuit cb.Circuit
	// typ is T, kept only to name it in a mismatch error.
	typ reflect.Type

	// got is set by a Get that returns the breaker from a registry that
	// evicts, and cleared by the sweep that sees it. It is stored only
	// when it changes, so a hot name's Gets share its cache line read-only.
	got atomic.Bool
	// seen is when the registry last saw the breaker in use (made, got, or
	// with totals moved) and activity is the sum of its totals then. They
	// are set before the entry is published, and after that only by sweeps
	// (sweepMu).
	seen     time.Duration
	activity uint64
}

var defaultRegistry Registry

// Default returns the process-wide Registry, which is unbounded. Prefer
// passing a *Registry where you can: names in Default are shared by every
// package of the program, tests included.
func Default() *Registry { return &defaultRegistry }

// Get returns the breaker named name, making it with cfg and opts if the
// registry has none. The name must be non-empty valid UTF-8, or Get fails
// with an error matching ErrInvalidName.
//
// For an existing name, Get takes no lock. It fails with an error matching
// ErrTypeMismatch if the breaker's result type is not T, and with one
// matching ErrConfigConflict if cfg is non-zero and one of its value
// fields differs from the breaker's Config in force: the one it was made
// with, or given by the last Reconfigure (see the package doc for how
// Configs compare); a zero cfg accepts whatever config the breaker has.
// opts apply only when the breaker is made.
//
// When Get makes the breaker, an invalid cfg fails with cb.New's error
// (matching cb.ErrInvalidConfig) and nothing is registered. A bounded
// registry that is full first evicts what it may (see the package doc);
// if that frees no room, Get fails with an error matching ErrFull.
func Get[T any](r *Registry, name string, cfg cb.Config, opts ...cb.Option[T]) (*cb.Breaker[T], error) {
	if v, ok := r.entries.Load(name); ok {
		return existing[T](r, asEntry(v), name, &cfg)
	}
	if err := checkName(name); err != nil {
		return nil, err
	}
	return makeNew(r, name, cfg, opts)
}

// makeNew is Get for a name it did not find.
func makeNew[T any](r *Registry, name string, cfg cb.Config, opts []cb.Option[T]) (*cb.Breaker[T], error) {
	r.mu.Lock()
	if v, ok := r.entries.Load(name); ok { // made while we waited for the lock
		r.mu.Unlock()
		return existing[T](r, asEntry(v), name, &cfg)
	}
	if r.full() {
		r.mu.Unlock() // see sweepMu
		r.sweep()
		r.mu.Lock()
		if v, ok := r.entries.Load(name); ok {
			r.mu.Unlock()
			return existing[T](r, asEntry(v), name, &cfg)
		}
		if r.full() {
			r.mu.Unlock()
			r.refused.Inc()
			return nil, fmt.Errorf("%w: %s not made: %d breakers, none idle and healthy",
				ErrFull, strconv.Quote(name), r.maxBreakers)
		}
	}
	defer r.mu.Unlock()
	b, err := cb.New[T](name, cfg, opts...)
	if err != nil {
		return nil, err
	}
	b.Subscribe(r.listeners.Tell)
	e := &entry{circuit: b, typ: reflect.TypeFor[T]()}
	if r.idle > 0 {
		e.seen = r.clock.Now()
	}
	r.entries.Store(name, e)
	r.count.Inc()
	return b, nil
}

// existing checks a Get of a registered name against its entry, and notes
// the use when it hands the breaker out.
func existing[T any](r *Registry, e *entry, name string, cfg *cb.Config) (*cb.Breaker[T], error) {
	b, ok := e.circuit.(*cb.Breaker[T])
	if !ok {
		return nil, fmt.Errorf("%w: %s is a *cb.Breaker[%v], not a *cb.Breaker[%v]",
			ErrTypeMismatch, strconv.Quote(name), e.typ, reflect.TypeFor[T]())
	}
	if !isZeroConfig(cfg) {
		cur := b.Config()
		if diff := configDiff(&cur, cfg); len(diff) > 0 {
			return nil, fmt.Errorf("%w: %s was made with other values of %s",
				ErrConfigConflict, strconv.Quote(name), strings.Join(diff, ", "))
		}
	}
	if r.idle > 0 && !e.got.Load() {
		e.got.Store(true)
	}
	return b, nil
}

// checkName returns the error of a name no breaker may have.
func checkName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: the name must not be empty", ErrInvalidName)
	}
	if !utf8.ValidString(name) {
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalidName, strconv.Quote(name))
	}
	return nil
}

// full reports, under mu, whether making a breaker would pass the bound.
func (r *Registry) full() bool {
	return r.maxBreakers > 0 && r.count.Load() >= int64(r.maxBreakers)
}

// sweepDivisor sets how often a full registry sweeps: at most once every
// IdleTimeout/sweepDivisor. Between sweeps a Get of a new name in a full
// registry fails at once, so the cost of a sweep (a read of every breaker)
// is shared by all the Gets of that interval, at the price of refusing
// for up to that long a name that a sweep could have made room for.
const sweepDivisor = 16

// sweep evicts every breaker that is idle and healthy (see evictable),
// unless a sweep ran less than idle/sweepDivisor ago or another is
// running: the caller does not wait for that one.
func (r *Registry) sweep() {
	if r.idle <= 0 || !r.sweepMu.TryLock() {
		return
	}
	defer r.sweepMu.Unlock()
	now := r.clock.Now()
	if r.swept && now-r.lastSweep < r.idle/sweepDivisor {
		return
	}
	r.swept, r.lastSweep = true, now
	r.entries.Range(func(k, v any) bool {
		e := asEntry(v)
		if r.evictable(e, now) && r.entries.CompareAndDelete(k, v) {
			r.count.Dec()
			r.evicted.Inc()
		}
		return true
	})
}

// evictable reports, under sweepMu, whether e may go: unused since the
// registry last saw it in use, at least idle ago, and healthy, so that
// evicting it forgets nothing a fresh breaker would not know. A breaker
// seen in use now starts its idle time anew.
func (r *Registry) evictable(e *entry, now time.Duration) bool {
	m := e.circuit.Metrics()
	activity := m.TotalCalls + m.TotalRejected + m.TotalIgnored + m.TotalStale
	if e.got.Load() || activity != e.activity {
		e.got.Store(false)
		e.seen, e.activity = now, activity
		return false
	}
	return now-e.seen >= r.idle &&
		m.State == cb.Closed && !m.Forced &&
		m.Failures == 0 && m.SlowCalls == 0 && m.ConsecutiveFailures == 0
}

// Lookup returns the breaker named name as a cb.Circuit, for code that
// manages it without knowing its result type.
func (r *Registry) Lookup(name string) (cb.Circuit, bool) {
	v, ok := r.entries.Load(name)
	if !ok {
		return nil, false
	}
	return asEntry(v).circuit, true
}

// Reconfigure gives the breaker named name the policy cfg, as
// cb.Breaker.Reconfigure does (see there for what the breaker keeps and
// when a window starts empty), and fails with its error (matching
// cb.ErrInvalidConfig) when cfg is invalid, changing nothing, or with one
// matching ErrNotFound when the registry holds no such breaker.
//
// From then on a Get of the name compares its Config with cfg: a Get with
// cfg's values no longer conflicts, and one with the values the breaker
// was made with now does (see the package doc). So code that Gets the
// breaker with a non-zero Config of its own, such as a cbhttp.Transport,
// fails with ErrConfigConflict once an operator reconfigures that breaker
// otherwise; give such code the new Config too, or have it Get with a
// zero Config.
//
// cfg is the whole policy: its IsFailure, IsIgnored, TripRule and
// OnStateChange replace the breaker's (nil means none, or the default).
// To change only some values, start from the breaker's own Config:
//
//	c, _ := reg.Lookup("payments")
//	cfg := c.Config()
//	cfg.Shadow = false
//	err := reg.Reconfigure("payments", cfg)
func (r *Registry) Reconfigure(name string, cfg cb.Config) error {
	v, ok := r.entries.Load(name)
	if !ok {
		return fmt.Errorf("%w: %s", ErrNotFound, strconv.Quote(name))
	}
	return asEntry(v).circuit.Reconfigure(cfg)
}

// Names returns the registered names in ascending order.
func (r *Registry) Names() []string {
	var names []string
	r.each(func(name string, _ cb.Circuit) { names = append(names, name) })
	slices.Sort(names)
	return names
}

// Remove takes the breaker named name out of the registry and reports
// whether there was one. The breaker itself keeps working for whoever
// holds it; a later Get of name makes a fresh one. Remove works whatever
// the breaker's state, and its room in a bounded registry is free at once.
func (r *Registry) Remove(name string) bool {
	_, ok := r.entries.LoadAndDelete(name)
	if ok {
		r.count.Dec()
	}
	return ok
}

// ResetAll resets every registered breaker (see cb.Breaker.Reset): closed,
// with empty windows, lifetime totals kept.
func (r *Registry) ResetAll() {
	r.each(func(_ string, c cb.Circuit) { c.Reset() })
}

// AllMetrics returns a snapshot of every registered breaker, by name.
func (r *Registry) AllMetrics() map[string]cb.Metrics {
	all := make(map[string]cb.Metrics)
	r.each(func(name string, c cb.Circuit) { all[name] = c.Metrics() })
	return all
}

// OpenCircuits returns, in ascending order, the names of the breakers that
// are open now. Half-open breakers are not included: they are already
// probing their dependency.
func (r *Registry) OpenCircuits() []string {
	var open []string
	r.each(func(name string, c cb.Circuit) {
		if c.State() == cb.Open {
			open = append(open, name)
		}
	})
	slices.Sort(open)
	return open
}

// Health counts the registered breakers by state, and those a bounded
// registry has evicted or refused to make. The breakers are counted one
// after another: while others are made and removed, the counts may mix
// names from before and after a change (a bounded registry holds at most
// its bound at any instant, but a count taken during removals can pass
// it by the number removed meanwhile).
func (r *Registry) Health() Health {
	var h Health
	r.each(func(_ string, c cb.Circuit) { h.add(c.State()) })
	r.finish(&h)
	return h
}

// each calls f for every registered breaker, in no particular order.
func (r *Registry) each(f func(name string, c cb.Circuit)) {
	r.entries.Range(func(k, v any) bool {
		name, _ := k.(string)
		f(name, asEntry(v).circuit)
		return true
	})
}

// asEntry converts a value of the map, which holds only *entry.
func asEntry(v any) *entry {
	e, _ := v.(*entry)
	return e
}

// Health summarises the states of a registry's breakers.
type Health struct {
	Total    int `json:"total"`
	Closed   int `json:"closed"`
	Open     int `json:"open"`
	HalfOpen int `json:"half_open"`
	// HealthyPercent is the share of breakers not open, from 0 to 100:
	// (Total-Open)/Total*100, and 100 for an empty registry, which has
	// nothing failing. It is computed as (Total-Open)*100/Total, rounded
	// once, so that 2 healthy of 3 equals the constant 200.0/3.
	HealthyPercent float64 `json:"healthy_percent"`
	// Evicted is how many breakers a bounded registry has evicted in its
	// life, and Refused how many Gets of a new name it failed with ErrFull
	// (a cbhttp.Transport sends such requests without a breaker). Both
	// stay 0 in an unbounded registry. A Refused that grows says the bound
	// is too small for the names in use, or that the registry is full of
	// failing breakers.
	Evicted uint64 `json:"evicted"`
	Refused uint64 `json:"refused"`
}

func (h *Health) add(s cb.State) {
	h.Total++
	switch s {
	case cb.Closed:
		h.Closed++
	case cb.Open:
		h.Open++
	case cb.HalfOpen:
		h.HalfOpen++
	}
}

// finish completes a Health whose breakers have been added.
func (r *Registry) finish(h *Health) {
	h.HealthyPercent = 100
	if h.Total > 0 {
		h.HealthyPercent = float64(h.Total-h.Open) * 100 / float64(h.Total)
	}
	h.Evicted, h.Refused = r.evicted.Load(), r.refused.Load()
}
