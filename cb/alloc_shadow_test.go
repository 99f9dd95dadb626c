package cb_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/tripswitch/tripswitch/cb"
)

func shadowOK() (int, error) { return 1, nil }

// A call a shadow breaker would have rejected runs without allocating,
// through every entry point, as a rejection does; and a breaker's hot
// path allocates nothing after a Reconfigure.
func TestAllocsShadowAndReconfigured(t *testing.T) {
	b := cb.MustNew[int]("shadow-alloc", cb.Config{Shadow: true})
	b.ForceOpen()
	allocs := testing.AllocsPerRun(1, func() {
		for range 1000 {
			b.Execute(shadowOK)
			_, _ = b.Call(shadowOK)
			p, _ := b.Allow()
			p.Done(1, nil)
		}
	})
	assert.Zero(t, allocs)
	assert.Equal(t, uint64(2*3*1000), b.Metrics().TotalRejected)

	c := cb.MustNew[int]("reconfigured-alloc", cb.Config{})
	if err := c.Reconfigure(cb.Config{WindowCalls: 50, SlowCallDuration: cb.Off}); err != nil {
		t.Fatal(err)
	}
	allocs = testing.AllocsPerRun(1, func() {
		for range 1000 {
			c.Execute(shadowOK)
			_, _ = c.Call(shadowOK)
			p, _ := c.Allow()
			p.Done(1, nil)
		}
	})
	assert.Zero(t, allocs)
}
