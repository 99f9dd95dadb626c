package ring

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// allKinds lists every window Kind, in order.
var allKinds = [...]Kind{Success, Failure, SlowSuccess, SlowFailure}

// allTallies lists every lifetime-only Tally.
var allTallies = [...]Tally{Rejected, Ignored, Stale}

func TestCountsHelpers(t *testing.T) {
	var zero Counts
	assert.Zero(t, zero.Calls())
	assert.Zero(t, zero.Successes())
	assert.Zero(t, zero.Failures())
	assert.Zero(t, zero.Slow())

	// Distinct powers of ten so that every helper's sum names its kinds.
	c := Counts{Success: 1, Failure: 10, SlowSuccess: 100, SlowFailure: 1000}
	assert.Equal(t, uint64(1111), c.Calls())
	assert.Equal(t, uint64(101), c.Successes(), "fast and slow successes")
	assert.Equal(t, uint64(1010), c.Failures(), "fast and slow failures")
	assert.Equal(t, uint64(1100), c.Slow(), "slow successes and failures")

	// Each helper sees each kind on its own.
	for _, k := range allKinds {
		var one Counts
		one[k] = 1
		failure := k == Failure || k == SlowFailure
		slow := k == SlowSuccess || k == SlowFailure
		assert.Equal(t, uint64(1), one.Calls(), "kind %d", k)
		assert.Equal(t, b2u(!failure), one.Successes(), "kind %d", k)
		assert.Equal(t, b2u(failure), one.Failures(), "kind %d", k)
		assert.Equal(t, b2u(slow), one.Slow(), "kind %d", k)
	}

	// 64-bit counts: no helper wraps near the top of 32 bits.
	big := Counts{Success: 1 << 33, Failure: 1 << 33, SlowSuccess: 1 << 33, SlowFailure: 1 << 33}
	assert.Equal(t, uint64(1)<<35, big.Calls())
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

func TestKindOf(t *testing.T) {
	tests := []struct {
		failure, slow bool
		want          Kind
	}{
		{false, false, Success},
		{true, false, Failure},
		{false, true, SlowSuccess},
		{true, true, SlowFailure},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, KindOf(tc.failure, tc.slow), "KindOf(failure=%v, slow=%v)", tc.failure, tc.slow)
	}

	// The kinds index a Counts; the tallies share the stripes after them.
	seen := map[uint8]bool{}
	for _, k := range allKinds {
		require.Less(t, int(k), len(Counts{}), "kind %d must index Counts", k)
		seen[uint8(k)] = true
	}
	for _, tl := range allTallies {
		assert.GreaterOrEqual(t, int(tl), len(Counts{}), "tally %d must not alias a kind", tl)
		assert.False(t, seen[uint8(tl)], "tally %d reused", tl)
		seen[uint8(tl)] = true
	}
	assert.Len(t, seen, len(allKinds)+len(allTallies))
}

func TestStripesSequential(t *testing.T) {
	s := NewStripes()
	assert.Equal(t, Counts{}, s.Sum(), "new stripes are zero")
	for _, tl := range allTallies {
		assert.Zero(t, s.Tally(tl))
	}

	var want Counts
	for i := range 1000 {
		k := allKinds[(i*7)%len(allKinds)]
		s.Add(k)
		want[k]++
	}
	for i, tl := range allTallies {
		for range (i + 1) * 11 {
			s.AddTally(tl)
		}
	}
	assert.Equal(t, want, s.Sum())
	assert.Equal(t, uint64(11), s.Tally(Rejected))
	assert.Equal(t, uint64(22), s.Tally(Ignored))
	assert.Equal(t, uint64(33), s.Tally(Stale))
	assert.Equal(t, want, s.Sum(), "tallies never enter the kinds")
}

// 16 goroutines add concurrently: no add is lost, and a reader calling Sum
// meanwhile sees every kind only grow, never more than was begun and never
// less than was finished before it looked.
func TestStripesConcurrentAddNoLostUpdate(t *testing.T) {
	const (
		writers = 16
		perG    = 4000
	)
	s := NewStripes()
	var begun, finished [len(Counts{})]atomic.Uint64
	var tallyBegun, tallyFinished [len(allTallies)]atomic.Uint64
	var stop atomic.Bool

	var readerWG sync.WaitGroup
	readerWG.Go(func() {
		var prev Counts
		var prevTally [len(allTallies)]uint64
		for reads := 0; ; reads++ {
			stopped := stop.Load()
			var lo Counts
			for k := range lo {
				lo[k] = finished[k].Load()
			}
			c := s.Sum()
			for k := range c {
				hi := begun[k].Load()
				if !assert.GreaterOrEqual(t, c[k], prev[k], "kind %d went down between two Sums", k) ||
					!assert.LessOrEqual(t, c[k], hi, "kind %d: Sum above the adds begun", k) ||
					!assert.GreaterOrEqual(t, c[k], lo[k], "kind %d: Sum below the adds finished", k) {
					return
				}
			}
			prev = c
			for i, tl := range allTallies {
				lo := tallyFinished[i].Load()
				n := s.Tally(tl)
				hi := tallyBegun[i].Load()
				if !assert.GreaterOrEqual(t, n, prevTally[i], "tally %d went down", tl) ||
					!assert.LessOrEqual(t, n, hi, "tally %d above the adds begun", tl) ||
					!assert.GreaterOrEqual(t, n, lo, "tally %d below the adds finished", tl) {
					return
				}
				prevTally[i] = n
			}
			if stopped {
				assert.Positive(t, reads)
				return
			}
		}
	})

	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := range writers {
		wg.Go(func() {
			<-start
			for i := range perG {
				k := allKinds[(g+i)%len(allKinds)]
				begun[k].Add(1)
				s.Add(k)
				finished[k].Add(1)
				if i%8 == 0 {
					j := (g + i/8) % len(allTallies)
					tallyBegun[j].Add(1)
					s.AddTally(allTallies[j])
					tallyFinished[j].Add(1)
				}
			}
		})
	}
	close(start)
	wg.Wait()
	stop.Store(true)
	readerWG.Wait()

	var want Counts
	for k := range want {
		want[k] = finished[k].Load()
	}
	require.Equal(t, uint64(writers*perG), want.Calls(), "test bookkeeping")
	assert.Equal(t, want, s.Sum(), "no lost update")
	var tallies uint64
	for i, tl := range allTallies {
		assert.Equal(t, tallyFinished[i].Load(), s.Tally(tl), "tally %d", tl)
		tallies += s.Tally(tl)
	}
	assert.Equal(t, uint64(writers*perG/8), tallies)
}
