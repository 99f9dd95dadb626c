package cbredis_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/internal/redistest"
)

func TestFleetWindowOpensEveryReplica(t *testing.T) {
	srv := redistest.Start(t)
	rs := fleetOf(t, []string{srv.Addr()}, 8, "payments", fastConfig())
	for _, r := range rs {
		r.fail(3) // 24 failures in all; 3 alone is below MinimumCalls
	}
	for _, r := range rs {
		require.Equal(t, cb.Closed, r.b.State())
	}
	took := within(t, 2*time.Second, "every replica open", func() bool { return allIn(rs, cb.Open) })
	t.Logf("every replica open %v after the last failure", took)
	assert.LessOrEqual(t, took, 2*interval+300*time.Millisecond)
}
