package cbtest_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb/cbtest"
)

func TestClockMovesOnlyWhenTold(t *testing.T) {
	c := cbtest.NewClock()
	assert.Equal(t, time.Duration(0), c.Now())
	assert.Equal(t, time.Second, c.Advance(time.Second))
	assert.Equal(t, time.Second, c.Now())
	c.Set(time.Minute)
	assert.Equal(t, time.Minute, c.Now())
	c.Set(time.Minute) // the same reading is allowed
	assert.Equal(t, time.Minute, c.Now())

	var zero cbtest.Clock
	assert.Equal(t, time.Duration(0), zero.Now())
}

func TestClockRefusesToGoBack(t *testing.T) {
	c := cbtest.NewClock()
	c.Advance(time.Second)
	require.PanicsWithValue(t, "cbtest: Clock.Advance with a negative duration", func() { c.Advance(-1) })
	require.PanicsWithValue(t, "cbtest: Clock.Set to an earlier reading", func() { c.Set(time.Millisecond) })
	assert.Equal(t, time.Second, c.Now())
}

func TestClockConcurrentAdvance(t *testing.T) {
	c := cbtest.NewClock()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				c.Advance(time.Millisecond)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 8*time.Second, c.Now())
}
