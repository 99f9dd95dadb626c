package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
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

// sample is one timeline line. Its counts cover the tick that ends at at.
type sample struct {
	at                 time.Duration
	phase              behaviour
	state              cb.State
	admitted, rejected uint64
	// judged is how many calls the breaker counted (admitted, not stale,
	// not ignored): the calls its rules look at. failed and slow are of
	// those, so a tick spent open, with nothing judged, shows no rate
	// instead of the one that tripped the breaker.
	judged, failed, slow uint64
}

// failShare and slowShare are the tick's rates over the judged calls; ok
// is false when nothing was judged.
func (s sample) failShare() (rate float64, ok bool) { return share(s.failed, s.judged) }
func (s sample) slowShare() (rate float64, ok bool) { return share(s.slow, s.judged) }

func share(n, of uint64) (float64, bool) {
	if of == 0 {
		return 0, false
	}
	return float64(n) / float64(of), true
}

// fmtShare prints a rate as a whole percentage, or "-" when nothing was
// judged.
func fmtShare(rate float64, ok bool) string {
	if !ok {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100*rate)
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
	judged             uint64
	failures, slow     uint64
	probes             uint64
	openTime           time.Duration
	recoveries         int // half-open -> closed transitions
	health             registry.Health
	metrics            cb.Metrics // the breaker's own count, after the last call
}

// counts are the workers' calls so far.
type counts struct {
	admitted, rejected, judged, failed, slow, probes uint64
}

// tally adds up the workers' calls. A mutex, not one atomic per figure, so
// a tick's reading never holds a call's failure without its judgement and
// no tick's rate exceeds 100%.
type tally struct {
	mu sync.Mutex
	c  counts
}

func (t *tally) count(r cb.CallResult[int]) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if r.Outcome == cb.Rejected {
		t.c.rejected++
		return
	}
	t.c.admitted++
	if r.State == cb.HalfOpen {
		t.c.probes++
	}
	if r.Stale {
		return
	}
	t.c.judged++
	if r.Outcome == cb.Failure {
		t.c.failed++
	}
	if r.Slow {
		t.c.slow++
	}
}

func (t *tally) read() counts {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.c
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

// lineFormat serves the header too, so the columns stay aligned.
const lineFormat = "%7s  %-9s  %5s  %5s  %8s  %8s  %s\n"

func (r *recorder) line(s sample) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.out, lineFormat, fmtSeconds(s.at), s.state, fmtShare(s.failShare()), fmtShare(s.slowShare()),
		strconv.FormatUint(s.admitted, 10), strconv.FormatUint(s.rejected, 10), s.phase)
}

func (r *recorder) transitions() []event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]event(nil), r.events...)
}

// run plays the schedule against a real dependency, through a breaker it
// makes in reg, and returns the timeline and the summary, printing as it
// goes.
func run(ctx context.Context, o options, reg *registry.Registry, out io.Writer) (summary, []sample, []event, error) {
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
	b, err := registry.Get[int](reg, "flaky-dependency", cfg)
	if err != nil {
		return summary{}, nil, nil, err
	}
	fmt.Fprintf(out, "breaker %q: presets.Network with OpenTimeout %v, SlowCallDuration %v; dependency at %s\n",
		b.Name(), cfg.OpenTimeout, cfg.SlowCallDuration, dep.url)
	fmt.Fprintf(out, "legend: one line per tick; state: at the tick's end; fail / slow: %% of the calls the breaker judged in the tick "+
		"that failed / took over %v (- when it judged none); admitted, rejected: calls in the tick; phase: what the dependency does\n",
		cfg.SlowCallDuration)
	fmt.Fprintf(out, lineFormat, "time", "state", "fail", "slow", "admitted", "rejected", "phase")

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
	var last counts
	total := o.plan.Total()
	for k := time.Duration(1); ; k++ {
		// Lines are due at whole ticks from the start and the last one at
		// the end of the schedule, so a late wake-up does not shift the
		// later lines and the end is one line, not a tick plus a repeat.
		due := min(k*o.tick, total)
		final := due == total
		timer := time.NewTimer(time.Until(dep.start.Add(due)))
		select {
		case <-ctx.Done():
			final = true
		case <-timer.C:
		}
		timer.Stop()
		if final {
			// The last line comes after the workers' last calls, so the
			// lines add up to the totals.
			stopWork()
			wg.Wait()
		}
		m := b.Metrics()
		at := time.Since(dep.start)
		c := t.read()
		s := sample{
			at: at, phase: o.plan.At(at), state: m.State,
			admitted: c.admitted - last.admitted, rejected: c.rejected - last.rejected,
			judged: c.judged - last.judged, failed: c.failed - last.failed, slow: c.slow - last.slow,
		}
		last = c
		samples = append(samples, s)
		rec.line(s)
		if final {
			break
		}
	}

	events := rec.transitions()
	elapsed := time.Since(dep.start)
	sum := summary{
		elapsed:  elapsed,
		admitted: last.admitted, rejected: last.rejected, judged: last.judged,
		failures: last.failed, slow: last.slow, probes: last.probes,
		openTime: openTime(events, elapsed),
		health:   reg.Health(),
		metrics:  b.Metrics(),
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
