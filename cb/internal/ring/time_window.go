package ring

import (
	"math"
	"runtime"
	"time"

	"go.uber.org/atomic"
)

// TimeWindow counts the outcomes of the newest Buckets buckets of a fixed
// width: with width w and B buckets it spans between (B-1)*w and B*w.
type TimeWindow struct {
	// next is the reading at which the next bucket begins. It is read on
	// every record and written once per bucket width, last in a rotation,
	// so a writer that sees a reading below it may add at once.
	next atomic.Int64
	_    [cacheLine - 8]byte

	// claim is held (1) by the one goroutine rewriting snapshots: a
	// rotation or a Clear. Writers whose reading has reached next wait
	// for it, so none adds before the snapshot its outcome must follow.
	claim   atomic.Uint32
	latest  atomic.Int64 // bucket number of the newest snapshot
	width   int64        // nanoseconds, > 0
	buckets int64
	snaps   []snapshot // snaps[b mod buckets] is the start of bucket b
	sums    *Stripes
}

// snapshot is the cumulative sum at the start of one bucket, written under
// a sequence counter (odd while being written) by the one goroutine that
// owns the rotation.
type snapshot struct {
	seq    atomic.Uint64
	bucket atomic.Int64
	sums   [numKinds]atomic.Uint64
}

// NewTimeWindow returns an empty window of buckets buckets of width width
// over sums, as of the reading now. It panics on a width or a bucket count
// below 1: the breaker validates its config first.
func NewTimeWindow(sums *Stripes, width time.Duration, buckets int, now time.Duration) *TimeWindow {
	if width <= 0 || buckets <= 0 {
		panic("ring: NewTimeWindow needs a positive width and bucket count")
	}
	w := &TimeWindow{width: int64(width), buckets: int64(buckets), snaps: make([]snapshot, buckets), sums: sums}
	w.restart(w.bucketOf(now), sums.Sum())
	return w
}

// bucketOf returns the bucket number of a reading, rounding down, so that
// negative readings are bucketed like positive ones.
func (w *TimeWindow) bucketOf(now time.Duration) int64 {
	b := int64(now) / w.width
	if int64(now)%w.width < 0 {
		b--
	}
	return b
}

// Record counts one outcome of kind k that ended at the reading now.
func (w *TimeWindow) Record(now time.Duration, k Kind) {
	// The second test matters only at the end of time, where the next
	// boundary is clamped to the reading of the newest bucket itself.
	for int64(now) >= w.next.Load() && w.latest.Load() < w.bucketOf(now) {
		w.rotate(now)
	}
	w.sums.Add(k)
}

// RecordFastSuccess records a success ending at now if no rotation is due, and reports
// whether it did: the hot path's whole window work, small enough to inline.
func (w *TimeWindow) RecordFastSuccess(now time.Duration) bool {
	if int64(now) >= w.next.Load() {
		return false
	}
	w.sums.Add(Success)
	return true
}

// rotate starts the bucket of now, unless another goroutine holds the
// claim (then it yields, and the caller checks next again). Buckets
// skipped by an idle gap start with the same sums: nothing was recorded in
// them. Rotation only moves forward: a goroutine whose reading another
// rotation has already passed finds next above it and does nothing.
func (w *TimeWindow) rotate(now time.Duration) {
	if !w.claim.CompareAndSwap(0, 1) {
		runtime.Gosched() // a rotation is a few stores per skipped bucket
		return
	}
	if b := w.bucketOf(now); int64(now) >= w.next.Load() && b > w.latest.Load() {
		from := max(w.latest.Load()+1, b-w.buckets+1)
		sums := w.sums.Sum()
		for i := from; i <= b; i++ {
			w.write(i, sums)
		}
		w.publish(b)
	}
	w.claim.Store(0)
}

// Clear empties the window as of the reading now: later counts include only
// outcomes recorded after it. The cumulative sums are kept.
func (w *TimeWindow) Clear(now time.Duration) {
	for !w.claim.CompareAndSwap(0, 1) {
		runtime.Gosched()
	}
	w.restart(max(w.bucketOf(now), w.latest.Load()), w.sums.Sum())
	w.claim.Store(0)
}

// restart makes sums the start of every bucket of a window ending with
// bucket b, then publishes b. The caller holds the claim (or is the
// constructor).
func (w *TimeWindow) restart(b int64, sums Counts) {
	for i := b - w.buckets + 1; i <= b; i++ {
		w.write(i, sums)
	}
	w.publish(b)
}

// publish makes b the newest bucket. next goes last: once a writer sees
// it, the snapshot of b is in place. The boundary after the last whole
// bucket before the end of time is clamped to the largest reading.
func (w *TimeWindow) publish(b int64) {
	w.latest.Store(b)
	next := int64(math.MaxInt64)
	if b < math.MaxInt64/w.width {
		next = (b + 1) * w.width
	}
	w.next.Store(next)
}

func (w *TimeWindow) write(bucket int64, sums Counts) {
	s := &w.snaps[w.slot(bucket)]
	s.seq.Inc()
	s.bucket.Store(bucket)
	for k := range sums {
		s.sums[k].Store(sums[k])
	}
	s.seq.Inc()
}

func (w *TimeWindow) slot(bucket int64) int64 {
	i := bucket % w.buckets
	if i < 0 {
		i += w.buckets
	}
	return i
}

// read copies the snapshot in the slot of bucket into c and returns the
// bucket it holds.
func (w *TimeWindow) read(bucket int64, c *Counts) int64 {
	s := &w.snaps[w.slot(bucket)]
	for {
		seq := s.seq.Load()
		if seq&1 == 0 {
			b := s.bucket.Load()
			for k := range c {
				c[k] = s.sums[k].Load()
			}
			if s.seq.Load() == seq {
				return b
			}
		}
		runtime.Gosched()
	}
}

// Counts returns the outcomes in the window as of the reading now. A
// reading older than the newest rotation is taken as that rotation's.
func (w *TimeWindow) Counts(now time.Duration) Counts {
	var c, sums Counts
	w.Snapshot(now, &c, &sums)
	return c
}

// Snapshot writes Counts(now) into window and the cumulative sums it was
// computed from into sums, in one pass over the stripes (through pointers:
// see Stripes.SumTo).
func (w *TimeWindow) Snapshot(now time.Duration, window, sums *Counts) {
	var base Counts
	for {
		// next before latest: next is published after latest, so a
		// reading below it lies in bucket latest or an older one, and
		// needs no division to place.
		next := w.next.Load()
		latest := w.latest.Load()
		b := latest
		if int64(now) >= next {
			b = max(w.bucketOf(now), latest)
		}
		oldest := b - w.buckets + 1
		if latest < oldest {
			// Nothing has been recorded since the window began.
			*window = Counts{}
			w.sums.SumTo(sums)
			return
		}
		if w.read(oldest, &base) != oldest {
			runtime.Gosched() // a rotation past oldest is under way
			continue
		}
		// base was read before the sums, from monotone counters: no kind
		// goes below zero.
		w.sums.SumTo(sums)
		for k := range window {
			window[k] = sums[k] - base[k]
		}
		return
	}
}

// Totals returns the cumulative counts since the window was made.
func (w *TimeWindow) Totals() Counts { return w.sums.Sum() }
