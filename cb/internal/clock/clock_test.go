package clock

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestNowIsMonotonic(t *testing.T) {
	prev := Now()
	for range 1000 {
		n := Now()
		assert.GreaterOrEqual(t, n, prev)
		prev = n
	}
}

// Inside a bubble readings may be negative but must follow fake time exactly.
func TestNowInsideSynctestBubble(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := Now()
		time.Sleep(1500 * time.Millisecond)
		assert.Equal(t, 1500*time.Millisecond, Now()-start)
	})
}

func BenchmarkNow(b *testing.B) {
	b.ReportAllocs()
	var sink time.Duration
	for b.Loop() {
		sink += Now()
	}
	_ = sink
}
