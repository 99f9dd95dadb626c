package cbtest

import (
	"math"
	"time"

	"go.uber.org/atomic"
)

// Clock is a fake monotonic clock. It starts at 0 and moves only by
// Advance and Set. The zero Clock is ready to use.
type Clock struct {
	now atomic.Int64
}

// NewClock returns a Clock reading 0.
func NewClock() *Clock { return &Clock{} }

// Now returns the current reading.
func (c *Clock) Now() time.Duration { return time.Duration(c.now.Load()) }

// Advance moves the clock forward by d and returns the new reading, which
// stops at the largest Duration rather than wrap. A
// negative d is a test bug: breakers assume time never goes back, so
// Advance panics rather than let a test pass on an impossible clock.
func (c *Clock) Advance(d time.Duration) time.Duration {
	if d < 0 {
		panic("cbtest: Clock.Advance with a negative duration")
	}
	for {
		cur := c.now.Load()
		next := cur + int64(d)
		if next < cur {
			next = math.MaxInt64 // the end of time: a reading never wraps
		}
		if c.now.CompareAndSwap(cur, next) {
			return time.Duration(next)
		}
	}
}

// Set moves the clock to the reading t, which must not be before the
// current one (Set panics otherwise, as Advance does).
func (c *Clock) Set(t time.Duration) {
	for {
		cur := c.now.Load()
		if int64(t) < cur {
			panic("cbtest: Clock.Set to an earlier reading")
		}
		if c.now.CompareAndSwap(cur, int64(t)) {
			return
		}
	}
}
