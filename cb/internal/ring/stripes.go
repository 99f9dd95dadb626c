package ring

import (
	"runtime"
	"unsafe"

	"go.uber.org/atomic"
)

// cacheLine is the padding unit: two 64-byte lines, because x86 prefetches
// lines in adjacent pairs and a neighbour's writes would still bounce.
const cacheLine = 128

// maxStripes bounds the memory of one breaker's counters (64 stripes of
// 128 bytes).
const maxStripes = 64

// stripe is one cache-line-padded set of cumulative counters.
type stripe struct {
	n [numSlots]atomic.Uint64
	_ [cacheLine - int(numSlots)*8]byte
}

// Stripes is a set of cumulative counters, one per Kind and Tally, split
// over padded stripes so that concurrent writers on different cores rarely
// share a cache line. Counters only grow (64-bit: at a billion adds a
// second one wraps after 584 years).
type Stripes struct {
	s     []stripe
	shift uint // 64 - log2(len(s)): the top bits of a hash pick a stripe
}

// NewStripes returns counters with four stripes per processor (a power of
// two, at most 64), so that the goroutines of a busy process rarely pick
// the same stripe.
func NewStripes() *Stripes {
	n := 1
	for n < 4*runtime.GOMAXPROCS(0) && n < maxStripes {
		n <<= 1
	}
	return newStripes(n)
}

func newStripes(n int) *Stripes {
	shift := uint(64)
	for m := n; m > 1; m >>= 1 {
		shift--
	}
	return &Stripes{s: make([]stripe, n), shift: shift}
}

// mine returns the calling goroutine's stripe. Goroutine stacks are
// distinct, at least 2 KiB each, and a goroutine keeps its stack (and so
// its stripe) while it runs, so its adds stay in its core's cache; hashing
// the address spreads neighbouring stacks over the stripes. This costs two
// instructions, where a per-call random stripe would move the line between
// cores on every other call.
func (s *Stripes) mine() *stripe {
	var probe byte
	h := uint64(uintptr(unsafe.Pointer(&probe))>>11) * 0x9e3779b97f4a7c15
	if s.shift == 64 {
		return &s.s[0]
	}
	return &s.s[h>>s.shift]
}

// Add counts one outcome of kind k.
func (s *Stripes) Add(k Kind) { s.mine().n[k].Inc() }

// AddTally counts one lifetime-only event.
func (s *Stripes) AddTally(t Tally) { s.mine().n[t].Inc() }

// Sum returns the cumulative counts of every Kind. Each stripe is read at
// one instant: the rarely written kinds are read around the often written
// Success, and the read is retried if one of them moved meanwhile (they
// only grow, so equal readings mean no change).
func (s *Stripes) Sum() Counts {
	var c Counts
	s.SumTo(&c)
	return c
}

// SumTo is Sum writing into c. The breaker's failure path uses it: a
// Counts returned by value travels through memory, and the caller's wide
// loads of the callee's narrow stores cost more than the sum itself.
func (s *Stripes) SumTo(c *Counts) {
	*c = Counts{}
	for i := range s.s {
		n := &s.s[i].n
		for {
			f, ss, sf := n[Failure].Load(), n[SlowSuccess].Load(), n[SlowFailure].Load()
			ok := n[Success].Load()
			if f == n[Failure].Load() && ss == n[SlowSuccess].Load() && sf == n[SlowFailure].Load() {
				c[Success] += ok
				c[Failure] += f
				c[SlowSuccess] += ss
				c[SlowFailure] += sf
				break
			}
		}
	}
}

// Tally returns the cumulative count of a lifetime-only event.
func (s *Stripes) Tally(t Tally) uint64 {
	var n uint64
	for i := range s.s {
		n += s.s[i].n[t].Load()
	}
	return n
}
