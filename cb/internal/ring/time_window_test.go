package ring

import (
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sec is a reading or a duration of s seconds.
func sec(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// one returns a Counts holding n outcomes of kind k.
func one(k Kind, n uint64) Counts {
	var c Counts
	c[k] = n
	return c
}

// An outcome recorded at t counts while its bucket is one of the newest
// 10: with 1s buckets, one recorded at 0.5s (bucket 0) counts up to just
// before 10s, when bucket 10 begins.
func TestTimeWindowBucketSemantics(t *testing.T) {
	w := NewTimeWindow(NewStripes(), time.Second, 10, 0)
	assert.Equal(t, Counts{}, w.Counts(0), "new window")

	w.Record(sec(0.5), Failure)
	for _, at := range []time.Duration{sec(0.5), sec(1), sec(9), sec(9.999), sec(10) - 1} {
		assert.Equal(t, one(Failure, 1), w.Counts(at), "at %v", at)
	}
	for _, at := range []time.Duration{sec(10), sec(10.5), sec(19), sec(3600)} {
		assert.Equal(t, Counts{}, w.Counts(at), "at %v", at)
	}

	w.Record(sec(10), SlowSuccess) // bucket 10: the first outcome has left
	assert.Equal(t, one(SlowSuccess, 1), w.Counts(sec(10)))
	assert.Equal(t, one(SlowSuccess, 1), w.Counts(sec(20)-1))
	assert.Equal(t, Counts{}, w.Counts(sec(20)))

	// One outcome per bucket 11..20; each leaves exactly 10 buckets on.
	for b := 11; b <= 20; b++ {
		w.Record(sec(float64(b)+0.25), Success)
	}
	for q := 20; q <= 31; q++ {
		want := uint64(0)
		for b := 11; b <= 20; b++ {
			if b > q-10 {
				want++
			}
		}
		c := w.Counts(sec(float64(q) + 0.999))
		assert.Equal(t, want, c[Success], "successes at %ds", q)
		assert.Equal(t, want, c.Calls(), "calls at %ds", q)
	}
	assert.Equal(t, Counts{Success: 10, Failure: 1, SlowSuccess: 1}, w.Totals())
}

// Readings may be negative: buckets are floor divisions, so -25.5s is in
// bucket -26 (not -25, as truncation would give) and leaves at -16s.
func TestTimeWindowNegativeReadings(t *testing.T) {
	w := NewTimeWindow(NewStripes(), time.Second, 10, sec(-25.5))
	w.Record(sec(-25.5), Failure) // bucket -26
	assert.Equal(t, one(Failure, 1), w.Counts(sec(-25.5)))
	assert.Equal(t, one(Failure, 1), w.Counts(sec(-17)), "bucket -17: oldest is -26")
	assert.Equal(t, one(Failure, 1), w.Counts(sec(-16)-1))
	assert.Equal(t, Counts{}, w.Counts(sec(-16)), "bucket -16: oldest is -25")

	w.Record(sec(-20), Success)     // bucket -20
	w.Record(sec(-0.5), Success)    // bucket -1
	w.Record(0, SlowFailure)        // bucket 0
	w.Record(sec(0.5), SlowSuccess) // bucket 0
	checks := []struct {
		at   time.Duration
		want Counts
	}{
		// The newest rotation is bucket 0: older readings read as of it,
		// over buckets -9..0, which -20 has left.
		{sec(-25.5), Counts{Success: 1, SlowFailure: 1, SlowSuccess: 1}},
		{sec(-0.5), Counts{Success: 1, SlowFailure: 1, SlowSuccess: 1}},
		{0, Counts{Success: 1, SlowFailure: 1, SlowSuccess: 1}},
		{sec(8.9), Counts{Success: 1, SlowFailure: 1, SlowSuccess: 1}},
		{sec(9), Counts{SlowFailure: 1, SlowSuccess: 1}}, // bucket 9: -1 has left
		{sec(10) - 1, Counts{SlowFailure: 1, SlowSuccess: 1}},
		{sec(10), Counts{}},
	}
	for _, c := range checks {
		assert.Equal(t, c.want, w.Counts(c.at), "at %v", c.at)
	}
	assert.Equal(t, Counts{Success: 2, Failure: 1, SlowSuccess: 1, SlowFailure: 1}, w.Totals())

	// Negative readings read before any later rotation.
	w2 := NewTimeWindow(NewStripes(), time.Second, 10, sec(-25.5))
	w2.Record(sec(-25.5), Failure) // bucket -26
	w2.Record(sec(-20), Success)   // bucket -20
	assert.Equal(t, Counts{Success: 1, Failure: 1}, w2.Counts(sec(-16.5)))
	assert.Equal(t, Counts{Success: 1}, w2.Counts(sec(-16)))
	assert.Equal(t, Counts{Success: 1}, w2.Counts(sec(-10)-1))
	assert.Equal(t, Counts{}, w2.Counts(sec(-10)))
}

// After an idle gap longer than the window only the outcomes recorded
// after it count; the totals keep everything.
func TestTimeWindowIdleGapLongerThanWindow(t *testing.T) {
	for _, gap := range []time.Duration{sec(10), sec(10.5), sec(11), sec(19.5), time.Hour, 1000 * time.Hour} {
		w := NewTimeWindow(NewStripes(), time.Second, 10, 0)
		w.Record(0, Failure)
		w.Record(0, Failure)
		w.Record(sec(0.9), Success)
		w.Record(sec(0.9), SlowSuccess)

		w.Record(gap, Success)
		w.Record(gap, SlowFailure)
		assert.Equal(t, Counts{Success: 1, SlowFailure: 1}, w.Counts(gap), "gap %v", gap)
		assert.Equal(t, Counts{Success: 1, SlowFailure: 1}, w.Counts(gap+sec(9)), "gap %v", gap)
		assert.Equal(t, Counts{}, w.Counts(gap+sec(10)), "gap %v", gap)
		assert.Equal(t, Counts{Success: 2, Failure: 2, SlowSuccess: 1, SlowFailure: 1}, w.Totals(), "gap %v", gap)
	}

	// A gap crossing part of the ring keeps the buckets still in it.
	w := NewTimeWindow(NewStripes(), time.Second, 10, 0)
	w.Record(sec(2.5), Failure) // bucket 2
	w.Record(sec(7.5), Success) // bucket 7
	w.Record(sec(15), Success)  // bucket 15: oldest is 6
	assert.Equal(t, Counts{Success: 2}, w.Counts(sec(15)))
	assert.Equal(t, Counts{Success: 1}, w.Counts(sec(17)))
}

// Clear empties the window as of a reading; the totals keep everything, and
// the window then slides as usual over what is recorded after.
func TestTimeWindowClear(t *testing.T) {
	w := NewTimeWindow(NewStripes(), time.Second, 10, 0)
	w.Clear(0)
	assert.Equal(t, Counts{}, w.Counts(0), "clearing an empty window")

	w.Record(sec(1), Failure)
	w.Record(sec(4), Success)
	w.Record(sec(4.5), Failure)
	w.Clear(sec(4.5))
	assert.Equal(t, Counts{}, w.Counts(sec(4.5)))
	assert.Equal(t, Counts{}, w.Counts(sec(9)))
	assert.Equal(t, Counts{Success: 1, Failure: 2}, w.Totals(), "totals survive Clear")

	w.Record(sec(4.7), Success) // same bucket as the Clear
	w.Record(sec(6), Failure)
	assert.Equal(t, Counts{Success: 1, Failure: 1}, w.Counts(sec(6)))
	assert.Equal(t, Counts{Success: 1, Failure: 1}, w.Counts(sec(14)-1), "bucket 4 still in the window")
	assert.Equal(t, Counts{Failure: 1}, w.Counts(sec(14)), "bucket 4 left")
	assert.Equal(t, Counts{}, w.Counts(sec(16)))
	assert.Equal(t, Counts{Success: 2, Failure: 3}, w.Totals())

	// Clear with a reading older than the newest rotation clears as of
	// that rotation: nothing recorded before it counts afterwards.
	w.Record(sec(30), SlowFailure) // bucket 30
	w.Clear(sec(20))
	assert.Equal(t, Counts{}, w.Counts(sec(30)))
	w.Record(sec(30), Success)
	assert.Equal(t, Counts{Success: 1}, w.Counts(sec(30)))
	assert.Equal(t, Counts{Success: 1}, w.Counts(sec(39.9)))
	assert.Equal(t, Counts{}, w.Counts(sec(40)))
	assert.Equal(t, Counts{Success: 3, Failure: 3, SlowFailure: 1}, w.Totals())

	// Clear far ahead: later records count from there.
	w.Clear(time.Hour)
	w.Record(time.Hour+sec(0.5), Failure)
	assert.Equal(t, Counts{Failure: 1}, w.Counts(time.Hour+sec(0.5)))
}

// A reading older than the newest rotation (a goroutine that read the
// clock before another recorded) lands in the current bucket, and Counts
// at such a reading is the count as of that rotation.
func TestTimeWindowReadingOlderThanLatestRotation(t *testing.T) {
	w := NewTimeWindow(NewStripes(), time.Second, 10, 0)
	w.Record(sec(5.5), Success) // rotates to bucket 5
	w.Record(sec(3.2), Failure) // older: lands in bucket 5
	w.Record(sec(-7), Failure)  // older than the window's start, too
	want := Counts{Success: 1, Failure: 2}
	assert.Equal(t, want, w.Counts(sec(5.5)))
	assert.Equal(t, want, w.Counts(sec(3.2)), "an older reading reads as of bucket 5")
	assert.Equal(t, want, w.Counts(-time.Hour))
	assert.Equal(t, want, w.Counts(sec(15)-1), "still in bucket 5's window")
	assert.Equal(t, Counts{}, w.Counts(sec(15)), "bucket 5 left with the others")
	assert.Equal(t, want, w.Totals())
}

// twModel is the window's specification, kept plainly: an outcome belongs
// to the bucket of its reading, or to the newest bucket reached so far if
// that is later; Counts at a reading covers the newest Buckets buckets up
// to the later of its bucket and the newest reached.
type twModel struct {
	width, buckets int64
	latest         int64
	byBucket       map[int64]Counts // outcomes since the last clear, by bucket
	totals         Counts
}

func newTWModel(width time.Duration, buckets int, start time.Duration) *twModel {
	m := &twModel{width: int64(width), buckets: int64(buckets), byBucket: map[int64]Counts{}}
	m.latest = m.bucket(start)
	return m
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func (m *twModel) bucket(now time.Duration) int64 { return floorDiv(int64(now), m.width) }

func (m *twModel) record(now time.Duration, k Kind) {
	m.latest = max(m.latest, m.bucket(now))
	c := m.byBucket[m.latest]
	c[k]++
	m.byBucket[m.latest] = c
	m.totals[k]++
}

func (m *twModel) clear(now time.Duration) {
	m.latest = max(m.latest, m.bucket(now))
	clear(m.byBucket)
}

func (m *twModel) counts(now time.Duration) Counts {
	b := max(m.bucket(now), m.latest)
	var c Counts
	for i := b - m.buckets + 1; i <= b; i++ {
		for k, n := range m.byBucket[i] {
			c[k] += n
		}
	}
	return c
}

// Random sequences of records, clears and reads, with readings that mostly
// move forward by less than a bucket, sometimes jump past the window and
// sometimes go back, on several shapes and starting readings (negative
// ones too): the window agrees with the model at every step.
func TestTimeWindowMatchesModel(t *testing.T) {
	shapes := []struct {
		width   time.Duration
		buckets int
	}{
		{time.Second, 10},
		{250 * time.Millisecond, 4},
		{7 * time.Millisecond, 1},
		{3 * time.Second, 5},
	}
	starts := []time.Duration{0, sec(-25.5), -time.Hour - 1, 1_000_000 * time.Hour}
	for si, sh := range shapes {
		for sti, start := range starts {
			rng := rand.New(rand.NewPCG(uint64(si), uint64(sti)))
			w := NewTimeWindow(NewStripes(), sh.width, sh.buckets, start)
			m := newTWModel(sh.width, sh.buckets, start)
			width := int64(sh.width)
			now := start
			for step := range 700 {
				switch r := rng.IntN(100); {
				case r < 70:
					now += time.Duration(rng.Int64N(width / 2))
				case r < 78:
					now += time.Duration(rng.Int64N(3 * width * int64(sh.buckets)))
				case r < 80:
					now += time.Duration(width * int64(sh.buckets) * (1 + rng.Int64N(50)))
				}
				at := now
				if rng.IntN(10) == 0 {
					at -= time.Duration(rng.Int64N(2 * width * int64(sh.buckets))) // an older reading
				}
				switch r := rng.IntN(100); {
				case r < 3:
					w.Clear(at)
					m.clear(at)
				default:
					k := allKinds[rng.IntN(len(allKinds))]
					w.Record(at, k)
					m.record(at, k)
				}
				for _, q := range []time.Duration{
					at, now, now + time.Duration(width)*time.Duration(sh.buckets-1),
					now + time.Duration(width)*time.Duration(sh.buckets), now - time.Duration(width),
					now + time.Duration(rng.Int64N(width*int64(sh.buckets+2))),
				} {
					if !assert.Equal(t, m.counts(q), w.Counts(q), "shape %v x %d, start %v, step %d, reading %v", sh.width, sh.buckets, start, step, q) {
						return
					}
				}
				if !assert.Equal(t, m.totals, w.Totals(), "step %d", step) {
					return
				}
			}
		}
	}
}

// Writers record while a driver moves the reading through many rotations.
// Meanwhile the window never holds more than the totals (no kind ever goes
// below its bucket's snapshot). Afterwards the totals are exactly what was
// recorded (no lost update, no double count), and once a known set of
// outcomes has been recorded in the buckets after the writers' last one,
// the window at later readings holds exactly the known outcomes still in
// it.
func TestTimeWindowRotationWithConcurrentWriters(t *testing.T) {
	const (
		writers = 8
		steps   = 3000
		width   = 100 * time.Millisecond
		buckets = 10
	)
	w := NewTimeWindow(NewStripes(), width, buckets, 0)
	var reading atomic.Int64
	var stop atomic.Bool
	counted := make([]Counts, writers)

	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := range writers {
		wg.Go(func() {
			<-start
			for i := 0; !stop.Load(); i++ {
				k := allKinds[(g+i)%len(allKinds)]
				w.Record(time.Duration(reading.Load()), k)
				counted[g][k]++
				if i%32 == 0 {
					runtime.Gosched() // let the driver move the reading often
				}
			}
		})
	}
	close(start)
	var prevTotals Counts
	for i := range steps {
		now := time.Duration(reading.Add(int64(7 * time.Millisecond)))
		var window, sums Counts
		w.Snapshot(now, &window, &sums)
		totals := w.Totals()
		for k := range window {
			require.LessOrEqual(t, window[k], sums[k], "step %d kind %d: window above its sums", i, k)
			require.LessOrEqual(t, sums[k], totals[k], "step %d kind %d: sums above later totals", i, k)
			require.GreaterOrEqual(t, totals[k], prevTotals[k], "step %d kind %d: totals went down", i, k)
		}
		c := w.Counts(now)
		after := w.Totals()
		for k := range c {
			require.LessOrEqual(t, c[k], after[k], "step %d kind %d: Counts above Totals", i, k)
		}
		prevTotals = after
	}
	stop.Store(true)
	wg.Wait()

	var want Counts
	for _, c := range counted {
		for k := range c {
			want[k] += c[k]
		}
	}
	require.Positive(t, want.Calls())
	require.Equal(t, want, w.Totals(), "every outcome counted exactly once")

	// The known set: in each of the 5 buckets after the writers' last,
	// one record that rotates, then 4 goroutines recording together.
	last := floorDiv(reading.Load(), int64(width))
	perBucket := make(map[int64]Counts)
	for j := int64(1); j <= 5; j++ {
		b := last + j
		at := time.Duration(b*int64(width)) + width/3
		k := allKinds[j%4]
		w.Record(at, k)
		c := one(k, 1)
		var kw sync.WaitGroup
		for g := range 4 {
			kw.Go(func() {
				for i := range int(j) * 50 {
					w.Record(at, allKinds[(g+i)%4])
				}
			})
			for i := range int(j) * 50 {
				c[allKinds[(g+i)%4]]++
			}
		}
		kw.Wait()
		perBucket[b] = c
		for k := range c {
			want[k] += c[k]
		}
	}
	require.Equal(t, want, w.Totals())
	for q := last + buckets; q <= last+buckets+6; q++ {
		var exp Counts
		for b, c := range perBucket {
			if b > q-buckets {
				for k := range c {
					exp[k] += c[k]
				}
			}
		}
		at := time.Duration(q*int64(width)) + width/2
		assert.Equal(t, exp, w.Counts(at), "window at bucket %d (writers' last bucket %d)", q, last)
	}
	// One bucket earlier the window also holds the writers' last bucket.
	c := w.Counts(time.Duration((last+buckets-1)*int64(width)) + width/2)
	for k := range c {
		assert.GreaterOrEqual(t, c[k], perBucket[last+1][k]+perBucket[last+5][k])
	}
}

// After an idle gap longer than the window, goroutines recording a burst
// together (all at the new reading, so one of them rotates while the
// others record) leave exactly the burst in the window, round after round.
//
// To make the records overlap the rotation, the goroutines spin until the
// reading moves, and the one that moves it records at once: the others,
// already running on the other cores, record while it rotates.
func TestTimeWindowBurstAfterIdleGapConcurrent(t *testing.T) {
	const (
		writers = 8
		perG    = 200
		rounds  = 100
	)
	w := NewTimeWindow(NewStripes(), time.Second, 10, 0)
	for i := range 100 {
		w.Record(time.Duration(i)*100*time.Millisecond, allKinds[i%4])
	}
	total := w.Totals()
	var reading atomic.Int64
	for round := 1; round <= rounds; round++ {
		at := time.Duration(round)*time.Hour + sec(0.5)
		var burst Counts
		for g := range writers {
			for i := range perG {
				burst[allKinds[(g+i)%4]]++
			}
		}
		var ready atomic.Int32
		var wg sync.WaitGroup
		for g := range writers {
			wg.Go(func() {
				if g == 0 {
					for ready.Load() != writers-1 {
						runtime.Gosched()
					}
					reading.Store(int64(at))
				} else {
					ready.Add(1)
					for i := 1; reading.Load() != int64(at); i++ {
						if i%256 == 0 {
							runtime.Gosched() // spin tightly, but let the others reach here
						}
					}
				}
				for i := range perG {
					w.Record(at, allKinds[(g+i)%4])
				}
			})
		}
		wg.Wait()
		for k := range burst {
			total[k] += burst[k]
		}
		require.Equal(t, total, w.Totals(), "round %d: totals", round)
		ok := assert.Equal(t, burst, w.Counts(at), "round %d: the window after the gap must hold exactly the burst", round)
		ok = assert.Equal(t, burst, w.Counts(at+sec(9)), "round %d", round) && ok
		ok = assert.Equal(t, Counts{}, w.Counts(at+sec(9.5)), "round %d", round) && ok
		if !ok {
			return // one round's report is enough
		}
	}
}

func TestNewTimeWindowPanicsOnBadShape(t *testing.T) {
	assert.Panics(t, func() { NewTimeWindow(NewStripes(), 0, 10, 0) })
	assert.Panics(t, func() { NewTimeWindow(NewStripes(), -time.Second, 10, 0) })
	assert.Panics(t, func() { NewTimeWindow(NewStripes(), time.Second, 0, 0) })
	assert.NotPanics(t, func() { NewTimeWindow(NewStripes(), 1, 1, -1) })
}
