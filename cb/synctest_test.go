package cb_test

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
)

// Inside a synctest bubble the default (real) clock follows the bubble's
// fake time, so code using a breaker with no Clock configured is tested
// exactly, with sleeps that take no real time.
func TestRealClockInsideSynctestBubble(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, err := cb.New[int]("bubble", cb.Config{ConsecutiveFailures: 1, OpenTimeout: 30 * time.Second, SuccessThreshold: 1})
		require.NoError(t, err)

		_, r := b.Execute(func() (int, error) {
			time.Sleep(6 * time.Second) // slower than the default SlowCallDuration of 5s
			return 0, errors.New("down")
		})
		assert.Equal(t, 6*time.Second, r.Duration)
		assert.True(t, r.Slow)
		require.Equal(t, cb.Open, b.State())

		time.Sleep(10 * time.Second)
		_, r = b.Execute(func() (int, error) { return 1, nil })
		assert.Equal(t, cb.Rejected, r.Outcome)
		assert.Equal(t, 20*time.Second, r.RetryAfter)

		time.Sleep(20 * time.Second)
		assert.Equal(t, cb.HalfOpen, b.State())
		v, r := b.Execute(func() (int, error) { return 7, nil })
		assert.Equal(t, 7, v)
		assert.Equal(t, cb.HalfOpen, r.State)
		assert.Equal(t, cb.Closed, b.State())
	})
}

// A CoarseClock started inside a bubble ticks with the bubble's time and
// its goroutine ends with Stop, as synctest requires.
func TestCoarseClockInsideSynctestBubble(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk, err := cb.NewCoarseClock(time.Millisecond)
		require.NoError(t, err)
		defer clk.Stop()
		start := clk.Now()
		time.Sleep(50 * time.Millisecond)
		synctest.Wait()
		assert.Equal(t, 50*time.Millisecond, clk.Now()-start)
	})
}
