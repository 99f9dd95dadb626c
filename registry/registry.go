package registry

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/tripswitch/tripswitch/cb"
)

// ErrTypeMismatch matches, with errors.Is, the error of a Get or Wrap whose
// name belongs to a breaker of another result type.
var ErrTypeMismatch = errors.New("tripswitch: registry: breaker has another result type")

// ErrConfigConflict matches, with errors.Is, the error of a Get or Wrap whose
// non-zero Config differs from the one the existing breaker of that name
// was made with.
var ErrConfigConflict = errors.New("tripswitch: registry: breaker exists with another config")

// errEmptyName is the error of a Get with an empty name: a breaker without
// a name could not be told apart in any report.
var errEmptyName = errors.New("tripswitch: registry: breaker name must not be empty")

// Registry holds named breakers of any result type. The zero Registry is
// empty and ready to use; it must not be copied after first use.
type Registry struct {
	// mu serialises the making of breakers, so that one name never gets
	// two. Reads and removals do not take it.
	mu      sync.Mutex
	entries sync.Map // name -> *entry
}

// entry is one registered breaker with what a later Get checks against.
type entry struct {
	// circuit is the *cb.Breaker[T]; Get recovers T by type assertion.
	circuit cb.Circuit
	// typ is T, kept only to name it in a mismatch error.
	typ reflect.Type
	// cfg is the Config as written by the Get that made the breaker.
	cfg cb.Config
}

var defaultRegistry Registry

// New returns an empty Registry.
func New() *Registry { return new(Registry) }

// Default returns the process-wide Registry. Prefer passing a *Registry
// where you can: names in Default are shared by every package of the
// program, tests included.
func Default() *Registry { return &defaultRegistry }

// Get returns the breaker named name, making it with cfg and opts if the
// registry has none. The name must not be empty.
//
// For an existing name, Get takes no lock. It fails with an error matching
// ErrTypeMismatch if the breaker's result type is not T, and with one
// matching ErrConfigConflict if cfg is non-zero and differs from the
// Config the breaker was made with (see the package doc for how Configs
// compare); a zero cfg accepts whatever config the breaker has. opts apply
// only when the breaker is made.
//
// When Get makes the breaker, an invalid cfg fails with cb.New's error
// (matching cb.ErrInvalidConfig) and nothing is registered.
func Get[T any](r *Registry, name string, cfg cb.Config, opts ...cb.Option[T]) (*cb.Breaker[T], error) {
	if v, ok := r.entries.Load(name); ok {
		return existing[T](asEntry(v), name, &cfg)
	}
	if name == "" {
		return nil, errEmptyName
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if v, ok := r.entries.Load(name); ok { // made while we waited for the lock
		return existing[T](asEntry(v), name, &cfg)
	}
	b, err := cb.New[T](name, cfg, opts...)
	if err != nil {
		return nil, err
	}
	r.entries.Store(name, &entry{circuit: b, typ: reflect.TypeFor[T](), cfg: cfg})
	return b, nil
}

// existing checks a Get of a registered name against its entry.
func existing[T any](e *entry, name string, cfg *cb.Config) (*cb.Breaker[T], error) {
	b, ok := e.circuit.(*cb.Breaker[T])
	if !ok {
		return nil, fmt.Errorf("%w: %s is a *cb.Breaker[%v], not a *cb.Breaker[%v]",
			ErrTypeMismatch, strconv.Quote(name), e.typ, reflect.TypeFor[T]())
	}
	if isZeroConfig(cfg) {
		return b, nil
	}
	if diff := configDiff(&e.cfg, cfg); len(diff) > 0 {
		return nil, fmt.Errorf("%w: %s was made with other values of %s",
			ErrConfigConflict, strconv.Quote(name), strings.Join(diff, ", "))
	}
	return b, nil
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

// Names returns the registered names in ascending order.
func (r *Registry) Names() []string {
	var names []string
	r.each(func(name string, _ cb.Circuit) { names = append(names, name) })
	slices.Sort(names)
	return names
}

// Remove takes the breaker named name out of the registry and reports
// whether there was one. The breaker itself keeps working for whoever
// holds it; a later Get of name makes a fresh one.
func (r *Registry) Remove(name string) bool {
	_, ok := r.entries.LoadAndDelete(name)
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

// Health counts the registered breakers by state.
func (r *Registry) Health() Health {
	var h Health
	r.each(func(_ string, c cb.Circuit) { h.add(c.State()) })
	h.finish()
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

func (h *Health) finish() {
	h.HealthyPercent = 100
	if h.Total > 0 {
		h.HealthyPercent = float64(h.Total-h.Open) * 100 / float64(h.Total)
	}
}
