package ring

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lastN is the count of the newest n kinds of seq.
func lastN(seq []Kind, n int) Counts {
	var c Counts
	for _, k := range seq[max(0, len(seq)-n):] {
		c[k]++
	}
	return c
}

// The window holds exactly the newest N outcomes, kind by kind, after every
// record, for several sizes (1 included) and past several wraps of the
// slots.
func TestCountWindowLastN(t *testing.T) {
	for _, n := range []int{1, 2, 5, 64} {
		w := NewCountWindow(NewStripes(), n)
		assert.Equal(t, Counts{}, w.Counts(), "n=%d: new window", n)
		var seq []Kind
		var totals Counts
		for i := range 5*n + 7 {
			k := allKinds[(i*i+i/3)%len(allKinds)]
			w.Record(k)
			seq = append(seq, k)
			totals[k]++
			require.Equal(t, lastN(seq, n), w.Counts(), "n=%d after %d records", n, i+1)
			require.Equal(t, totals, w.Totals(), "n=%d after %d records", n, i+1)
			var win, sums Counts
			w.Snapshot(&win, &sums)
			require.Equal(t, lastN(seq, n), win)
			require.Equal(t, totals, sums)
		}
	}
}

// Clear empties the window and keeps the totals; the window then fills
// with what comes after, up to N again.
func TestCountWindowClear(t *testing.T) {
	const n = 5
	w := NewCountWindow(NewStripes(), n)
	w.Clear()
	assert.Equal(t, Counts{}, w.Counts(), "clearing an empty window")

	for range 3 {
		w.Record(Failure)
	}
	w.Clear()
	assert.Equal(t, Counts{}, w.Counts())
	assert.Equal(t, Counts{Failure: 3}, w.Totals(), "totals survive Clear")
	w.Clear()
	assert.Equal(t, Counts{}, w.Counts(), "a second Clear")

	w.Record(Success)
	w.Record(SlowSuccess)
	assert.Equal(t, Counts{Success: 1, SlowSuccess: 1}, w.Counts(), "only the outcomes after Clear")
	for range 3 {
		w.Record(SlowFailure)
	}
	assert.Equal(t, Counts{Success: 1, SlowSuccess: 1, SlowFailure: 3}, w.Counts())
	w.Record(Failure) // pushes out the Success
	assert.Equal(t, Counts{SlowSuccess: 1, SlowFailure: 3, Failure: 1}, w.Counts())
	assert.Equal(t, Counts{Success: 1, Failure: 4, SlowSuccess: 1, SlowFailure: 3}, w.Totals())

	// Clear after more than N: the slots still hold old stamps, none of
	// which may count.
	for range 3 * n {
		w.Record(Failure)
	}
	w.Clear()
	assert.Equal(t, Counts{}, w.Counts())
	w.Record(Success)
	assert.Equal(t, Counts{Success: 1}, w.Counts())
}

// 16 goroutines record together: the window never holds more than N
// outcomes (nor more of a kind than the totals), the totals are exact, and
// the window is full at the end. A known set recorded afterwards is then
// exactly the window.
func TestCountWindowConcurrentWriters(t *testing.T) {
	const (
		n       = 64
		writers = 16
		perG    = 3000
	)
	w := NewCountWindow(NewStripes(), n)
	var stop atomic.Bool
	var readerWG sync.WaitGroup
	readerWG.Go(func() {
		for !stop.Load() {
			c := w.Counts()
			tot := w.Totals()
			if !assert.LessOrEqual(t, c.Calls(), uint64(n), "window above N") {
				return
			}
			for k := range c {
				if !assert.LessOrEqual(t, c[k], tot[k], "kind %d: window above totals", k) {
					return
				}
			}
		}
	})

	counted := make([]Counts, writers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := range writers {
		wg.Go(func() {
			<-start
			for i := range perG {
				k := allKinds[(g+i)%len(allKinds)]
				w.Record(k)
				counted[g][k]++
				if i%256 == 0 {
					c := w.Counts()
					if !assert.LessOrEqual(t, c.Calls(), uint64(n)) {
						return
					}
				}
			}
		})
	}
	close(start)
	wg.Wait()
	stop.Store(true)
	readerWG.Wait()

	var want Counts
	for _, c := range counted {
		for k := range c {
			want[k] += c[k]
		}
	}
	require.Equal(t, uint64(writers*perG), want.Calls())
	assert.Equal(t, want, w.Totals(), "no lost update")
	assert.Equal(t, uint64(n), w.Counts().Calls(), "the window is full")

	var known []Kind
	for i := range n {
		k := allKinds[(i/5)%len(allKinds)]
		w.Record(k)
		known = append(known, k)
	}
	assert.Equal(t, lastN(known, n), w.Counts(), "exactly the known newest N")
}

// Concurrent writers with a Clear in the middle: after the writers stop,
// the window holds at most N, and a Clear then empties it.
func TestCountWindowConcurrentClear(t *testing.T) {
	const n = 32
	w := NewCountWindow(NewStripes(), n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := range 8 {
		wg.Go(func() {
			<-start
			for i := range 2000 {
				w.Record(allKinds[(g+i)%4])
			}
		})
	}
	close(start)
	for range 200 {
		w.Clear()
		assert.LessOrEqual(t, w.Counts().Calls(), uint64(n))
	}
	wg.Wait()
	assert.Equal(t, uint64(8*2000), w.Totals().Calls())
	w.Clear()
	assert.Equal(t, Counts{}, w.Counts())
	w.Record(Failure)
	assert.Equal(t, Counts{Failure: 1}, w.Counts())
}

func TestNewCountWindowPanicsOnBadSize(t *testing.T) {
	assert.Panics(t, func() { NewCountWindow(NewStripes(), 0) })
	assert.Panics(t, func() { NewCountWindow(NewStripes(), -1) })
}

// A read racing records counts a full window (less the outcomes in
// flight, one per writer), however far the writers get during the read:
// an outcome overwritten mid-read is replaced by its successor, so rates
// are never judged on a small part of the window.
func TestCountWindowReadsRacingRecordsSeeAFullWindow(t *testing.T) {
	const n, writers, records = 64, 2, 20000
	w := NewCountWindow(NewStripes(), n)
	for i := range n {
		w.Record(Kind(i % 2))
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range writers {
		wg.Go(func() {
			for i := 0; i < records; i++ {
				w.Record(Kind(i % 2))
			}
		})
	}
	go func() { wg.Wait(); close(stop) }()
	for reads := 0; ; reads++ {
		select {
		case <-stop:
			require.Equal(t, uint64(n), w.Counts().Calls(), "all writers done: the window is full")
			return
		default:
		}
		c := w.Counts()
		require.GreaterOrEqual(t, c.Calls(), uint64(n-writers), "read %d: %v", reads, c)
		require.LessOrEqual(t, c.Calls(), uint64(n), "read %d: %v", reads, c)
	}
}
