package registry_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cb/cbtest"
	"github.com/tripswitch/tripswitch/registry"
)

// Reconfigure changes the breaker of a name; from then on Get compares
// with the new config, so the old one conflicts.
func TestReconfigure(t *testing.T) {
	r := registry.New()
	clk := cbtest.NewClock()
	old := cb.Config{ConsecutiveFailures: 2, Clock: clk}
	b, err := registry.Get[int](r, "db", old)
	require.NoError(t, err)

	next := cb.Config{ConsecutiveFailures: 1, OpenTimeout: time.Minute, Shadow: true}
	require.NoError(t, r.Reconfigure("db", next))
	assert.Equal(t, 1, b.Config().ConsecutiveFailures)
	assert.True(t, b.Metrics().Shadow)

	same, err := registry.Get[int](r, "db", next)
	require.NoError(t, err)
	assert.Same(t, b, same)
	_, err = registry.Get[int](r, "db", old)
	require.ErrorIs(t, err, registry.ErrConfigConflict)
	assert.Contains(t, err.Error(), "ConsecutiveFailures, OpenTimeout, Shadow")
	_, err = registry.Get[int](r, "db", cb.Config{})
	require.NoError(t, err, "a zero Config takes whatever the breaker has")

	shadowOff := next
	shadowOff.Shadow = false
	_, err = registry.Get[int](r, "db", shadowOff)
	require.ErrorIs(t, err, registry.ErrConfigConflict, "Shadow is a value field, compared")

	err = r.Reconfigure("db", cb.Config{Window: -1})
	require.ErrorIs(t, err, cb.ErrInvalidConfig)
	assert.Equal(t, time.Minute, b.Config().OpenTimeout, "nothing changed")

	err = r.Reconfigure("nope", next)
	require.ErrorIs(t, err, registry.ErrNotFound)
	assert.EqualError(t, err, `tripswitch: registry: no such breaker: "nope"`)

	c, ok := r.Lookup("db")
	require.True(t, ok)
	cfg := c.Config()
	cfg.Shadow = false
	require.NoError(t, r.Reconfigure("db", cfg))
	assert.False(t, b.Metrics().Shadow)
	assert.Same(t, clk, b.Config().Clock, "the breaker keeps its clock")
}
