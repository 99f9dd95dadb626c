package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tripswitch/tripswitch/cbprom"
	"github.com/tripswitch/tripswitch/registry"
)

// Where the monitor serves each view; the first two are the paths the
// registry's documentation mounts them on.
const (
	dashboardPath = "/debug/breakers/ui/"
	reportPath    = "/debug/breakers"
	metricsPath   = "/metrics"
)

// shutdownGrace bounds how long closing waits for requests in flight: a
// dashboard poll, a report or a scrape each take milliseconds, so one
// still running after this is stuck and is cut off.
const shutdownGrace = 5 * time.Second

// monitor serves what an operator watches of the demo's registry: the
// live dashboard, the JSON report and the Prometheus metrics.
type monitor struct {
	srv    *http.Server
	dash   *registry.Dashboard
	base   string        // http://host:port
	served chan struct{} // closed once Serve has returned
}

// startMonitor listens on addr and serves reg. The dashboard is made
// before the demo's breaker so that it records every transition; its
// page polls every refresh.
func startMonitor(addr string, reg *registry.Registry, refresh time.Duration) (*monitor, error) {
	// A Prometheus registry of the demo's own, not the default one: the
	// page shows the breakers alone, and demos run side by side in one
	// process (the tests) do not register the same families twice.
	metrics := prometheus.NewRegistry()
	if err := metrics.Register(cbprom.New(reg)); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("-serve %s: %w", addr, err)
	}
	dash := reg.Dashboard(registry.WithDashboardRefresh(refresh), registry.WithDashboardTitle("Circuit breakers · flaky demo"))
	mux := http.NewServeMux()
	mux.Handle(dashboardPath, dash)
	mux.Handle(reportPath, reg.Handler())
	mux.Handle(metricsPath, promhttp.HandlerFor(metrics, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
	m := &monitor{
		srv:    &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second},
		dash:   dash,
		base:   "http://" + ln.Addr().String(),
		served: make(chan struct{}),
	}
	go func() {
		defer close(m.served)
		_ = m.srv.Serve(ln) // ErrServerClosed once close has begun; any other error shows as refused requests
	}()
	return m, nil
}

// printURLs tells where to look, one line per view.
func (m *monitor) printURLs(out io.Writer) {
	fmt.Fprintf(out, "dashboard: %s%s\n", m.base, dashboardPath)
	fmt.Fprintf(out, "json:      %s%s\n", m.base, reportPath)
	fmt.Fprintf(out, "metrics:   %s%s\n", m.base, metricsPath)
}

// linger keeps serving for d after the run, or until ctx ends, so that
// someone can look at where the breaker ended up.
func (m *monitor) linger(ctx context.Context, d time.Duration, out io.Writer) {
	fmt.Fprintf(out, "still serving for %v at %s%s; interrupt to stop\n", d, m.base, dashboardPath)
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
	case <-timer.C:
	}
}

// close stops serving. Shutdown lets a request in flight finish rather
// than cutting it off; waiting for Serve's goroutine leaves none behind
// the demo. ctx may be the interrupted one: the shutdown gets its own
// deadline.
func (m *monitor) close(ctx context.Context) error {
	defer m.dash.Close()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	err := m.srv.Shutdown(sctx)
	if err != nil {
		_ = m.srv.Close() // the shutdown's error is the one to report
	}
	<-m.served
	return err
}
