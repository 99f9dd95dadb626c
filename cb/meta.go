package cb

import (
	"math"
	"runtime"
	"time"

	"go.uber.org/atomic"
)

// meta is what the one atomic word has no room for: the reading at which
// the current generation began, and the one at which time alone ends it
// (an open breaker turning half-open, a half-open episode whose probe has
// been out too long failing). The goroutine whose CAS made a generation
// publishes it right after; a reader that finds an older generation here
// knows the transition is nanoseconds old. The lock word is
// gen<<1 | writing, so a late publisher of an older generation never
// overwrites a newer one.
//
// A half-open generation starts with no deadline (noDeadline) and gets
// one each time a probe is taken while none is out: extend, called before
// the permit's CAS, only ever moves it later.
type meta struct {
	lock  atomic.Uint64
	since atomic.Int64
	until atomic.Int64
}

// noDeadline is the deadline of a half-open episode with no probe out yet:
// it is consulted only while a probe is out, and any extend passes it.
const noDeadline = time.Duration(math.MinInt64)

// publish records the start and deadline of generation gen, which this
// goroutine's CAS began.
func (m *meta) publish(gen uint64, since, until time.Duration) { m.write(gen, since, until, true) }

// extend moves the deadline of generation gen to until, if later. since is
// the caller's best reading of gen's start, recorded only if gen is not
// published yet (its own publish will correct it).
func (m *meta) extend(gen uint64, since, until time.Duration) { m.write(gen, since, until, false) }

func (m *meta) write(gen uint64, since, until time.Duration, begins bool) {
	for {
		l := m.lock.Load()
		switch {
		case l&1 == 1:
			runtime.Gosched() // another writer is between two stores
		case genAfter(l>>1, gen):
			return // a newer generation is already published
		case m.lock.CompareAndSwap(l, gen<<1|1):
			same := l>>1 == gen
			if !same || begins {
				m.since.Store(int64(since))
			}
			if !same || time.Duration(m.until.Load()) < until {
				m.until.Store(int64(until))
			}
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

// genAfter reports whether generation a is newer than b, modulo the 39 bits
// a generation has in the state word.
func genAfter(a, b uint64) bool {
	d := (a - b) & (1<<(64-genShift) - 1)
	return d != 0 && d < 1<<(63-genShift)
}
