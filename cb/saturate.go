package cb

import (
	"math"
	"time"
)

// endOfTime is the latest reading a Duration holds. A deadline that would
// fall after it is clamped to it, and so never comes: an OpenTimeout of
// math.MaxInt64 holds a breaker open until someone acts.
const endOfTime = time.Duration(math.MaxInt64)

// addSat returns t+d for d >= 0, clamped to endOfTime.
func addSat(t, d time.Duration) time.Duration {
	if t > endOfTime-d {
		return endOfTime
	}
	return t + d
}

// subSat returns a-b clamped to the range of a Duration, so readings at
// the far ends of a clock's range still give an ordered difference.
func subSat(a, b time.Duration) time.Duration {
	switch {
	case b < 0 && a > endOfTime+b:
		return endOfTime
	case b > 0 && a < math.MinInt64+b:
		return math.MinInt64
	}
	return a - b
}

// due reports whether the deadline until has come at the reading now. A
// deadline at the end of time never comes, so that one saturated there
// holds even for a reading that reaches the end of time itself.
func due(now, until time.Duration) bool { return now >= until && until != endOfTime }
