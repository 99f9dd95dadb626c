package registry

import (
	"reflect"

	"github.com/tripswitch/tripswitch/cb"
)

// The helpers below spell every field of cb.Config out rather than walk
// it with reflect: Get runs isZeroConfig on every call for an existing
// name, and boxing a Config for reflect would allocate there. A test walks
// the fields with reflect instead, so a field added to cb.Config and
// forgotten here fails it.

// isZeroConfig reports whether c is the zero Config, the one that accepts
// any existing breaker. (Config is not comparable with ==: it has func
// fields.)
func isZeroConfig(c *cb.Config) bool {
	return c.Window == 0 && c.Buckets == 0 && c.WindowCalls == 0 &&
		c.MinimumCalls == 0 && c.FailureRateThreshold == 0 &&
		c.ConsecutiveFailures == 0 && c.SlowCallDuration == 0 &&
		c.SlowCallRateThreshold == 0 && c.OpenTimeout == 0 &&
		c.MaxOpenTimeout == 0 && c.SuccessThreshold == 0 &&
		c.HalfOpenMaxCalls == 0 && c.HalfOpenTimeout == 0 &&
		c.IsFailure == nil && c.IsIgnored == nil && c.OnStateChange == nil &&
		c.Clock == nil
}

// configDiff returns the names of the fields in which a and b differ, in
// declaration order; nil when they are the same config. It allocates only
// when they differ.
func configDiff(a, b *cb.Config) []string {
	var diff []string
	check := func(same bool, field string) {
		if !same {
			diff = append(diff, field)
		}
	}
	check(a.Window == b.Window, "Window")
	check(a.Buckets == b.Buckets, "Buckets")
	check(a.WindowCalls == b.WindowCalls, "WindowCalls")
	check(a.MinimumCalls == b.MinimumCalls, "MinimumCalls")
	check(a.FailureRateThreshold == b.FailureRateThreshold, "FailureRateThreshold")
	check(a.ConsecutiveFailures == b.ConsecutiveFailures, "ConsecutiveFailures")
	check(a.SlowCallDuration == b.SlowCallDuration, "SlowCallDuration")
	check(a.SlowCallRateThreshold == b.SlowCallRateThreshold, "SlowCallRateThreshold")
	check(a.OpenTimeout == b.OpenTimeout, "OpenTimeout")
	check(a.MaxOpenTimeout == b.MaxOpenTimeout, "MaxOpenTimeout")
	check(a.SuccessThreshold == b.SuccessThreshold, "SuccessThreshold")
	check(a.HalfOpenMaxCalls == b.HalfOpenMaxCalls, "HalfOpenMaxCalls")
	check(a.HalfOpenTimeout == b.HalfOpenTimeout, "HalfOpenTimeout")
	check(sameFunc(a.IsFailure, b.IsFailure), "IsFailure")
	check(sameFunc(a.IsIgnored, b.IsIgnored), "IsIgnored")
	check(sameFunc(a.OnStateChange, b.OnStateChange), "OnStateChange")
	check(sameClock(a.Clock, b.Clock), "Clock")
	return diff
}

// sameFunc compares functions by their code: Go cannot compare func values,
// and what a closure captures is out of reach, so closures made by one
// function literal are the same function here. (Where the compiler inlines
// the function holding the literal, each inlined copy has its own code, so
// such closures can differ.) Two nils are the same.
func sameFunc[F any](f, g F) bool {
	return reflect.ValueOf(f).Pointer() == reflect.ValueOf(g).Pointer()
}

// sameClock compares clocks with == where their dynamic type allows it.
// Funcs, maps and slices (a clock type can be any of them) compare by
// identity; anything else == cannot compare (a struct holding a slice,
// or an interface holding one) counts as different.
func sameClock(a, b cb.Clock) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	t := reflect.TypeOf(a)
	if t != reflect.TypeOf(b) {
		return false
	}
	switch t.Kind() {
	case reflect.Func, reflect.Map:
		return reflect.ValueOf(a).Pointer() == reflect.ValueOf(b).Pointer()
	case reflect.Slice:
		// Two slices can share their first element and differ in length.
		va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
		return va.Pointer() == vb.Pointer() && va.Len() == vb.Len()
	default:
		return t.Comparable() && equal(a, b)
	}
}

// equal is a == b, false where == panics: a comparable struct type can
// still hold an interface whose dynamic value is not comparable.
func equal(a, b any) (eq bool) {
	defer func() {
		if recover() != nil {
			eq = false
		}
	}()
	return a == b
}
