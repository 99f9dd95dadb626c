package exporttest_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cb/cbtest"
	"github.com/tripswitch/tripswitch/internal/exporttest"
	"github.com/tripswitch/tripswitch/registry"
)

// The figures the package documents are the ones Script leaves.
func TestScriptLeavesWhatItSays(t *testing.T) {
	reg := registry.New()
	probe := exporttest.Script(reg, cbtest.NewClock())
	require.Equal(t, exporttest.Names, reg.Names())
	all := reg.AllMetrics()

	u := all[exporttest.Users]
	assert.Equal(t, cb.Closed, u.State)
	assert.Equal(t, uint64(exporttest.UsersSuccesses), u.TotalCalls-u.TotalFailures)
	assert.Equal(t, uint64(exporttest.UsersFailures), u.TotalFailures)
	assert.Equal(t, uint64(exporttest.UsersIgnored), u.TotalIgnored)
	assert.Equal(t, uint64(exporttest.UsersRejected), u.TotalRejected)
	assert.Equal(t, uint64(exporttest.UsersStale), u.TotalStale)
	assert.Equal(t, uint64(exporttest.UsersSlow), u.TotalSlowCalls)
	assert.Equal(t, uint64(exporttest.UsersWindowCalls), u.Calls)
	assert.InDelta(t, 0.25, u.FailureRate, 0)
	assert.InDelta(t, 0.25, u.SlowCallRate, 0)
	assert.Equal(t, uint64(1), u.Transitions.By(cb.ReasonConsecutiveFailures))
	assert.Equal(t, uint64(1), u.Transitions.By(cb.ReasonOpenTimeout))
	assert.Equal(t, uint64(1), u.Transitions.By(cb.ReasonProbesSucceeded))
	assert.Equal(t, uint64(3), u.Transitions.Total())

	s := all[exporttest.Search]
	assert.Equal(t, cb.Open, s.State)
	assert.True(t, s.Forced)
	assert.Zero(t, s.RetryAfter)

	p := all[exporttest.Payments]
	assert.Equal(t, cb.Open, p.State)
	assert.Equal(t, exporttest.PaymentsRetryAfter, p.RetryAfter)

	i := all[exporttest.Inventory]
	assert.Equal(t, cb.HalfOpen, i.State)
	assert.Equal(t, 1, i.HalfOpenInFlight)

	assert.Zero(t, all[exporttest.Idle].Calls)

	probe.Done(1, nil)
	assert.Zero(t, reg.AllMetrics()[exporttest.Inventory].HalfOpenInFlight)
}
