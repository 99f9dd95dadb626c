package cb

import (
	"runtime"
	"time"

	"go.uber.org/atomic"
)

// meta is what the one atomic word has no room for: the reading at which
// the current generation began, and the one at which time alone ends it
// (an open breaker turning half-open, a half-open episode restarting). The
// goroutine whose CAS made a generation publishes it right after; a reader
// that finds an older generation here knows the transition is nanoseconds
// old. The lock word is gen<<1 | writing, so a late publisher of an older
// generation never overwrites a newer one.
type meta struct {
	lock  atomic.Uint64
	since atomic.Int64
	until atomic.Int64
}

func (m *meta) publish(gen uint64, since, until time.Duration) {
	for {
		l := m.lock.Load()
		switch {
		case l&1 == 0 && !genAfter(gen, l>>1):
			return // this or a newer generation is already published
		case l&1 == 1:
			runtime.Gosched() // another publisher is between two stores
		case m.lock.CompareAndSwap(l, gen<<1|1):
			m.since.Store(int64(since))
			m.until.Store(int64(until))
			m.lock.Store(gen << 1)
			return
		}
	}
}

// read returns the published generation, the reading it began at, and
// the reading at which time alone ends it.
func (m *meta) read() (gen uint64, since, until time.Duration) {
	for {
		l := m.lock.Load()
		if l&1 == 0 {
			s, u := m.since.Load(), m.until.Load()
			if m.lock.Load() == l {
				return l >> 1, time.Duration(s), time.Duration(u)
			}
		}
		runtime.Gosched()
	}
}

// genAfter reports whether generation a is newer than b, modulo the 40 bits
// a generation has in the state word.
func genAfter(a, b uint64) bool {
	d := (a - b) & (1<<(64-genShift) - 1)
	return d != 0 && d < 1<<(63-genShift)
}
