package cbredis_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/internal/redistest"
)

// The environment of a child process that runs TestChildReplica: the
// Redis address and the replica's number.
const (
	childAddrEnv    = "CBREDIS_CHILD_REDIS"
	childReplicaEnv = "CBREDIS_CHILD_REPLICA"
)

// childConfig is the shared breaker of the child processes: a
// consecutive trip, one probe per episode.
func childConfig() cb.Config {
	cfg := fastConfig()
	cfg.ConsecutiveFailures = 3
	return cfg
}

// TestChildReplica is one replica of TestReplicasInSeparateProcesses, in
// a process of its own: the test binary run again with the environment
// above. It calls the shared breaker every few milliseconds, reports on
// stdout "ready" once it shares the breaker and then each transition as
// "state <to> <reason>", and reads commands on stdin: "fail" makes its
// calls fail until its breaker opens, "quit" ends it.
func TestChildReplica(t *testing.T) {
	addr := os.Getenv(childAddrEnv)
	if addr == "" {
		t.Skip("a child process of TestReplicasInSeparateProcesses")
	}
	i, err := strconv.Atoi(os.Getenv(childReplicaEnv))
	require.NoError(t, err)

	var out sync.Mutex
	say := func(format string, args ...any) {
		out.Lock()
		defer out.Unlock()
		fmt.Printf(format+"\n", args...)
	}
	r := newReplica(t, []string{addr}, i, "processes", childConfig())
	r.b.Subscribe(func(tr cb.Transition) { say("state %s %s", tr.To, tr.Reason) })
	say("ready %s", r.b.State())

	var failing atomic.Bool
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
			r.b.Execute(func() (int, error) {
				if failing.Load() {
					return 0, errDown
				}
				return 1, nil
			})
			if r.b.State() != cb.Closed {
				failing.Store(false)
			}
		}
	})
	defer wg.Wait()
	defer close(done)

	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		switch in.Text() {
		case "fail":
			failing.Store(true)
		case "quit":
			return
		}
	}
}

// child is a replica running in a process of its own.
type child struct {
	i     int
	cmd   *exec.Cmd
	stdin io.WriteCloser
	read  chan struct{} // closed once stdout is read to its end
	err   bytes.Buffer  // stderr, for a failure's message
}

// report is a line a child wrote, and when the parent read it.
type report struct {
	child int
	line  string
	at    time.Time
}

// startChild runs replica i of the breaker "processes" on addr in a new
// process, and sends each line it reports to lines.
func startChild(t *testing.T, addr string, i int, lines chan<- report) *child {
	t.Helper()
	c := &child{i: i, read: make(chan struct{})}
	c.cmd = exec.Command(os.Args[0], "-test.run=^TestChildReplica$", "-test.count=1", "-test.timeout=2m")
	c.cmd.Env = append(os.Environ(), childAddrEnv+"="+addr, childReplicaEnv+"="+strconv.Itoa(i))
	c.cmd.Stderr = &c.err
	var err error
	c.stdin, err = c.cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := c.cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, c.cmd.Start())
	go func() {
		defer close(c.read)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- report{i, sc.Text(), time.Now()}
		}
	}()
	t.Cleanup(func() {
		// A child still running here is one the test gave up on.
		_ = c.cmd.Process.Kill()
		<-c.read
		_ = c.cmd.Wait()
	})
	return c
}

func (c *child) send(t *testing.T, command string) {
	t.Helper()
	_, err := io.WriteString(c.stdin, command+"\n")
	require.NoError(t, err)
}

// processFleet is the children of one test and what they reported.
type processFleet struct {
	t        *testing.T
	children []*child
	lines    chan report
	log      []report
}

// await reads the children's reports until cond has seen the one it
// waits for, and fails the test after limit.
func (p *processFleet) await(limit time.Duration, what string, cond func(report) bool) {
	p.t.Helper()
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for {
		select {
		case r := <-p.lines:
			p.log = append(p.log, r)
			if cond(r) {
				return
			}
		case <-timer.C:
			var b strings.Builder
			for _, c := range p.children {
				fmt.Fprintf(&b, "child %d's stderr:\n%s\n", c.i, c.err.String())
			}
			require.FailNow(p.t, "timed out", "%s: not within %v; reports: %v\n%s", what, limit, p.log, b.String())
		}
	}
}

// allReport waits until every child in want has reported a line with
// prefix, and returns when each did.
func (p *processFleet) allReport(limit time.Duration, prefix string, want ...int) map[int]time.Time {
	p.t.Helper()
	at := make(map[int]time.Time)
	for _, r := range p.log {
		if strings.HasPrefix(r.line, prefix) {
			at[r.child] = r.at
		}
	}
	missing := func() bool {
		for _, i := range want {
			if _, ok := at[i]; !ok {
				return true
			}
		}
		return false
	}
	if missing() {
		p.await(limit, "every child reports "+prefix, func(r report) bool {
			if strings.HasPrefix(r.line, prefix) {
				if _, ok := at[r.child]; !ok {
					at[r.child] = r.at
				}
			}
			return !missing()
		})
	}
	return at
}

func TestReplicasInSeparateProcesses(t *testing.T) {
	srv := redistest.Start(t)
	const n = 4
	// Room for every line the children write, so that none of them
	// waits on the parent.
	p := &processFleet{t: t, lines: make(chan report, 1024)}
	all := make([]int, n)
	for i := range n {
		all[i] = i
		p.children = append(p.children, startChild(t, srv.Addr(), i, p.lines))
	}
	// A race-instrumented test binary takes a while to start on a busy
	// machine.
	p.allReport(30*time.Second, "ready closed", all...)

	p.children[0].send(t, "fail")
	opened := p.allReport(5*time.Second, "state open", all...)
	var slowest time.Duration
	for i := 1; i < n; i++ {
		slowest = max(slowest, opened[i].Sub(opened[0]))
	}
	t.Logf("every other process open %v after the trip", slowest)
	assert.LessOrEqual(t, slowest, interval+300*time.Millisecond, "the trip reaches every process within an interval")

	// One process probes when the open time is over; its success closes
	// them all.
	closed := p.allReport(10*time.Second, "state closed", all...)
	first, last := closed[0], closed[0]
	for _, at := range closed {
		first, last = minTime(first, at), maxTime(last, at)
	}
	t.Logf("every process closed within %v of the first", last.Sub(first))
	assert.LessOrEqual(t, last.Sub(first), interval+300*time.Millisecond, "the close reaches every process within an interval")

	var probers, fleetOpened, fleetClosed int
	for _, r := range p.log {
		switch {
		case strings.HasPrefix(r.line, "state half-open"):
			probers++
		case r.line == "state open "+cb.ReasonFleetOpened.String():
			fleetOpened++
		case r.line == "state closed "+cb.ReasonFleetClosed.String():
			fleetClosed++
		}
	}
	assert.Equal(t, 1, probers, "one process probes for the fleet: %v", p.log)
	assert.Equal(t, n-1, fleetOpened, "the others adopt the trip: %v", p.log)
	assert.Equal(t, n-1, fleetClosed, "the others adopt the close: %v", p.log)

	// Each child ends cleanly: its own TestMain checks for leaks.
	for _, c := range p.children {
		c.send(t, "quit")
	}
	for _, c := range p.children {
		for reading := true; reading; {
			select {
			case r := <-p.lines:
				p.log = append(p.log, r)
			case <-c.read:
				reading = false
			}
		}
		assert.NoError(t, c.cmd.Wait(), "child %d:\n%s", c.i, c.err.String())
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
