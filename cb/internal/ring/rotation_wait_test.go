package ring

import (
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stillRunning yields many times, then reports whether done is still open:
// a goroutine that must wait for the test has had every chance to run on.
func stillRunning(done <-chan struct{}) bool {
	for range 1000 {
		runtime.Gosched()
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// A writer whose reading has reached the next boundary while another
// goroutine holds the rotation waits until the boundary is published past
// its reading, and only then adds: its outcome lands in its own bucket,
// never folded into the snapshot that starts it (which would age it out a
// whole bucket early). The test plays the goroutine holding the rotation.
func TestTimeWindowWriterWaitsForARotationInProgress(t *testing.T) {
	s := NewStripes()
	w := NewTimeWindow(s, time.Second, 10, 0)
	w.Record(sec(0.5), Failure)

	require.True(t, w.claim.CompareAndSwap(0, 1))
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Record(sec(1.5), Success)
	}()
	require.True(t, stillRunning(done), "the writer must wait for the rotation")
	assert.Equal(t, one(Failure, 1), s.Sum(), "nothing added before the bucket's snapshot")

	// The rotation to bucket 1, as rotate makes it.
	w.write(1, s.Sum())
	w.publish(1)
	w.claim.Store(0)
	<-done

	assert.Equal(t, Counts{Success: 1, Failure: 1}, w.Counts(sec(1.5)))
	assert.Equal(t, one(Success, 1), w.Counts(sec(10.5)), "the success is in bucket 1, after the failure left with bucket 0")
	assert.Zero(t, w.Counts(sec(11.5)).Calls())
}

// Clear takes the same claim as a rotation: it waits for one in progress
// instead of restarting the snapshots under it.
func TestTimeWindowClearWaitsForARotationInProgress(t *testing.T) {
	s := NewStripes()
	w := NewTimeWindow(s, time.Second, 10, 0)
	w.Record(sec(0.5), Failure)

	require.True(t, w.claim.CompareAndSwap(0, 1))
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Clear(sec(0.7))
	}()
	require.True(t, stillRunning(done), "Clear must wait for the claim")
	assert.Equal(t, one(Failure, 1), w.Counts(sec(0.7)), "not cleared yet")

	w.claim.Store(0)
	<-done
	assert.Equal(t, Counts{}, w.Counts(sec(0.7)))
	assert.Equal(t, one(Failure, 1), w.Totals(), "the totals survive Clear")
	assert.Equal(t, uint32(0), w.claim.Load(), "Clear releases the claim")
}

// A reader never mixes two snapshots. Finding the oldest bucket's
// snapshot being rewritten in place (its sequence odd, as Clear leaves it
// midway) it waits rather than subtract half-old, half-new sums.
func TestTimeWindowReaderWaitsForASnapshotBeingRewritten(t *testing.T) {
	s := NewStripes()
	w := NewTimeWindow(s, time.Second, 10, 0)
	for range 3 {
		w.Record(sec(0.5), Success)
	}
	w.Record(sec(0.5), Failure)
	w.Record(sec(0.5), Failure)

	// A Clear at 0.5s is under way: it has begun rewriting the snapshot
	// of bucket -9 (the oldest of the window at 0.5s) with the current
	// sums, and written the successes but not yet the failures.
	require.True(t, w.claim.CompareAndSwap(0, 1))
	sums := s.Sum()
	snap := &w.snaps[w.slot(-9)]
	snap.seq.Inc()
	snap.sums[Success].Store(sums[Success])

	done := make(chan struct{})
	var got Counts
	go func() {
		defer close(done)
		got = w.Counts(sec(0.5))
	}()
	require.True(t, stillRunning(done), "the reader must wait for the snapshot")

	// The Clear finishes, as restart writes it.
	snap.sums[Failure].Store(sums[Failure])
	snap.seq.Inc()
	for b := int64(-8); b <= 0; b++ {
		w.write(b, sums)
	}
	w.publish(0)
	w.claim.Store(0)
	<-done
	assert.Equal(t, Counts{}, got, "the cleared window, not a torn one")
}

// A reader finding the oldest bucket's slot taken by a newer bucket (a
// rotation reused it after the reader computed its window) starts again
// from the newest bucket, and counts the window that rotation made.
func TestTimeWindowReaderRetriesAfterARotationPastItsWindow(t *testing.T) {
	s := NewStripes()
	w := NewTimeWindow(s, time.Second, 10, 0)
	for range 3 {
		w.Record(sec(0.5), Success)
	}

	// A rotation to bucket 1 is under way: it reuses the slot of bucket
	// -9, the oldest of the window a reader at 0.5s computes, and has
	// written half of it.
	require.True(t, w.claim.CompareAndSwap(0, 1))
	require.Equal(t, w.slot(1), w.slot(-9))
	snap := &w.snaps[w.slot(-9)]
	snap.seq.Inc()
	snap.bucket.Store(1)
	snap.sums[Success].Store(3)

	done := make(chan struct{})
	var got Counts
	go func() {
		defer close(done)
		got = w.Counts(sec(0.5))
	}()
	require.True(t, stillRunning(done), "the reader must wait for the rotation")

	// The rotation finishes.
	snap.seq.Inc()
	w.publish(1)
	w.claim.Store(0)
	<-done
	// Read as of the newest rotation (bucket 1), the window holds buckets
	// -8 to 1: the three successes of bucket 0.
	assert.Equal(t, one(Success, 3), got)
	assert.Equal(t, one(Success, 3), w.Counts(sec(1.5)))
}
