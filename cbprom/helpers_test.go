package cbprom_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
)

// endpoint is a real /metrics server on a loopback port, as Prometheus
// scrapes it.
type endpoint struct {
	url    string
	client *http.Client
}

// serve starts an HTTP server for g on 127.0.0.1 and stops it, and the
// client's connections, when the test ends. Errors in collection fail the
// scrape (HTTPErrorOnError), so a bad series cannot pass unseen.
func serve(t testing.TB, g prometheus.Gatherer) *endpoint {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{
		Handler:           promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	e := &endpoint{url: "http://" + ln.Addr().String() + "/metrics", client: &http.Client{Transport: &http.Transport{}}}
	t.Cleanup(func() {
		e.client.CloseIdleConnections()
		require.NoError(t, srv.Close())
		require.ErrorIs(t, <-done, http.ErrServerClosed)
	})
	return e
}

// get fetches the exposition in the format accept asks for.
func (e *endpoint) get(accept string) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodGet, e.url, http.NoBody)
	if err != nil {
		return nil, err
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		return nil, errors.New(resp.Status + ": " + string(body))
	}
	return resp, nil
}

// scrapeText scrapes in the classic text format, which Prometheus falls
// back to and people read, and parses it. It returns an error rather than
// failing the test, for goroutines other than the test's.
func (e *endpoint) scrapeText() (map[string]*dto.MetricFamily, error) {
	resp, err := e.get("")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.LegacyValidation)
	return p.TextToMetricFamilies(resp.Body)
}

// scrapeProto scrapes in the protobuf format, which carries the counters'
// created timestamps.
func (e *endpoint) scrapeProto() (map[string]*dto.MetricFamily, error) {
	resp, err := e.get(string(expfmt.NewFormat(expfmt.TypeProtoDelim)))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	dec := expfmt.NewDecoder(resp.Body, expfmt.ResponseFormat(resp.Header))
	fams := map[string]*dto.MetricFamily{}
	for {
		var mf dto.MetricFamily
		if err := dec.Decode(&mf); errors.Is(err, io.EOF) {
			return fams, nil
		} else if err != nil {
			return nil, err
		}
		fams[mf.GetName()] = &mf
	}
}

// labelsOf returns a series' labels as a map.
func labelsOf(m *dto.Metric) map[string]string {
	l := map[string]string{}
	for _, p := range m.GetLabel() {
		l[p.GetName()] = p.GetValue()
	}
	return l
}

// valueOf returns a series' value, whatever its type.
func valueOf(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	}
	return m.GetUntyped().GetValue()
}

// series indexes a family's series by breaker name and then by the rest
// of their labels, written as key=value pairs in label order.
func series(mf *dto.MetricFamily) map[string]map[string]*dto.Metric {
	out := map[string]map[string]*dto.Metric{}
	for _, m := range mf.GetMetric() {
		var name, rest string
		for _, p := range m.GetLabel() {
			if p.GetName() == "name" {
				name = p.GetValue()
				continue
			}
			if rest != "" {
				rest += ","
			}
			rest += p.GetName() + "=" + p.GetValue()
		}
		if out[name] == nil {
			out[name] = map[string]*dto.Metric{}
		}
		out[name][rest] = m
	}
	return out
}
