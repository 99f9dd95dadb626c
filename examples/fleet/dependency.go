package main

import (
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// dependency is the flaky HTTP server the replicas call: a real listener
// on loopback whose answers follow the schedule from begin on (the first
// phase's until then, while the replicas start).
type dependency struct {
	srv   *http.Server
	url   string
	plan  schedule
	start atomic.Pointer[time.Time]
}

// startDependency listens on a free loopback port and serves the plan.
func startDependency(plan schedule) (*dependency, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	d := &dependency{url: "http://" + ln.Addr().String() + "/", plan: plan}
	d.srv = &http.Server{Handler: http.HandlerFunc(d.serve), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = d.srv.Serve(ln) }() // returns ErrServerClosed on close
	return d, nil
}

// begin starts the schedule's clock.
func (d *dependency) begin(t time.Time) { d.start.Store(&t) }

func (d *dependency) serve(w http.ResponseWriter, _ *http.Request) {
	kind := d.plan[0].Kind
	if start := d.start.Load(); start != nil {
		kind = d.plan.At(time.Since(*start))
	}
	if kind == down {
		http.Error(w, "dependency down", http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

func (d *dependency) close() error { return d.srv.Close() }
