package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cbredis"
)

// replicaEnv, set in a process's environment, makes the demo's binary (or
// its test binary) a replica instead of the demo: the demo re-executes
// itself, so that each replica is a process of its own with its own Redis
// client, as the replicas of a service are.
const replicaEnv = "TRIPSWITCH_FLEET_REPLICA"

// The breaker every replica makes and shares, by name.
const (
	breakerName = "dependency"
	// window is the breaker's time window, in buckets of one sync
	// interval (cbredis.DefaultInterval): cbredis needs buckets no wider
	// than the interval, and wider ones than that would only add lag.
	window  = 2 * time.Second
	buckets = int(window / cbredis.DefaultInterval)
	// probes is the fleet's probe budget per half-open episode:
	// HalfOpenMaxCalls, and SuccessThreshold too, so that an episode of
	// the recovered dependency takes both.
	probes = 2
)

// breakerConfig is the replicas' policy for a replica that calls every
// pace and an open time of open. MinimumCalls is half as much again as
// the calls one replica makes in a window, so that no replica alone can
// trip on its own window however its calls fail: it takes the fleet's
// counts (cbredis adds them once two replicas report failures) to reach
// it. The consecutive-failure and slow-call rules are off for the same
// reason, so that what opens the fleet is its shared window.
func breakerConfig(pace, open time.Duration) cb.Config {
	alone := aloneCalls(pace)
	return cb.Config{
		Window: window, Buckets: buckets,
		MinimumCalls:         alone + alone/2,
		FailureRateThreshold: 0.5,
		ConsecutiveFailures:  cb.Off,
		SlowCallDuration:     cb.Off,
		OpenTimeout:          open,
		SuccessThreshold:     probes,
		HalfOpenMaxCalls:     probes,
	}
}

// aloneCalls is the most calls one replica that calls every pace can
// have in its window.
func aloneCalls(pace time.Duration) int { return int(window/pace) + 1 }

// Message types, replica to demo.
const (
	msgReady      = "ready"      // shared, warm start done: waiting for the go
	msgTransition = "transition" // the breaker changed state
	msgCall       = "call"       // a call ended (or was rejected)
	msgStatus     = "status"     // the state and counters, every report period and at the end
)

// message is one line a replica writes to its standard output, as JSON,
// for the demo to read.
type message struct {
	Type string `json:"type"`
	// At is when it happened, in Unix nanoseconds: the replicas and the
	// demo read the same host's clock.
	At int64 `json:"at"`

	// A transition's.
	From   cb.State  `json:"from"`
	To     cb.State  `json:"to"`
	Reason cb.Reason `json:"reason,omitempty"`

	// A call's: the state that admitted or rejected it, and its outcome
	// (success, failure, rejected).
	State   cb.State `json:"state"`
	Outcome string   `json:"outcome,omitempty"`

	// A status's, State included: the replica's counts since it began
	// and its Fleet's health.
	Calls      uint64 `json:"calls,omitempty"`
	Reached    uint64 `json:"reached,omitempty"`
	Failed     uint64 `json:"failed,omitempty"`
	Rejected   uint64 `json:"rejected,omitempty"`
	Probes     uint64 `json:"probes,omitempty"`
	Syncs      uint64 `json:"syncs,omitempty"`
	SyncErrors uint64 `json:"sync_errors,omitempty"`
	Final      bool   `json:"final,omitempty"`
}

// reporter writes a replica's messages. One lock for all of them, with
// the time read under it, so that the lines are in the order of their
// times, whatever goroutine a transition comes from.
type reporter struct {
	mu  sync.Mutex
	enc *json.Encoder
	err error
}

func (r *reporter) send(m message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m.At = time.Now().UnixNano()
	if err := r.enc.Encode(m); err != nil && r.err == nil {
		r.err = err // the demo is gone: it closes stdin too, which ends the replica
	}
}

func (r *reporter) transition(tr cb.Transition) {
	r.send(message{Type: msgTransition, From: tr.From, To: tr.To, Reason: tr.Reason})
}

// tally is a replica's counts.
type tally struct {
	mu                                       sync.Mutex
	calls, reached, failed, rejected, probes uint64
}

func (t *tally) count(r cb.CallResult[int]) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.calls++
	switch r.Outcome {
	case cb.Rejected:
		t.rejected++
		return
	case cb.Failure:
		t.failed++
	}
	t.reached++
	if r.State == cb.HalfOpen {
		t.probes++
	}
}

func (t *tally) status() message {
	t.mu.Lock()
	defer t.mu.Unlock()
	return message{
		Type: msgStatus, Calls: t.calls, Reached: t.reached, Failed: t.failed,
		Rejected: t.rejected, Probes: t.probes,
	}
}

// replicaOptions are a replica's flags, which the demo sets.
type replicaOptions struct {
	id     int
	redis  string
	url    string
	pace   time.Duration
	open   time.Duration
	report time.Duration
	offset time.Duration
}

// args is the command line that gives a replica o.
func (o replicaOptions) args() []string {
	return []string{
		"-id", strconv.Itoa(o.id), "-redis", o.redis, "-dep", o.url,
		"-pace", o.pace.String(), "-open", o.open.String(),
		"-report", o.report.String(), "-offset", o.offset.String(),
	}
}

func parseReplicaArgs(args []string, errOut io.Writer) (replicaOptions, error) {
	fs := flag.NewFlagSet("fleet replica", flag.ContinueOnError)
	fs.SetOutput(errOut)
	var o replicaOptions
	fs.IntVar(&o.id, "id", 0, "this replica's number")
	fs.StringVar(&o.redis, "redis", "", "the Redis server's address")
	fs.StringVar(&o.url, "dep", "", "the dependency's URL")
	fs.DurationVar(&o.pace, "pace", 200*time.Millisecond, "time between two calls")
	fs.DurationVar(&o.open, "open", 2*time.Second, "the breaker's OpenTimeout")
	fs.DurationVar(&o.report, "report", 250*time.Millisecond, "time between two status lines")
	fs.DurationVar(&o.offset, "offset", 0, "wait before the first call, so that the replicas' calls interleave")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.redis == "" || o.url == "" || o.pace <= 0 || o.open <= 0 || o.report <= 0 {
		return o, errors.New("-redis, -dep and positive -pace, -open and -report are required")
	}
	return o, nil
}

// replicaMain is a replica's life: it shares its breaker through Redis,
// says it is ready, waits for the demo's go (a line on standard input),
// calls the dependency every pace until standard input closes, reporting
// as it goes, and ends with a last status.
func replicaMain(args []string, in io.Reader, out, errOut io.Writer) error {
	// The demo stops its replicas itself, in order; on systems where they
	// share its process group, Ctrl-C must not end them under it.
	signal.Ignore(os.Interrupt)
	o, err := parseReplicaArgs(args, errOut)
	if err != nil {
		return err
	}
	rep := &reporter{enc: json.NewEncoder(out)}

	client := redis.NewClient(&redis.Options{Addr: o.redis, DialTimeout: time.Second, ContextTimeoutEnabled: true})
	defer client.Close()
	fleet, err := cbredis.New(client, cbredis.WithReplicaID("r"+strconv.Itoa(o.id)))
	if err != nil {
		return err
	}
	defer fleet.Close()
	b, err := cb.New[int](breakerName, breakerConfig(o.pace, o.open))
	if err != nil {
		return err
	}
	// Before Share, whose warm start may open the breaker at once.
	defer b.Subscribe(rep.transition)()
	if err := fleet.Share(b); err != nil {
		return err
	}
	rep.send(message{Type: msgReady, State: b.State()})

	lines := bufio.NewScanner(in)
	if !lines.Scan() {
		return nil // stopped before the start
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go func() {
		for lines.Scan() {
			// Lines after the go mean nothing: only the end counts.
		}
		stop() // standard input closed: the demo is done, or gone
	}()

	var t tally
	httpClient := &http.Client{Timeout: time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	defer httpClient.CloseIdleConnections()
	var wg sync.WaitGroup
	wg.Go(func() { callLoop(ctx, b, httpClient, o, &t, rep) })
	report := time.NewTicker(o.report)
	defer report.Stop()
	status := func(final bool) {
		s := t.status()
		s.State, s.Final = b.State(), final
		h := fleet.Health()
		s.Syncs, s.SyncErrors = h.Syncs, h.Errors
		rep.send(s)
	}
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-report.C:
			status(false)
		}
	}
	wg.Wait()
	status(true)
	return rep.err
}

// callLoop calls the dependency through b every o.pace, after o.offset,
// until ctx ends.
func callLoop(ctx context.Context, b *cb.Breaker[int], client *http.Client, o replicaOptions, t *tally, rep *reporter) {
	first := time.NewTimer(o.offset)
	defer first.Stop()
	select {
	case <-ctx.Done():
		return
	case <-first.C:
	}
	// A ticker, not a pause after each call: the pace is the same
	// whether the dependency fails at once or the breaker rejects.
	tick := time.NewTicker(o.pace)
	defer tick.Stop()
	for {
		_, r := b.ExecuteContext(ctx, func(ctx context.Context) (int, error) { return get(ctx, client, o.url) })
		if r.Outcome != cb.Ignored { // the replica's own end cancels a call
			t.count(r)
			rep.send(message{Type: msgCall, State: r.State, Outcome: r.Outcome.String()})
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// get makes one request; a 5xx answer is an error, as a client would
// treat it.
func get(ctx context.Context, client *http.Client, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, http.NoBody) //nolint:gosec // G704: the demo's own loopback dependency, from the demo that started this replica
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req) //nolint:gosec // G704: the demo's own loopback dependency, from the demo that started this replica
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
