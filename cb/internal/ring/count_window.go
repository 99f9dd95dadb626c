package ring

import "go.uber.org/atomic"

// CountWindow counts the newest N counted outcomes. Every record takes a
// number from one shared counter, so unlike TimeWindow it does not scale
// with cores; its reads scan all N slots (done only on the failure path).
type CountWindow struct {
	seq   atomic.Uint64 // numbers handed out; outcome i (from 1) owns slot (i-1) mod N
	_     [cacheLine - 8]byte
	floor atomic.Uint64 // numbers at or below it were cleared
	n     uint64
	slots []atomic.Uint64 // number<<2 | Kind of the newest outcome stamped there; 0: none
	sums  *Stripes
}

// NewCountWindow returns an empty window of the newest n outcomes over
// sums. It panics on n below 1: the breaker validates its config first.
func NewCountWindow(sums *Stripes, n int) *CountWindow {
	if n <= 0 {
		panic("ring: NewCountWindow needs a positive size")
	}
	return &CountWindow{n: uint64(n), slots: make([]atomic.Uint64, n), sums: sums}
}

// Record counts one outcome of kind k.
func (w *CountWindow) Record(k Kind) {
	// The total first: a reader that finds the outcome stamped in the
	// window then finds it in the totals too (window <= totals, kind by
	// kind, when the window is read first, as Snapshot does).
	w.sums.Add(k)
	i := w.seq.Inc()
	s := &w.slots[(i-1)%w.n]
	for {
		old := s.Load()
		if old>>2 >= i {
			// A newer outcome has its slot already: this one was pushed
			// out of the window while its goroutine was descheduled.
			break
		}
		if s.CompareAndSwap(old, i<<2|uint64(k)) {
			break
		}
	}
}

// Counts returns the kinds of the newest N outcomes, less those cleared.
// An outcome numbered but not yet stamped is not counted yet.
//
// Under concurrent records the slots change while they are read. Each slot
// holds the newest outcome of its residue, and every slot newer than the
// window's start when the read began is counted, the newer laps included:
// an outcome overwritten during the read is replaced by its successor in
// the window, not dropped. So the window counted has N outcomes (less
// those in flight) at every moment, never a small, biased sample of it,
// which a reader descheduled in the middle of its pass would otherwise
// judge rates on.
func (w *CountWindow) Counts() Counts {
	var c Counts
	w.countsTo(&c)
	return c
}

func (w *CountWindow) countsTo(c *Counts) {
	*c = Counts{}
	hi := w.seq.Load()
	lo := w.floor.Load()
	if hi > w.n {
		lo = max(lo, hi-w.n)
	}
	for i := range w.slots {
		v := w.slots[i].Load()
		if num := v >> 2; num > lo {
			c[v&3]++
		}
	}
}

// Snapshot writes Counts() into window and the cumulative sums into sums
// (through pointers: see Stripes.SumTo).
func (w *CountWindow) Snapshot(window, sums *Counts) {
	w.countsTo(window)
	w.sums.SumTo(sums)
}

// Clear empties the window: outcomes numbered so far no longer count.
func (w *CountWindow) Clear() {
	hi := w.seq.Load()
	for {
		lo := w.floor.Load()
		if lo >= hi || w.floor.CompareAndSwap(lo, hi) {
			return
		}
	}
}

// Totals returns the cumulative counts since the window was made.
func (w *CountWindow) Totals() Counts { return w.sums.Sum() }
