package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/presets"
	"github.com/tripswitch/tripswitch/registry"
)

// options are the demo's knobs (see the flags in main).
type options struct {
	plan          schedule
	tick          time.Duration // one timeline line per tick
	openTimeout   time.Duration // replaces the preset's 30 s
	slowThreshold time.Duration // replaces the preset's 10 s
	latency       time.Duration // the dependency's answer time when slow
	workers       int           // client goroutines
	pace          time.Duration // each worker's pause between calls
}

// sample is one timeline line.
type sample struct {
	at                 time.Duration
	phase              behaviour
	state              cb.State
	failRate, slowRate float64
	admitted, rejected uint64 // during the tick
}

// event is a state transition and when it happened.
type event struct {
	at time.Duration
	tr cb.Transition
}

// summary is what the demo tells at its end.
type summary struct {
	elapsed            time.Duration
	admitted, rejected uint64
	failures, slow     uint64
	probes             uint64
	openTime           time.Duration
	recoveries         int // half-open -> closed transitions
	health             registry.Health
}

// tally counts the calls the workers make.
type tally struct {
	admitted, rejected, failures, slow, probes atomic.Uint64
}

func (t *tally) count(r cb.CallResult[int]) {
	if r.Outcome == cb.Rejected {
		t.rejected.Add(1)
		return
	}
	t.admitted.Add(1)
	if r.Outcome == cb.Failure {
		t.failures.Add(1)
	}
	if r.Slow {
		t.slow.Add(1)
	}
	if r.State == cb.HalfOpen {
		t.probes.Add(1)
	}
}

// recorder keeps the transitions and prints each as it happens; the
// timeline lines go through it too, so the two never interleave.
type recorder struct {
	mu     sync.Mutex
	out    io.Writer
	start  time.Time
	events []event
}

func (r *recorder) onStateChange(tr cb.Transition) {
	r.mu.Lock()
	defer r.mu.Unlock()
	at := time.Since(r.start)
	r.events = append(r.events, event{at, tr})
	fmt.Fprintf(r.out, "%7s  >> %s -> %s (%s)\n", fmtSeconds(at), tr.From, tr.To, tr.Reason)
}

func (r *recorder) line(s sample) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.out, "%7s  %-9s  %5.0f%%  %5.0f%%  %8d  %8d  %s\n", fmtSeconds(s.at), s.state,
		100*s.failRate, 100*s.slowRate, s.admitted, s.rejected, s.phase)
}

func (r *recorder) transitions() []event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]event(nil), r.events...)
}

// run plays the schedule against a real dependency and returns the
// timeline and the summary, printing as it goes.
func run(ctx context.Context, o options, out io.Writer) (summary, []sample, []event, error) {
	dep, err := startDependency(o.plan, o.latency)
	if err != nil {
		return summary{}, nil, nil, err
	}
	defer dep.close()

	rec := &recorder{out: out, start: dep.start}
	cfg := presets.Network()
	cfg.OpenTimeout = o.openTimeout
	cfg.SlowCallDuration = o.slowThreshold
	cfg.OnStateChange = rec.onStateChange
	reg := registry.New()
	b, err := registry.Get[int](reg, "flaky-dependency", cfg)
	if err != nil {
		return summary{}, nil, nil, err
	}
	fmt.Fprintf(out, "breaker %q: presets.Network with OpenTimeout %v, SlowCallDuration %v; dependency at %s\n",
		b.Name(), cfg.OpenTimeout, cfg.SlowCallDuration, dep.url)
	fmt.Fprintf(out, "%7s  %-9s  %6s  %6s  %8s  %8s  %s\n", "time", "state", "fail", "slow", "admitted", "rejected", "phase")

	// Stopping the workers cancels their calls: context.Canceled is
	// ignored by the breaker, so the demo's own end counts nothing.
	workCtx, stopWork := context.WithCancel(ctx)
	defer stopWork()
	client := &http.Client{
		Timeout:   o.latency + 2*time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: o.workers},
	}
	defer client.CloseIdleConnections()
	var t tally
	var wg sync.WaitGroup
	for range o.workers {
		wg.Go(func() { work(workCtx, b, client, dep.url, o.pace, &t) })
	}

	var samples []sample
	var lastAdmitted, lastRejected uint64
	ticker := time.NewTicker(o.tick)
	defer ticker.Stop()
	end := time.NewTimer(o.plan.total())
	defer end.Stop()
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-end.C:
			done = true
		case <-ticker.C:
		}
		if done {
			// The last line comes after the workers' last calls, so the
			// lines add up to the totals.
			stopWork()
			wg.Wait()
		}
		m := b.Metrics()
		at := time.Since(dep.start)
		admitted, rejected := t.admitted.Load(), t.rejected.Load()
		s := sample{
			at: at, phase: o.plan.at(at), state: m.State,
			failRate: m.FailureRate, slowRate: m.SlowCallRate,
			admitted: admitted - lastAdmitted, rejected: rejected - lastRejected,
		}
		lastAdmitted, lastRejected = admitted, rejected
		samples = append(samples, s)
		rec.line(s)
	}

	events := rec.transitions()
	elapsed := time.Since(dep.start)
	sum := summary{
		elapsed:  elapsed,
		admitted: t.admitted.Load(), rejected: t.rejected.Load(),
		failures: t.failures.Load(), slow: t.slow.Load(), probes: t.probes.Load(),
		openTime: openTime(events, elapsed),
		health:   reg.Health(),
	}
	for _, e := range events {
		if e.tr.From == cb.HalfOpen && e.tr.To == cb.Closed {
			sum.recoveries++
		}
	}
	return sum, samples, events, ctx.Err()
}

// work calls the dependency through the breaker until ctx ends.
func work(ctx context.Context, b *cb.Breaker[int], client *http.Client, url string, pace time.Duration, t *tally) {
	for ctx.Err() == nil {
		_, r := b.ExecuteContext(ctx, func(ctx context.Context) (int, error) { return get(ctx, client, url) })
		if r.Outcome != cb.Ignored { // the demo's own end cancels calls
			t.count(r)
		}
		select {
		case <-ctx.Done():
		case <-time.After(pace):
		}
	}
}

// get makes one request; a 5xx answer is an error, as a client would
// treat it.
func get(ctx context.Context, client *http.Client, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, http.NoBody)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode >= http.StatusInternalServerError {
		return resp.StatusCode, fmt.Errorf("dependency answered %s", resp.Status)
	}
	return resp.StatusCode, nil
}

// openTime adds up the time spent open, up to end.
func openTime(events []event, end time.Duration) time.Duration {
	var total time.Duration
	var since time.Duration
	open := false
	for _, e := range events {
		if open {
			total += e.at - since
		}
		open, since = e.tr.To == cb.Open, e.at
	}
	if open {
		total += end - since
	}
	return total
}

func fmtSeconds(d time.Duration) string { return fmt.Sprintf("%.1fs", d.Seconds()) }
