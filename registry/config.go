package registry

import (
	"github.com/tripswitch/tripswitch/cb"
)

// The helpers below spell every field of cb.Config out rather than walk
// it with reflect: Get runs them on every call for an existing name, and
// boxing a Config for reflect would allocate there. A test walks the
// fields with reflect instead, so a field added to cb.Config and forgotten
// here fails it.

// isZeroConfig reports whether c is the zero Config, the one that accepts
// any existing breaker. (Config is not comparable with ==: it has func
// fields.)
func isZeroConfig(c *cb.Config) bool {
	return c.Window == 0 && c.Buckets == 0 && c.WindowCalls == 0 &&
		c.MinimumCalls == 0 && c.FailureRateThreshold == 0 &&
		c.ConsecutiveFailures == 0 && c.SlowCallDuration == 0 &&
		c.SlowCallRateThreshold == 0 && c.OpenTimeout == 0 &&
		c.MaxOpenTimeout == 0 && c.SuccessThreshold == 0 &&
		c.HalfOpenMaxCalls == 0 && c.HalfOpenTimeout == 0 && !c.Shadow &&
		c.IsFailure == nil && c.IsIgnored == nil && c.TripRule == nil &&
		c.OnStateChange == nil && c.Clock == nil
}

// configDiff returns the names of the value fields (durations, counts,
// rates and Shadow) in which a and b differ, in declaration order; nil when they
// agree. It allocates only when they differ.
//
// IsFailure, IsIgnored, TripRule, OnStateChange and Clock are left out on
// purpose.
// Go can compare neither funcs nor every Clock (a struct holding a func
// panics under ==), and what reflect can say of a func (its code address)
// changes with what the compiler inlined: a comparison of them would make
// a conflict depend on the build. A caller that passes its Config on every
// Get, as cbhttp.Transport does, must never conflict with itself.
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
	check(a.Shadow == b.Shadow, "Shadow")
	return diff
}
