package cbotel_test

import (
	"errors"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/tripswitch/tripswitch/cb/cbtest"
	"github.com/tripswitch/tripswitch/cbotel"
	"github.com/tripswitch/tripswitch/cbprom"
	"github.com/tripswitch/tripswitch/internal/exporttest"
	"github.com/tripswitch/tripswitch/registry"
)

// scrape serves g on a loopback port, fetches /metrics once as Prometheus
// would (in the text format) and parses it.
func scrape(t *testing.T, g prometheus.Gatherer) map[string]*dto.MetricFamily {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{
		Handler:           promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	client := &http.Client{Transport: &http.Transport{}}
	defer func() {
		client.CloseIdleConnections()
		require.NoError(t, srv.Close())
		require.ErrorIs(t, <-done, http.ErrServerClosed)
	}()

	resp, err := client.Get("http://" + ln.Addr().String() + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		require.NoError(t, errors.New(resp.Status+": "+string(body)))
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return fams
}

// seriesOf flattens a family to its series, keyed by their labels
// (name=value, sorted, comma-separated), with their values.
func seriesOf(mf *dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	for _, m := range mf.GetMetric() {
		var labels []string
		for _, l := range m.GetLabel() {
			labels = append(labels, l.GetName()+"="+l.GetValue())
		}
		sort.Strings(labels)
		v := m.GetGauge().GetValue()
		if mf.GetType() == dto.MetricType_COUNTER {
			v = m.GetCounter().GetValue()
		}
		out[strings.Join(labels, ",")] = v
	}
	return out
}

// The OpenTelemetry instruments, through the Prometheus exporter with its
// default translation, make exactly cbprom's families: the same names,
// types, help, labels and values, once the exporter's own additions
// (target_info, and the otel_scope_* labels on every series) are set
// aside.
func TestPrometheusTranslationMatchesCbprom(t *testing.T) {
	reg := registry.New()
	exporttest.Script(reg, cbtest.NewClock())

	direct := prometheus.NewPedanticRegistry()
	require.NoError(t, direct.Register(cbprom.New(reg)))

	viaOTel := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(viaOTel)) // only where it registers: the translation is the default
	require.NoError(t, err)
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	defer func() { assert.NoError(t, mp.Shutdown(t.Context())) }()
	obs, err := cbotel.New(reg, cbotel.WithMeterProvider(mp))
	require.NoError(t, err)
	defer func() { assert.NoError(t, obs.Close()) }()

	want := scrape(t, direct)
	got := scrape(t, viaOTel)

	require.Contains(t, got, "target_info", "the exporter describes its resource")
	delete(got, "target_info")
	for name, mf := range got {
		for _, m := range mf.GetMetric() {
			kept := m.Label[:0]
			scope := map[string]string{}
			for _, l := range m.GetLabel() {
				if strings.HasPrefix(l.GetName(), "otel_scope_") {
					scope[l.GetName()] = l.GetValue()
					continue
				}
				kept = append(kept, l)
			}
			m.Label = kept
			assert.Equal(t, cbotel.ScopeName, scope["otel_scope_name"], name)
		}
	}

	require.ElementsMatch(t, slices.Collect(maps.Keys(want)), slices.Collect(maps.Keys(got)), "the families")
	for name, w := range want {
		g := got[name]
		assert.Equal(t, w.GetType(), g.GetType(), name)
		assert.Equal(t, w.GetHelp(), g.GetHelp(), name)
		ws, gs := seriesOf(w), seriesOf(g)
		assert.ElementsMatch(t, slices.Collect(maps.Keys(ws)), slices.Collect(maps.Keys(gs)), "%s: the series", name)
		for k, v := range ws {
			if gv, ok := gs[k]; ok {
				assert.InDelta(t, v, gv, 0, "%s{%s}", name, k)
			}
		}
	}
}
