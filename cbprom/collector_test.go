package cbprom_test

import (
	"maps"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cb/cbtest"
	"github.com/tripswitch/tripswitch/cbprom"
	"github.com/tripswitch/tripswitch/internal/exporttest"
	"github.com/tripswitch/tripswitch/registry"
)

// family is what a scrape must show of one family: its type, and for
// each breaker its series (by their labels but name) and values.
type family struct {
	typ    dto.MetricType
	series map[string]map[string]float64
}

// expect restates, from each breaker's Metrics, every series the
// documentation promises.
func expect(t *testing.T, all map[string]cb.Metrics) map[string]family {
	t.Helper()
	require.Len(t, exporttest.ReasonLabels, len(cb.Reasons())-2, "every reason has its label here but the shadow switches, which are no transition")
	gauge, counter := dto.MetricType_GAUGE, dto.MetricType_COUNTER
	fams := map[string]family{}
	put := func(name string, typ dto.MetricType, breaker, labels string, v float64) {
		f, ok := fams[name]
		if !ok {
			f = family{typ: typ, series: map[string]map[string]float64{}}
			fams[name] = f
		}
		if f.series[breaker] == nil {
			f.series[breaker] = map[string]float64{}
		}
		f.series[breaker][labels] = v
	}
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	for n, m := range all {
		for s, l := range exporttest.StateLabels {
			put("tripswitch_circuit_state", gauge, n, "state="+l, b2f(m.State == s))
		}
		put("tripswitch_circuit_forced", gauge, n, "", b2f(m.Forced))
		put("tripswitch_circuit_state_age_seconds", gauge, n, "", m.StateSince.Seconds())
		put("tripswitch_calls_total", counter, n, "outcome=success", float64(m.TotalCalls-m.TotalFailures))
		put("tripswitch_calls_total", counter, n, "outcome=failure", float64(m.TotalFailures))
		put("tripswitch_calls_total", counter, n, "outcome=ignored", float64(m.TotalIgnored))
		put("tripswitch_calls_total", counter, n, "outcome=rejected", float64(m.TotalRejected))
		put("tripswitch_calls_total", counter, n, "outcome=stale", float64(m.TotalStale))
		put("tripswitch_slow_calls_total", counter, n, "", float64(m.TotalSlowCalls))
		for r, l := range exporttest.ReasonLabels {
			put("tripswitch_transitions_total", counter, n, "reason="+l+",to="+exporttest.StateLabels[r.To()], float64(m.Transitions.By(r)))
		}
		put("tripswitch_window_calls", gauge, n, "", float64(m.Calls))
		if m.Calls > 0 {
			put("tripswitch_window_failure_ratio", gauge, n, "", m.FailureRate)
			put("tripswitch_window_slow_call_ratio", gauge, n, "", m.SlowCallRate)
		}
		put("tripswitch_half_open_probes_in_flight", gauge, n, "", float64(m.HalfOpenInFlight))
		put("tripswitch_retry_after_seconds", gauge, n, "", m.RetryAfter.Seconds())
	}
	return fams
}

// checkScrape compares a parsed scrape with the expected families, family
// by family, series by series.
func checkScrape(t *testing.T, got map[string]*dto.MetricFamily, want map[string]family) {
	t.Helper()
	assert.ElementsMatch(t, slices.Collect(maps.Keys(want)), slices.Collect(maps.Keys(got)), "the families")
	for name, w := range want {
		mf, ok := got[name]
		if !assert.True(t, ok, name) {
			continue
		}
		assert.Equal(t, w.typ, mf.GetType(), name)
		assert.NotEmpty(t, mf.GetHelp(), name)
		byBreaker := series(mf)
		assert.ElementsMatch(t, slices.Collect(maps.Keys(w.series)), slices.Collect(maps.Keys(byBreaker)), "%s: the breakers", name)
		for breaker, ws := range w.series {
			gs := byBreaker[breaker]
			assert.ElementsMatch(t, slices.Collect(maps.Keys(ws)), slices.Collect(maps.Keys(gs)), "%s{name=%q}: the series", name, breaker)
			for labels, v := range ws {
				if m, ok := gs[labels]; ok {
					assert.InDelta(t, v, valueOf(m), 0, "%s{name=%q,%s}", name, breaker, labels)
				}
			}
		}
	}
}

func scripted(t *testing.T) (*registry.Registry, *cbtest.Clock) {
	t.Helper()
	reg := registry.New()
	clock := cbtest.NewClock()
	exporttest.Script(reg, clock)
	return reg, clock
}

// A real scrape over HTTP shows, family by family, what each breaker's
// Metrics says, after a sequence that visits every state.
func TestScrapeShowsMetrics(t *testing.T) {
	reg, _ := scripted(t)
	pr := prometheus.NewPedanticRegistry()
	require.NoError(t, pr.Register(cbprom.New(reg)))
	e := serve(t, pr)

	got, err := e.scrapeText()
	require.NoError(t, err)
	checkScrape(t, got, expect(t, reg.AllMetrics()))

	// The script's own figures, as a reader of the dashboard sees them.
	value := func(fam, breaker, labels string) float64 {
		m, ok := series(got[fam])[breaker][labels]
		require.True(t, ok, "%s{name=%q,%s}", fam, breaker, labels)
		return valueOf(m)
	}
	assert.InDelta(t, exporttest.UsersSuccesses, value("tripswitch_calls_total", exporttest.Users, "outcome=success"), 0)
	assert.InDelta(t, exporttest.UsersFailures, value("tripswitch_calls_total", exporttest.Users, "outcome=failure"), 0)
	assert.InDelta(t, exporttest.UsersIgnored, value("tripswitch_calls_total", exporttest.Users, "outcome=ignored"), 0)
	assert.InDelta(t, exporttest.UsersRejected, value("tripswitch_calls_total", exporttest.Users, "outcome=rejected"), 0)
	assert.InDelta(t, exporttest.UsersStale, value("tripswitch_calls_total", exporttest.Users, "outcome=stale"), 0)
	assert.InDelta(t, exporttest.UsersSlow, value("tripswitch_slow_calls_total", exporttest.Users, ""), 0)
	assert.InDelta(t, 1, value("tripswitch_transitions_total", exporttest.Users, "reason=consecutive_failures,to=open"), 0)
	assert.InDelta(t, 1, value("tripswitch_transitions_total", exporttest.Users, "reason=open_timeout_elapsed,to=half_open"), 0)
	assert.InDelta(t, 1, value("tripswitch_transitions_total", exporttest.Users, "reason=probes_succeeded,to=closed"), 0)
	assert.InDelta(t, 0, value("tripswitch_transitions_total", exporttest.Users, "reason=reset,to=closed"), 0)
	assert.InDelta(t, exporttest.UsersWindowCalls, value("tripswitch_window_calls", exporttest.Users, ""), 0)
	assert.InDelta(t, 0.25, value("tripswitch_window_failure_ratio", exporttest.Users, ""), 0)
	assert.InDelta(t, 0.25, value("tripswitch_window_slow_call_ratio", exporttest.Users, ""), 0)
	assert.InDelta(t, 1, value("tripswitch_circuit_state", exporttest.Users, "state=closed"), 0)
	assert.InDelta(t, 1, value("tripswitch_circuit_state", exporttest.Search, "state=open"), 0)
	assert.InDelta(t, 1, value("tripswitch_circuit_forced", exporttest.Search, ""), 0)
	assert.InDelta(t, 0, value("tripswitch_retry_after_seconds", exporttest.Search, ""), 0)
	assert.InDelta(t, exporttest.PaymentsRetryAfter.Seconds(), value("tripswitch_retry_after_seconds", exporttest.Payments, ""), 0)
	assert.InDelta(t, 6, value("tripswitch_circuit_state_age_seconds", exporttest.Payments, ""), 0)
	assert.InDelta(t, 1, value("tripswitch_circuit_state", exporttest.Inventory, "state=half_open"), 0)
	assert.InDelta(t, 1, value("tripswitch_half_open_probes_in_flight", exporttest.Inventory, ""), 0)

	// An empty window has no ratio: the series is absent, not 0 or NaN.
	assert.NotContains(t, series(got["tripswitch_window_failure_ratio"]), exporttest.Idle)
	assert.NotContains(t, series(got["tripswitch_window_slow_call_ratio"]), exporttest.Search)
	assert.InDelta(t, 0, value("tripswitch_window_calls", exporttest.Idle, ""), 0)
}

// Time moves on between scrapes: the next one reads the breakers anew
// (the open breaker's wait shrinks, the held one does not move).
func TestScrapeReadsBreakersAnew(t *testing.T) {
	reg, clock := scripted(t)
	pr := prometheus.NewPedanticRegistry()
	require.NoError(t, pr.Register(cbprom.New(reg)))
	e := serve(t, pr)

	clock.Advance(exporttest.PaymentsRetryAfter) // Payments' open time is over
	got, err := e.scrapeText()
	require.NoError(t, err)
	checkScrape(t, got, expect(t, reg.AllMetrics()))
	p := series(got["tripswitch_circuit_state"])[exporttest.Payments]
	assert.InDelta(t, 1, valueOf(p["state=half_open"]), 0, "the scrape itself made the open-timeout transition")
	tr := series(got["tripswitch_transitions_total"])[exporttest.Payments]
	assert.InDelta(t, 1, valueOf(tr["reason=open_timeout_elapsed,to=half_open"]), 0)
}

// Counters carry the breaker's Created time, which the protobuf format
// transmits; gauges have none.
func TestCountersCarryCreatedTimestamps(t *testing.T) {
	reg, _ := scripted(t)
	pr := prometheus.NewPedanticRegistry()
	require.NoError(t, pr.Register(cbprom.New(reg)))
	got, err := serve(t, pr).scrapeProto()
	require.NoError(t, err)

	for name, mf := range got {
		for _, m := range mf.GetMetric() {
			breaker := labelsOf(m)["name"]
			c, ok := reg.Lookup(breaker)
			require.True(t, ok, breaker)
			if mf.GetType() == dto.MetricType_COUNTER {
				require.NotNil(t, m.GetCounter().GetCreatedTimestamp(), "%s{name=%q}", name, breaker)
				assert.True(t, c.Created().Equal(m.GetCounter().GetCreatedTimestamp().AsTime()), "%s{name=%q}", name, breaker)
			} else {
				assert.Nil(t, m.GetCounter(), name)
			}
		}
	}
}

// promlint finds nothing to object to in any family.
func TestLintClean(t *testing.T) {
	reg, _ := scripted(t)
	problems, err := testutil.CollectAndLint(cbprom.New(reg))
	require.NoError(t, err)
	assert.Empty(t, problems)
}

// Breakers added to the registry appear at the next scrape; removed ones
// disappear from it.
func TestBreakersComeAndGo(t *testing.T) {
	reg := registry.New()
	pr := prometheus.NewPedanticRegistry()
	require.NoError(t, pr.Register(cbprom.New(reg)))
	e := serve(t, pr)
	names := func() []string {
		got, err := e.scrapeText()
		require.NoError(t, err)
		return slices.Sorted(maps.Keys(series(got["tripswitch_calls_total"])))
	}

	got, err := e.scrapeText()
	require.NoError(t, err)
	assert.Empty(t, got, "an empty registry has no series")

	cfg := cb.Config{Clock: cbtest.NewClock()}
	_, err = registry.Get[int](reg, "a", cfg)
	require.NoError(t, err)
	assert.Equal(t, []string{"a"}, names())

	_, err = registry.Get[string](reg, "b", cfg)
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b"}, names())

	require.True(t, reg.Remove("a"))
	assert.Equal(t, []string{"b"}, names())

	// A breaker made again under a removed name starts from zero, with a
	// new created timestamp.
	require.True(t, reg.Remove("b"))
	b, err := registry.Get[int](reg, "b", cfg)
	require.NoError(t, err)
	b.Execute(func() (int, error) { return 1, nil })
	proto, err := e.scrapeProto()
	require.NoError(t, err)
	calls := series(proto["tripswitch_calls_total"])["b"]
	assert.InDelta(t, 1, valueOf(calls["outcome=success"]), 0)
	assert.True(t, b.Created().Equal(calls["outcome=success"].GetCounter().GetCreatedTimestamp().AsTime()))
}

func TestOptions(t *testing.T) {
	reg, _ := scripted(t)
	c, err := cbprom.NewChecked(reg, cbprom.WithNamespace("app_cb"), cbprom.WithConstLabels(prometheus.Labels{"registry": "outbound"}), nil)
	require.NoError(t, err)
	pr := prometheus.NewPedanticRegistry()
	require.NoError(t, pr.Register(c))
	// A second collector of the same registry, told apart by its labels.
	require.NoError(t, pr.Register(cbprom.New(reg, cbprom.WithNamespace("app_cb"), cbprom.WithConstLabels(prometheus.Labels{"registry": "inbound"}))))
	got, err := serve(t, pr).scrapeText()
	require.NoError(t, err)

	mf := got["app_cb_calls_total"]
	require.NotNil(t, mf, "the namespace replaces tripswitch")
	assert.NotContains(t, got, "tripswitch_calls_total")
	regs := map[string]int{}
	for _, m := range mf.GetMetric() {
		regs[labelsOf(m)["registry"]]++
	}
	assert.Equal(t, map[string]int{"outbound": 5 * len(exporttest.Names), "inbound": 5 * len(exporttest.Names)}, regs)
}

func TestInvalidOptions(t *testing.T) {
	reg := registry.New()
	for _, tc := range []struct {
		name string
		opt  cbprom.Option
	}{
		{"empty namespace", cbprom.WithNamespace("")},
		{"namespace with a dot", cbprom.WithNamespace("my.app")},
		{"namespace starting with a digit", cbprom.WithNamespace("9lives")},
		{"label of the collector", cbprom.WithConstLabels(prometheus.Labels{"name": "x"})},
		{"reserved label", cbprom.WithConstLabels(prometheus.Labels{"__name__": "x"})},
		{"invalid label", cbprom.WithConstLabels(prometheus.Labels{"a-b": "x"})},
		{"label value not UTF-8", cbprom.WithConstLabels(prometheus.Labels{"zone": "\xff"})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := cbprom.NewChecked(reg, tc.opt)
			require.ErrorIs(t, err, cbprom.ErrInvalidOption)
			assert.Nil(t, c)
			assert.PanicsWithError(t, err.Error(), func() { cbprom.New(reg, tc.opt) })
		})
	}

	// Every fault is named, not just the first.
	_, err := cbprom.NewChecked(reg, cbprom.WithNamespace("a.b"), cbprom.WithConstLabels(prometheus.Labels{"to": "x", "reason": "y"}))
	require.ErrorIs(t, err, cbprom.ErrInvalidOption)
	assert.Contains(t, err.Error(), `"a.b"`)
	assert.Contains(t, err.Error(), `"to"`)
	assert.Contains(t, err.Error(), `"reason"`)

	assert.Panics(t, func() { cbprom.New(nil) })
}
