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

const pkgPath = "github.com/tripswitch/tripswitch/registry_test"

func fetchQuote() (float64, error) { return 42.5, nil }

type quoteClient struct{ price float64 }

func (c *quoteClient) Fetch() (float64, error) { return c.price, nil }

func (c quoteClient) FetchByValue() (float64, error) { return c.price, nil }

func TestWrapNamesAfterTheFunction(t *testing.T) {
	cfg := cb.Config{Clock: cbtest.NewClock()}
	c := &quoteClient{price: 7}
	tests := []struct {
		name string
		fn   func() (float64, error)
		want string
		v    float64
	}{
		{"function", fetchQuote, pkgPath + ".fetchQuote", 42.5},
		{"method value", c.Fetch, pkgPath + ".(*quoteClient).Fetch", 7},
		{"value receiver", c.FetchByValue, pkgPath + ".quoteClient.FetchByValue", 7},
		{"function literal", func() (float64, error) { return c.Fetch() }, pkgPath + ".TestWrapNamesAfterTheFunction.func1", 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := registry.New()
			wrapped, err := registry.Wrap(r, "", cfg, tt.fn)
			require.NoError(t, err)
			require.NotNil(t, wrapped)
			assert.Equal(t, []string{tt.want}, r.Names())

			v, err := wrapped()
			require.NoError(t, err)
			assert.InDelta(t, tt.v, v, 0)
			c, found := r.Lookup(tt.want)
			require.True(t, found)
			assert.EqualValues(t, 1, c.Metrics().TotalCalls)
		})
	}
}

func TestWrapExplicitNameSharesTheBreaker(t *testing.T) {
	r := registry.New()
	clk := cbtest.NewClock()
	cfg := tripConfig(clk)
	b, err := registry.Get[float64](r, "quotes", cfg)
	require.NoError(t, err)

	wrapped, err := registry.Wrap(r, "quotes", cfg, fetchQuote)
	require.NoError(t, err)
	assert.Equal(t, []string{"quotes"}, r.Names())
	_, err = wrapped()
	require.NoError(t, err)
	assert.EqualValues(t, 1, b.Metrics().TotalCalls)

	// Two wrappers of one name share its breaker, a zero Config included.
	failing, err := registry.Wrap(r, "quotes", cb.Config{}, func() (float64, error) { return 0, errBoom })
	require.NoError(t, err)
	_, err = failing()
	require.ErrorIs(t, err, errBoom)
	assert.Equal(t, cb.Open, b.State())
}

func TestWrapPassesResultsAndRejects(t *testing.T) {
	r := registry.New()
	clk := cbtest.NewClock()
	cfg := cb.Config{Clock: clk, ConsecutiveFailures: 2, OpenTimeout: time.Minute, SuccessThreshold: 1}
	calls := 0
	results := []struct {
		v   string
		err error
	}{{"first", nil}, {"partial", errBoom}, {"", errBoom}, {"unused", nil}}
	wrapped, err := registry.Wrap(r, "lookup", cfg, func() (string, error) {
		res := results[calls]
		calls++
		return res.v, res.err
	})
	require.NoError(t, err)

	v, err := wrapped()
	require.NoError(t, err)
	assert.Equal(t, "first", v)

	// fn's value and error both come back unchanged.
	v, err = wrapped()
	assert.Same(t, errBoom, err)
	assert.Equal(t, "partial", v)
	v, err = wrapped()
	assert.Same(t, errBoom, err)
	assert.Empty(t, v)

	// Two failures in a row opened it: fn is not called.
	v, err = wrapped()
	require.ErrorIs(t, err, cb.ErrOpen)
	assert.Empty(t, v)
	assert.Equal(t, 3, calls)
	var oe *cb.OpenError
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, "lookup", oe.Name)
	assert.Equal(t, cb.Open, oe.State)
	assert.Equal(t, `tripswitch: circuit "lookup" is open`, err.Error())

	// After the open timeout a probe runs fn again.
	clk.Advance(time.Minute)
	v, err = wrapped()
	require.NoError(t, err)
	assert.Equal(t, "unused", v)
	assert.Equal(t, 4, calls)
}

func TestWrapPanicCountsAsFailure(t *testing.T) {
	r := registry.New()
	wrapped, err := registry.Wrap(r, "panicky", tripConfig(cbtest.NewClock()), func() (int, error) {
		panic("kaboom")
	})
	require.NoError(t, err)
	assert.PanicsWithValue(t, "kaboom", func() { _, _ = wrapped() })
	c, found := r.Lookup("panicky")
	require.True(t, found)
	assert.Equal(t, cb.Open, c.State())
}

func TestWrapErrors(t *testing.T) {
	r := registry.New()
	cfg := cb.Config{Clock: cbtest.NewClock()}

	wrapped, err := registry.Wrap[int](r, "nil", cfg, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "nil function")
	assert.Nil(t, wrapped)
	assert.Empty(t, r.Names())

	wrapped, err = registry.Wrap(r, "bad", cb.Config{MinimumCalls: -1}, ok)
	require.ErrorIs(t, err, cb.ErrInvalidConfig)
	assert.Nil(t, wrapped)

	_, err = registry.Get[string](r, "taken", cfg)
	require.NoError(t, err)
	wrapped, err = registry.Wrap(r, "taken", cfg, ok)
	require.ErrorIs(t, err, registry.ErrTypeMismatch)
	assert.Nil(t, wrapped)

	wrappedString, err := registry.Wrap(r, "taken", cb.Config{OpenTimeout: time.Hour}, func() (string, error) { return "", nil })
	require.ErrorIs(t, err, registry.ErrConfigConflict)
	assert.Nil(t, wrappedString)
	assert.Equal(t, []string{"taken"}, r.Names())
	assert.NotErrorIs(t, err, cb.ErrOpen)
}
