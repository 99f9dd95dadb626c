package ring

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// Fast is the breaker's whole window work for a fast success: it records
// only while the reading is before the next bucket boundary, and otherwise
// records nothing and says so, leaving the rotation to Record. A success
// it reports as recorded must count exactly as Record would count it.
func TestTimeWindowFastRecordsOnlyBeforeTheNextBoundary(t *testing.T) {
	s := NewStripes()
	w := NewTimeWindow(s, time.Second, 10, 0)

	assert.True(t, w.RecordFastSuccess(sec(0.5)))
	assert.True(t, w.RecordFastSuccess(time.Second-1), "the last reading of bucket 0")
	assert.Equal(t, one(Success, 2), w.Counts(time.Second-1))

	assert.False(t, w.RecordFastSuccess(time.Second), "bucket 1 begins: a rotation is due")
	assert.False(t, w.RecordFastSuccess(sec(3.5)))
	assert.Equal(t, one(Success, 2), s.Sum(), "a refused Fast records nothing")

	w.Record(sec(1.5), Failure) // rotates to bucket 1
	assert.True(t, w.RecordFastSuccess(sec(1.7)))
	assert.True(t, w.RecordFastSuccess(sec(0.2)), "a reading older than the newest rotation lands in the current bucket")
	assert.Equal(t, Counts{Success: 4, Failure: 1}, w.Counts(sec(1.7)))
	// Bucket 0 leaves at 10s: the two successes of bucket 1 stay with the
	// failure, as they would had Record counted them.
	assert.Equal(t, Counts{Success: 2, Failure: 1}, w.Counts(sec(10.5)))

	// After an idle gap longer than the window, nothing is fast until a
	// Record has rotated.
	assert.False(t, w.RecordFastSuccess(sec(100)))
	w.Record(sec(100), SlowSuccess)
	assert.True(t, w.RecordFastSuccess(sec(100.5)))
	assert.Equal(t, Counts{Success: 1, SlowSuccess: 1}, w.Counts(sec(100.5)))
	assert.Equal(t, Counts{Success: 5, Failure: 1, SlowSuccess: 1}, w.Totals())
}

// Negative readings are bucketed by floor division, so the boundary after
// -25.5s is -25s, not -26s.
func TestTimeWindowFastWithNegativeReadings(t *testing.T) {
	w := NewTimeWindow(NewStripes(), time.Second, 10, sec(-25.5))
	assert.True(t, w.RecordFastSuccess(sec(-25.1)))
	assert.False(t, w.RecordFastSuccess(sec(-25)))
	assert.Equal(t, one(Success, 1), w.Counts(sec(-25.1)))
}
