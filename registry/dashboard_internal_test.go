package registry

import (
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cb/cbtest"
)

// wall is a settable wall clock for the dashboard's rates and dates.
type wall struct {
	mu sync.Mutex
	t  time.Time
}

func newWall() *wall { return &wall{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (w *wall) Now() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.t
}

func (w *wall) Advance(d time.Duration) {
	w.mu.Lock()
	w.t = w.t.Add(d)
	w.mu.Unlock()
}

type polled struct {
	Since    int64 `json:"since"`
	Breakers []struct {
		Name              string            `json:"name"`
		CallsPerSecond    *float64          `json:"calls_per_second"`
		RejectedPerSecond *float64          `json:"rejected_per_second"`
		History           []json.RawMessage `json:"history"`
		Transitions       []eventJSON       `json:"transitions"`
	} `json:"breakers"`
}

func pollData(t *testing.T, d *Dashboard, since int64) polled {
	t.Helper()
	body, err := d.data(d.instance, strconv.FormatInt(since, 10), "0")
	require.NoError(t, err)
	var p polled
	require.NoError(t, json.Unmarshal(body, &p))
	return p
}

var errDash = errors.New("down")

func okCall() (int, error)   { return 1, nil }
func failCall() (int, error) { return 0, errDash }

// Calls and rejections per second come from the totals of two points a
// refresh apart; a breaker's first point, a gap in the polling and a name
// that now holds another breaker have none.
func TestDashboardRates(t *testing.T) {
	w := newWall()
	r := New()
	clk := cbtest.NewClock()
	cfg := cb.Config{Clock: clk, ConsecutiveFailures: 1, OpenTimeout: time.Hour}
	b, err := Get[int](r, "b", cfg)
	require.NoError(t, err)
	d, err := newDashboard(r, w.Now, nil)
	require.NoError(t, err)
	t.Cleanup(d.Close)

	first := pollData(t, d, 0)
	assert.Nil(t, first.Breakers[0].CallsPerSecond)

	for range 10 {
		b.Execute(okCall)
	}
	b.Execute(failCall) // opens
	for range 4 {
		b.Execute(okCall) // rejected
	}
	w.Advance(2 * time.Second)
	second := pollData(t, d, first.Since)
	require.NotNil(t, second.Breakers[0].CallsPerSecond)
	assert.InDelta(t, 5.5, *second.Breakers[0].CallsPerSecond, 1e-6)
	assert.InDelta(t, 2.0, *second.Breakers[0].RejectedPerSecond, 1e-6)
	require.Len(t, second.Breakers[0].History, 1)
	assert.JSONEq(t, `[`+strconv.FormatInt(w.Now().UnixMilli(), 10)+`,5.5,2,0.09091,1]`, string(second.Breakers[0].History[0]))

	// Within a refresh: the same reading, no new point (the breaker's
	// transition above was read already).
	w.Advance(100 * time.Millisecond)
	again := pollData(t, d, second.Since)
	assert.Empty(t, again.Breakers[0].History)
	assert.Equal(t, second.Breakers[0].CallsPerSecond, again.Breakers[0].CallsPerSecond)

	// After a gap, no rate: an average over it would pass for a current one.
	w.Advance(time.Hour)
	gap := pollData(t, d, again.Since)
	assert.Nil(t, gap.Breakers[0].CallsPerSecond)
	assert.JSONEq(t, `[`+strconv.FormatInt(w.Now().UnixMilli(), 10)+`,null,null,0.09091,1]`, string(gap.Breakers[0].History[0]))

	// Another breaker under the same name starts its totals afresh.
	require.True(t, r.Remove("b"))
	_, err = Get[int](r, "b", cfg)
	require.NoError(t, err)
	w.Advance(time.Second)
	remade := pollData(t, d, gap.Since)
	assert.Nil(t, remade.Breakers[0].CallsPerSecond)
	w.Advance(time.Second)
	assert.NotNil(t, pollData(t, d, remade.Since).Breakers[0].CallsPerSecond)
}

// The history keeps a point per refresh over its span and no more, and
// forgets the breakers that left the registry.
func TestDashboardHistoryIsBounded(t *testing.T) {
	w := newWall()
	r := New()
	clk := cbtest.NewClock()
	_, err := Get[int](r, "kept", cb.Config{Clock: clk})
	require.NoError(t, err)
	_, err = Get[int](r, "gone", cb.Config{Clock: clk})
	require.NoError(t, err)
	d, err := newDashboard(r, w.Now, []DashboardOption{WithDashboardRefresh(time.Second), WithDashboardHistory(10 * time.Second)})
	require.NoError(t, err)
	t.Cleanup(d.Close)

	for range 100 {
		pollData(t, d, 0)
		w.Advance(time.Second)
	}
	d.mu.Lock()
	assert.LessOrEqual(t, len(d.history["kept"].points), 10*4/3+2)
	d.mu.Unlock()
	p := pollData(t, d, 0)
	require.Len(t, p.Breakers, 2)
	assert.Len(t, p.Breakers[0].History, 11, "the points within the span: 10s back, at one a second")

	r.Remove("gone")
	w.Advance(time.Second)
	pollData(t, d, 0)
	d.mu.Lock()
	assert.NotContains(t, d.history, "gone")
	assert.Len(t, d.history, 1)
	d.mu.Unlock()
}

// Each breaker keeps its last eventsPerBreaker transitions, and the
// dashboard forgets those of breakers gone from the registry, even if no
// page ever polls.
func TestDashboardTransitionsAreBounded(t *testing.T) {
	r := New()
	clk := cbtest.NewClock()
	b, err := Get[int](r, "flapping", cb.Config{Clock: clk})
	require.NoError(t, err)
	d, err := newDashboard(r, newWall().Now, nil)
	require.NoError(t, err)
	t.Cleanup(d.Close)

	for range 20 {
		b.ForceOpen()
		b.Reset()
	}
	p := pollData(t, d, 0)
	require.Len(t, p.Breakers[0].Transitions, eventsPerBreaker)
	assert.EqualValues(t, 40, p.Breakers[0].Transitions[eventsPerBreaker-1].ID, "the newest last")
	assert.EqualValues(t, 33, p.Breakers[0].Transitions[0].ID)

	// Names made and removed, with no page polling: the map stays bounded.
	for i := range 500 {
		name := "churn-" + strconv.Itoa(i)
		c, err := Get[int](r, name, cb.Config{Clock: clk})
		require.NoError(t, err)
		c.ForceOpen()
		r.Remove(name)
	}
	d.evMu.Lock()
	assert.LessOrEqual(t, len(d.events), 65)
	d.evMu.Unlock()
	pollData(t, d, 0)
	d.evMu.Lock()
	assert.Len(t, d.events, 1, "a reading forgets the names gone")
	d.evMu.Unlock()
}

// thresholdsOf mirrors how cb applies a Config; this checks it against
// what breakers do, so that a change in cb's defaults cannot leave the
// dashboard showing thresholds the breakers do not use.
func TestThresholdsMatchTheBreakers(t *testing.T) {
	for name, cfg := range map[string]cb.Config{
		"zero":          {},
		"explicit":      {FailureRateThreshold: 0.25, SlowCallRateThreshold: 0.8, MinimumCalls: 4, ConsecutiveFailures: 3, SlowCallDuration: time.Second},
		"count window":  {WindowCalls: 6},
		"rates off":     {FailureRateThreshold: cb.Off, SlowCallRateThreshold: cb.Off},
		"slow off":      {SlowCallDuration: cb.Off},
		"streak off":    {ConsecutiveFailures: cb.Off},
		"big count win": {WindowCalls: 200, MinimumCalls: 30, FailureRateThreshold: 0.7},
	} {
		t.Run(name, func(t *testing.T) {
			th := thresholdsOf(&cfg)
			checkStreak(t, cfg, th)
			checkMinimumCalls(t, cfg, th)
			checkRate(t, cfg, th, false)
			checkRate(t, cfg, th, true)
		})
	}
}

// trial runs calls on a fresh breaker made from cfg and returns after how
// many of the calls made by next it opened, or 0.
func trial(t *testing.T, cfg cb.Config, limit int, next func(i int, clk *cbtest.Clock) func() (int, error)) int {
	t.Helper()
	clk := cbtest.NewClock()
	cfg.Clock = clk
	b, err := cb.New[int]("trial", cfg)
	require.NoError(t, err)
	for i := range limit {
		b.Execute(next(i, clk))
		if b.State() == cb.Open {
			return i + 1
		}
	}
	return 0
}

func failures(int, *cbtest.Clock) func() (int, error) { return failCall }

func checkStreak(t *testing.T, cfg cb.Config, th thresholds) {
	cfg.FailureRateThreshold = cb.Off
	assert.Equal(t, th.ConsecutiveFailures, trial(t, cfg, 100, failures), "failures in a row that trip")
}

func checkMinimumCalls(t *testing.T, cfg cb.Config, th thresholds) {
	if th.FailureRate == nil {
		return
	}
	cfg.ConsecutiveFailures = cb.Off
	assert.Equal(t, th.MinimumCalls, trial(t, cfg, 100, failures), "calls before a failure rate of 1 trips")
}

// checkRate feeds twice MinimumCalls fast successes, then failures (or
// slow successes) until the breaker opens, and checks that the rate
// reached the threshold then and not one call before.
func checkRate(t *testing.T, cfg cb.Config, th thresholds, slow bool) {
	cfg.ConsecutiveFailures = cb.Off
	threshold := th.FailureRate
	if slow {
		cfg.FailureRateThreshold = cb.Off
		threshold = th.SlowCallRate
	}
	good := 2 * th.MinimumCalls
	if cfg.WindowCalls > 0 && cfg.WindowCalls < 4*good {
		return // the window would drop the successes before the rate is reached
	}
	slowFor := cfg.SlowCallDuration
	if slowFor == 0 {
		slowFor = cb.DefaultSlowCallDuration
	}
	if cfg.WindowCalls == 0 {
		cfg.Window = 24 * time.Hour // slow calls move the clock: nothing may age out
	}
	n := trial(t, cfg, 50*good, func(i int, clk *cbtest.Clock) func() (int, error) {
		switch {
		case i < good:
			return okCall
		case slow:
			return func() (int, error) { clk.Advance(slowFor + time.Millisecond); return 1, nil }
		default:
			return failCall
		}
	})
	if threshold == nil {
		assert.Zero(t, n, "slow %v: a rate that is off tripped", slow)
		return
	}
	require.Positive(t, n, "slow %v: never tripped", slow)
	bad := n - good
	assert.GreaterOrEqual(t, float64(bad)/float64(n), *threshold, "slow %v: tripped below the threshold", slow)
	assert.Less(t, float64(bad-1)/float64(n-1), *threshold, "slow %v: did not trip at the threshold", slow)
}
