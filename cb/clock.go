package cb

import (
	"sync"
	"time"

	"go.uber.org/atomic"

	"github.com/tripswitch/tripswitch/cb/internal/clock"
)

// Clock supplies monotonic readings: the time since some fixed origin.
// Readings may be negative (the real clock is inside a testing/synctest
// bubble) and must never decrease.
type Clock interface {
	Now() time.Duration
}

// CoarseClock is a Clock for hot paths: one goroutine stores the real
// monotonic reading every resolution, and Now is a single atomic load,
// far cheaper than a reading of the real clock.
//
// Its readings lag the real clock by up to one resolution, and so do the
// durations measured with it: a call shorter than the resolution may
// measure 0 or one resolution. Pick a resolution well below
// SlowCallDuration and the bucket width (1ms suits most services). Share
// one CoarseClock among all the breakers of a process; Stop it when done,
// after which its reading stays where it was.
type CoarseClock struct {
	now        atomic.Int64
	_          [120]byte // keep the ticker's store off its neighbours' line
	resolution time.Duration
	stop       chan struct{}
	done       chan struct{}
	once       sync.Once
}

// NewCoarseClock starts a CoarseClock that advances every resolution. The
// resolution must be positive (an error matching ErrInvalidConfig
// otherwise).
func NewCoarseClock(resolution time.Duration) (*CoarseClock, error) {
	if resolution <= 0 {
		return nil, &ConfigError{Field: "resolution", Value: resolution, Reason: "must be positive"}
	}
	c := &CoarseClock{resolution: resolution, stop: make(chan struct{}), done: make(chan struct{})}
	c.now.Store(int64(clock.Now()))
	go c.run()
	return c, nil
}

func (c *CoarseClock) run() {
	defer close(c.done)
	t := time.NewTicker(c.resolution)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			c.now.Store(int64(clock.Now()))
		case <-c.stop:
			return
		}
	}
}

// Now returns the latest stored reading.
func (c *CoarseClock) Now() time.Duration { return time.Duration(c.now.Load()) }

// Resolution returns the interval between readings.
func (c *CoarseClock) Resolution() time.Duration { return c.resolution }

// Stop ends the clock's goroutine and waits for it. It is safe to call
// more than once and from several goroutines.
func (c *CoarseClock) Stop() {
	c.once.Do(func() { close(c.stop) })
	<-c.done
}
