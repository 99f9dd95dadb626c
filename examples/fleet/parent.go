package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	// readyTimeout bounds the replicas' start: a process, a Redis
	// connection and the warm start of Share (up to a second each).
	readyTimeout = 30 * time.Second
	// stopTimeout bounds how long a replica may take to end once its
	// standard input closes, before it is killed.
	stopTimeout = 10 * time.Second
)

// options are the demo's knobs (see the flags in main).
type options struct {
	replicas    int
	plan        schedule
	tick        time.Duration // one timeline line per tick
	pace        time.Duration // each replica's time between calls
	openTimeout time.Duration
	bound       time.Duration // how far apart the replicas may open, or close, and still be together
	redisServer string        // the redis-server binary, looked up in $PATH
}

// result is what a run saw, for the summary and the tests.
type result struct {
	elapsed  time.Duration
	a        analysis
	problems []string // empty when the fleet behaved
	// interrupted reports a run cut short: its problems are not judged.
	interrupted bool
	statuses    []message // each replica's last status (zero Type: none came)
	redis       string    // the server, for the summary
	// redisAddr and dir are the server\'s address and directory, gone
	// once the run returns.
	redisAddr, dir string
}

// replicaProc is one replica process.
type replicaProc struct {
	id     int
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	exited chan struct{} // closed once its output is read and it is reaped
	err    error         // how it ended, once exited is closed
}

// recorder collects what the replicas report. Their lines come in on a
// goroutine each.
type recorder struct {
	mu       sync.Mutex
	raw      []rawEvent
	statuses []message
	ready    chan int // a replica's number once it is ready
	exits    chan int // a replica's number once its output ends
}

// rawEvent is a message of a replica, as it came.
type rawEvent struct {
	replica int
	m       message
}

func (r *recorder) add(i int, m message) {
	if m.Type == msgReady {
		r.ready <- i // buffered for every replica
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if m.Type == msgStatus {
		r.statuses[i] = m
		return
	}
	r.raw = append(r.raw, rawEvent{i, m})
}

// since returns the events from the n-th on, in the order they came, with
// their times from start.
func (r *recorder) since(n int, start time.Time) []event {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]event, 0, len(r.raw)-min(n, len(r.raw)))
	for _, e := range r.raw[min(n, len(r.raw)):] {
		out = append(out, e.event(start))
	}
	return out
}

func (e rawEvent) event(start time.Time) event {
	ev := event{
		at: time.Unix(0, e.m.At).Sub(start), replica: e.replica,
		from: e.m.From, to: e.m.To, reason: e.m.Reason, state: e.m.State, outcome: e.m.Outcome,
	}
	ev.call = e.m.Type == msgCall
	return ev
}

func (r *recorder) lastStatuses() []message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.statuses)
}

// run plays the demo: a Redis server, the dependency, o.replicas replica
// processes, the schedule with a line per tick to out; then it stops them
// all and judges what it saw. The replicas' own errors go to errOut.
func run(ctx context.Context, o options, out, errOut io.Writer) (res result, err error) {
	bin, err := findRedis(o.redisServer)
	if err != nil {
		return res, err
	}
	exe, err := os.Executable()
	if err != nil {
		return res, fmt.Errorf("find the demo's own binary, to run the replicas: %w", err)
	}
	dir, err := os.MkdirTemp("", "tripswitch-fleet-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	srv, err := startRedis(ctx, bin, dir)
	if err != nil {
		return res, err
	}
	defer srv.stop()
	res.redis = fmt.Sprintf("redis-server %s at %s", srv.version, srv.addr)
	res.redisAddr, res.dir = srv.addr, dir
	dep, err := startDependency(o.plan)
	if err != nil {
		return res, err
	}
	defer dep.close()

	rec := &recorder{statuses: make([]message, o.replicas), ready: make(chan int, o.replicas), exits: make(chan int, o.replicas)}
	errs := &lockedWriter{w: errOut}
	procs := make([]*replicaProc, 0, o.replicas)
	// However the run ends, no replica outlives it.
	defer func() { stopReplicas(procs) }()
	for i := range o.replicas {
		ro := replicaOptions{
			id: i, redis: srv.addr, url: dep.url, pace: o.pace, open: o.openTimeout,
			report: o.tick, offset: o.pace * time.Duration(i) / time.Duration(o.replicas),
		}
		p, err := startReplica(exe, ro, rec, errs)
		if err != nil {
			return res, err
		}
		procs = append(procs, p)
	}
	if err := waitReady(ctx, procs, rec); err != nil {
		return res, err
	}

	cfg := breakerConfig(o.pace, o.openTimeout)
	fmt.Fprintf(out, "%s (no persistence, in %s); dependency at %s\n", res.redis, dir, dep.url)
	fmt.Fprintf(out, "%d replica processes (pids %s), each with its own Redis client and breaker %q shared through cbredis, calling every %v\n",
		o.replicas, pids(procs), breakerName, o.pace)
	fmt.Fprintf(out, "breaker: window %v, MinimumCalls %d (one replica alone makes at most %d calls a window), failure rate %.0f%%, "+
		"consecutive failures off, OpenTimeout %v, HalfOpenMaxCalls %d\n",
		window, cfg.MinimumCalls, aloneCalls(o.pace), 100*cfg.FailureRateThreshold, cfg.OpenTimeout, cfg.HalfOpenMaxCalls)
	fmt.Fprintf(out, "phases: %s\n", planString(o.plan))
	fmt.Fprintf(out, "legend: a line per tick: the dependency's phase, each replica's state, the fleet's calls in the tick "+
		"(reached the dependency / rejected by a breaker), the probes of the last half-open episode fleet-wide; >> a transition\n")

	start := time.Now()
	dep.begin(start)
	for _, p := range procs {
		// The go: a failed write means the replica is gone, which the
		// summary shows.
		_, _ = io.WriteString(p.stdin, "go\n")
	}

	var evs []event
	total := o.plan.Total()
	for k := time.Duration(1); ; k++ {
		// Lines are due at whole ticks from the start, the last one at the
		// end of the schedule, so a late wake-up shifts no later line.
		due := min(k*o.tick, total)
		final := due == total
		timer := time.NewTimer(time.Until(start.Add(due)))
		select {
		case <-ctx.Done():
			final = true
		case <-timer.C:
		}
		timer.Stop()
		fresh := rec.since(len(evs), start)
		evs = append(evs, fresh...)
		printTick(out, time.Since(start), o, evs, fresh)
		if final {
			break
		}
	}

	stopReplicas(procs)
	evs = append(evs, rec.since(len(evs), start)...)
	res.elapsed = time.Since(start)
	res.a = analyze(evs, o.replicas, o.bound, o.openTimeout)
	res.statuses = rec.lastStatuses()
	if ctx.Err() != nil {
		res.interrupted = true
		return res, ctx.Err()
	}
	// A replica that failed (what it said is on errOut) saw only part of
	// the run: the rest of the verdict is not to be trusted alone.
	for _, p := range procs {
		if p.err != nil {
			res.problems = append(res.problems, fmt.Sprintf("replica r%d failed: %v", p.id, p.err))
		}
	}
	res.problems = append(res.problems, res.a.verdict(o.replicas, o.bound, cfg.HalfOpenMaxCalls)...)
	return res, nil
}

// startReplica runs the demo's own binary as replica ro.id, reading its
// reports into rec.
func startReplica(exe string, ro replicaOptions, rec *recorder, errOut io.Writer) (*replicaProc, error) {
	cmd := exec.Command(exe, ro.args()...) //nolint:gosec // G204: the demo's own binary, with its own arguments; no shell
	cmd.Env = append(os.Environ(), replicaEnv+"=1")
	cmd.Stderr = errOut
	detach(cmd)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start replica r%d: %w", ro.id, err)
	}
	p := &replicaProc{id: ro.id, cmd: cmd, stdin: stdin, exited: make(chan struct{})}
	go func() {
		defer close(p.exited)
		lines := bufio.NewScanner(stdout)
		for lines.Scan() {
			var m message
			if err := json.Unmarshal(lines.Bytes(), &m); err != nil {
				fmt.Fprintf(errOut, "replica r%d wrote %q: %v\n", ro.id, lines.Text(), err)
				continue
			}
			rec.add(ro.id, m)
		}
		rec.exits <- ro.id // buffered for every replica
		// Wait after the last read: it closes the pipe.
		p.err = errors.Join(lines.Err(), cmd.Wait())
	}()
	return p, nil
}

// waitReady waits until every replica has shared its breaker.
func waitReady(ctx context.Context, procs []*replicaProc, rec *recorder) error {
	timer := time.NewTimer(readyTimeout)
	defer timer.Stop()
	waiting := len(procs)
	for waiting > 0 {
		select {
		case <-rec.ready:
			waiting--
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			return fmt.Errorf("%d of %d replicas not ready after %v", waiting, len(procs), readyTimeout)
		case i := <-rec.exits:
			p := procs[i]
			<-p.exited
			return fmt.Errorf("replica r%d ended before it was ready: %w", p.id, p.err)
		}
	}
	return nil
}

// stopReplicas closes every replica's standard input, which ends it, and
// waits for them, killing those still there after stopTimeout. It may run
// twice: the second finds them gone.
func stopReplicas(procs []*replicaProc) {
	for _, p := range procs {
		_ = p.stdin.Close() // an error means it is closed already
	}
	deadline := time.NewTimer(stopTimeout)
	defer deadline.Stop()
	for i, p := range procs {
		select {
		case <-p.exited:
		case <-deadline.C:
			for _, q := range procs[i:] {
				_ = q.cmd.Process.Kill() // os.ErrProcessDone when it has exited meanwhile
				<-q.exited
			}
			return
		}
	}
}

func pids(procs []*replicaProc) string {
	s := make([]string, len(procs))
	for i, p := range procs {
		s[i] = strconv.Itoa(p.cmd.Process.Pid)
	}
	return strings.Join(s, " ")
}

// lockedWriter lets the replicas' stderr copiers share one writer.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// planString shows the plan as "healthy 0s-4s, down 4s-10s, ...".
func planString(s schedule) string {
	parts := make([]string, len(s))
	for i, p := range s {
		from, to := s.Bounds(i)
		parts[i] = fmt.Sprintf("%s %s-%s", p.Kind, fmtSeconds(from), fmtSeconds(to))
	}
	return strings.Join(parts, ", ")
}
