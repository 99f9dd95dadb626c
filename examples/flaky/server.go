package main

import (
	"net"
	"net/http"
	"time"
)

// dependency is the flaky HTTP server: a real listener on loopback whose
// answers follow the schedule from the moment it starts.
type dependency struct {
	srv     *http.Server
	url     string
	start   time.Time
	plan    schedule
	latency time.Duration
}

// startDependency listens on a free loopback port and serves the plan.
func startDependency(plan schedule, latency time.Duration) (*dependency, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	d := &dependency{url: "http://" + ln.Addr().String() + "/", start: time.Now(), plan: plan, latency: latency}
	d.srv = &http.Server{Handler: http.HandlerFunc(d.serve), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = d.srv.Serve(ln) }() // returns ErrServerClosed on close
	return d, nil
}

func (d *dependency) serve(w http.ResponseWriter, r *http.Request) {
	switch d.plan.At(time.Since(d.start)) {
	case failing:
		http.Error(w, "dependency failing", http.StatusInternalServerError)
	case slow:
		select {
		case <-time.After(d.latency):
		case <-r.Context().Done():
			return
		}
		_, _ = w.Write([]byte("ok, slowly\n"))
	default:
		_, _ = w.Write([]byte("ok\n"))
	}
}

func (d *dependency) close() error { return d.srv.Close() }
