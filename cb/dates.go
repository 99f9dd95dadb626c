package cb

import (
	"math"
	"runtime"
	"time"

	"go.uber.org/atomic"
)

// dates is what the state word has no room for: the reading at which the
// current generation began (start) and the one at which time alone ends
// it (deadline: an open breaker turning half-open, a half-open episode
// whose probe has been out too long failing). The goroutine whose CAS
// made a generation publishes it right after; a reader that finds an
// older generation here knows the transition is nanoseconds old.
//
// It is a seqlock keyed by generation: seq is gen<<1 | writing, so
// readers retry around a write, and a late publisher of an older
// generation never overwrites a newer one.
//
// A half-open generation starts with no deadline (noDeadline) and gets
// one each time a probe is taken while none is out: extend, called before
// the permit's CAS, only ever moves it later.
type dates struct {
	seq      atomic.Uint64
	start    atomic.Int64
	deadline atomic.Int64
}

// noDeadline is the deadline of a half-open episode with no probe out yet:
// it is consulted only while a probe is out, and any extend passes it.
const noDeadline = time.Duration(math.MinInt64)

// publish records the start and deadline of generation gen, which this
// goroutine's CAS began.
func (m *dates) publish(gen uint64, start, deadline time.Duration) {
	m.write(gen, start, deadline, true)
}

// extend moves the deadline of generation gen later, to deadline. start is
// the caller's best reading of gen's start, recorded only if gen is not
// published yet (its own publish will correct it).
func (m *dates) extend(gen uint64, start, deadline time.Duration) {
	m.write(gen, start, deadline, false)
}

func (m *dates) write(gen uint64, start, deadline time.Duration, begins bool) {
	for {
		l := m.seq.Load()
		switch {
		case l&1 == 1:
			runtime.Gosched() // another writer is between two stores
		case genAfter(l>>1, gen):
			return // a newer generation is already published
		case m.seq.CompareAndSwap(l, gen<<1|1):
			same := l>>1 == gen
			if !same || begins {
				m.start.Store(int64(start))
			}
			if !same || time.Duration(m.deadline.Load()) < deadline {
				m.deadline.Store(int64(deadline))
			}
			m.seq.Store(gen << 1)
			return
		}
	}
}

// read returns the published generation, the reading it began at, and
// the reading at which time alone ends it.
func (m *dates) read() (gen uint64, start, deadline time.Duration) {
	for {
		l := m.seq.Load()
		if l&1 == 0 {
			s, u := m.start.Load(), m.deadline.Load()
			if m.seq.Load() == l {
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
