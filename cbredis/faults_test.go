package cbredis_test

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cbredis"
	"github.com/tripswitch/tripswitch/internal/redistest"
)

const (
	// faultTimeout is the sync timeout of the fault tests' fleets: a call
	// that waited on Redis, or on a round trip the syncer makes, would
	// take at least this long beyond its fn.
	faultTimeout = 250 * time.Millisecond
	// maxOverhead bounds how long any Execute may take beyond its fn. The
	// call path takes microseconds; what a loaded 2-core machine under
	// the race detector adds is a preemption or a GC pause, a few
	// milliseconds and rarely tens. A fifth of faultTimeout still tells
	// a call that waited on the network from one that was descheduled.
	maxOverhead = 50 * time.Millisecond
	// callTime is how long the load's fn takes: a fast dependency. The
	// callers sleep in it, so that they leave the CPU to the syncers and
	// redis-server as real callers waiting on I/O do.
	callTime = time.Millisecond
)

// load is traffic through a fleet: workers goroutines per replica, each
// calling, until stop, a fn that succeeds after callTime. It checks that
// every result is fn's own and measures how long each Execute took beyond
// fn.
type load struct {
	done  chan struct{}
	once  sync.Once
	wg    sync.WaitGroup
	calls atomic.Int64
	worst atomic.Int64 // nanoseconds

	mu    sync.Mutex
	wrong []string // the first results that were not fn's own
}

func startLoad(t *testing.T, rs []*replica, workers int) *load {
	t.Helper()
	l := &load{done: make(chan struct{})}
	for _, r := range rs {
		for range workers {
			l.wg.Go(func() { l.run(r) })
		}
	}
	t.Cleanup(l.stop)
	return l
}

func (l *load) run(r *replica) {
	for {
		select {
		case <-l.done:
			return
		default:
		}
		var own time.Duration
		start := time.Now()
		v, res := r.b.Execute(func() (int, error) {
			s := time.Now()
			time.Sleep(callTime)
			own = time.Since(s)
			return 7, nil
		})
		over := time.Since(start) - own
		l.calls.Add(1)
		for w := l.worst.Load(); int64(over) > w; w = l.worst.Load() {
			if l.worst.CompareAndSwap(w, int64(over)) {
				break
			}
		}
		if v != 7 || res.Outcome != cb.Success || res.Err != nil {
			l.mu.Lock()
			if len(l.wrong) < 10 {
				l.wrong = append(l.wrong, fmt.Sprintf("%s: value %d, outcome %v, error %v, in state %v", r.b.Name(), v, res.Outcome, res.Err, res.State))
			}
			l.mu.Unlock()
		}
	}
}

// stop ends the traffic and waits for every caller to return.
func (l *load) stop() {
	l.once.Do(func() { close(l.done) })
	l.wg.Wait()
}

// check stops the traffic and asserts that every call was fn's own and
// none waited on anything.
func (l *load) check(t *testing.T) {
	t.Helper()
	l.stop()
	worst := time.Duration(l.worst.Load())
	t.Logf("%d calls; the longest Execute took %v beyond its fn", l.calls.Load(), worst)
	l.mu.Lock()
	defer l.mu.Unlock()
	assert.Empty(t, l.wrong, "results that were not fn's own")
	assert.Less(t, worst, maxOverhead, "an Execute waited beyond its fn")
}

// healthOf reads every replica's Health.
func healthOf(rs []*replica) []cbredis.Health {
	hs := make([]cbredis.Health, len(rs))
	for i, r := range rs {
		hs[i] = r.fleet.Health()
	}
	return hs
}

// serverFault is a way for the server to go and come back.
type serverFault struct {
	name     string
	down, up func(*redistest.Server)
}

var serverFaults = []serverFault{
	{"killed then restarted empty", (*redistest.Server).Kill, (*redistest.Server).Restart},
	{"hung then resumed", (*redistest.Server).Pause, (*redistest.Server).Resume},
	{"hung then restarted empty", (*redistest.Server).Pause, (*redistest.Server).Restart},
}

func TestServerFaults(t *testing.T) {
	faults := serverFaults
	if testing.Short() {
		faults = faults[1:2] // a hung server: the hardest on deadlines
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) { serverFaultScenario(t, f) })
	}
}

// serverFaultScenario runs a fleet under load while the server goes down
// and comes back: the calls never notice, the fleet degrades after one
// window and rejoins by itself, and a trip again reaches every replica.
func serverFaultScenario(t *testing.T, f serverFault) {
	srv := redistest.Start(t)
	cfg := fastConfig()
	cfg.ConsecutiveFailures = 3
	rs := fleetOf(t, []string{srv.Addr()}, 4, "faults", cfg, cbredis.WithTimeout(faultTimeout))
	l := startLoad(t, rs, 3)
	afterRounds(t, rs, 3)

	before := healthOf(rs)
	f.down(srv)
	within(t, 2*time.Second, "every replica reports errors", func() bool {
		for i, h := range healthOf(rs) {
			if h.Errors <= before[i].Errors {
				return false
			}
		}
		return true
	})
	callsDown := l.calls.Load()

	// Each replica degrades once a whole window has gone by since its
	// last successful round began, which was at most faultTimeout before
	// that round's LastSync; it notices at the end of the first round
	// that starts after it.
	seen := make([]time.Duration, len(rs))
	within(t, cfg.Window+3*time.Second, "every replica degraded", func() bool {
		all := true
		for i, r := range rs {
			if seen[i] != 0 {
				continue
			}
			if h := r.fleet.Health(); h.Degraded {
				seen[i] = time.Since(h.LastSync)
			} else {
				all = false
			}
		}
		return all
	})
	t.Logf("degraded after %v since the last sync", seen)
	for i, d := range seen {
		assert.GreaterOrEqual(t, d, cfg.Window-faultTimeout, "replica %d degraded before a whole window went by", i)
		assert.LessOrEqual(t, d, cfg.Window+faultTimeout+150*time.Millisecond, "replica %d degraded late", i)
	}
	for _, r := range rs {
		assert.Equal(t, cb.Closed, r.b.State())
	}

	f.up(srv)
	upAt := time.Now()
	took := within(t, 5*time.Second, "every replica rejoined", func() bool {
		for _, h := range healthOf(rs) {
			if h.Degraded || !h.LastSync.After(upAt) {
				return false
			}
		}
		return true
	})
	t.Logf("rejoined %v after the server came back", took)
	assert.Greater(t, l.calls.Load(), callsDown, "calls went on while the server was down")
	l.check(t)

	// Back in the fleet: a trip on one replica reaches the others.
	afterRounds(t, rs, 2)
	rs[0].fail(3)
	require.Equal(t, cb.Open, rs[0].b.State())
	took = within(t, 3*time.Second, "every replica open", func() bool { return allIn(rs, cb.Open) })
	t.Logf("the others open %v after the trip", took)
	assert.LessOrEqual(t, took, interval+300*time.Millisecond)
}

// restartConfig is fastConfig with a consecutive trip and a window long
// enough that no replica degrades while the server restarts.
func restartConfig() cb.Config {
	cfg := fastConfig()
	cfg.Window, cfg.Buckets = 5*time.Second, 50
	cfg.ConsecutiveFailures = 3
	return cfg
}

// recordState reads the s field of the breaker name's state record: "open",
// "closed", or "" when there is none.
func recordState(t *testing.T, srv *redistest.Server, name string) string {
	t.Helper()
	s, err := srv.Do("HGET", "tripswitch:{"+name+"}:state", "s")
	if errors.Is(err, redistest.ErrNil) {
		return ""
	}
	require.NoError(t, err)
	return s
}

func TestServerRestartingEmptyKeepsTheFleetOpen(t *testing.T) {
	srv := redistest.Start(t)
	cfg := restartConfig()
	cfg.OpenTimeout = time.Minute
	rs := fleetOf(t, []string{srv.Addr()}, 3, "restart", cfg)
	rs[0].fail(3)
	within(t, 2*time.Second, "every replica open", func() bool { return allIn(rs, cb.Open) })
	require.Equal(t, "open", recordState(t, srv, "restart"))

	srv.Restart()
	require.Empty(t, recordState(t, srv, "restart"), "the server came back empty")
	took := within(t, 5*time.Second, "the record written back", func() bool { return recordState(t, srv, "restart") == "open" })
	t.Logf("the record was back %v after the restart", took)
	afterRounds(t, rs, 3)
	for i, r := range rs {
		m := r.b.Metrics()
		assert.Equal(t, cb.Open, m.State, "replica %d", i)
		assert.Greater(t, m.RetryAfter, 50*time.Second, "replica %d keeps its open time", i)
		assert.Zero(t, m.Transitions.By(cb.ReasonFleetClosed), "replica %d closed", i)
		assert.False(t, r.fleet.Health().Degraded, "replica %d", i)
	}
	// The record written back holds the fleet's open time: a replica
	// that starts now starts open for what is left of it.
	late := newReplica(t, []string{srv.Addr()}, 9, "restart", cfg)
	_, res := late.b.Execute(func() (int, error) { return 1, nil })
	assert.Equal(t, cb.Rejected, res.Outcome)
	assert.Greater(t, res.RetryAfter, 50*time.Second)
}

func TestServerRestartingEmptyDuringTheProbeKeepsTheFleetOpen(t *testing.T) {
	srv := redistest.Start(t)
	addr := []string{srv.Addr()}
	cfg := restartConfig()
	// The probe must outlast the restart and the rounds after it.
	cfg.OpenTimeout, cfg.HalfOpenTimeout = 300*time.Millisecond, 10*time.Second
	prober := newReplica(t, addr, 0, "probe-restart", cfg)
	// A first episode, so that the record's generation before the
	// restart is not the one written back after it.
	prober.fail(3)
	within(t, 3*time.Second, "the first episode closed", func() bool {
		prober.b.Execute(func() (int, error) { return 1, nil })
		return prober.b.State() == cb.Closed
	})
	prober.fail(3)
	require.Equal(t, cb.Open, prober.b.State())
	succeeded := prober.b.Metrics().Transitions.By(cb.ReasonProbesSucceeded)

	// A caller per replica, whose calls hang until release: a probe
	// runs until then.
	release := make(chan struct{})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	call := func(r *replica) {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(5 * time.Millisecond):
				}
				r.b.Execute(func() (int, error) {
					<-release
					return 1, nil
				})
			}
		})
	}
	defer wg.Wait()
	defer close(stop)
	call(prober)
	within(t, 3*time.Second, "the probe running", func() bool { return prober.b.Metrics().HalfOpenInFlight > 0 })

	// The others start open, waiting on the prober's lease. They sync
	// every two seconds from their start, so that the prober is the
	// first to see the server come back empty.
	rs := []*replica{prober}
	for i := 1; i <= 2; i++ {
		r := newReplica(t, addr, i, "probe-restart", cfg, cbredis.WithInterval(2*time.Second))
		require.Equal(t, cb.Open, r.b.State())
		rs = append(rs, r)
		call(r)
	}
	srv.Restart()
	within(t, 5*time.Second, "the record written back", func() bool { return recordState(t, srv, "probe-restart") == "open" })
	// Well past the prober's own open time: the record it wrote back
	// keeps the others waiting on its probe, as its lease did.
	afterRounds(t, rs[:1], 6)
	for i, r := range rs {
		m := r.b.Metrics()
		assert.NotEqual(t, cb.Closed, m.State, "replica %d closed before the probe succeeded", i)
		assert.Zero(t, m.Transitions.By(cb.ReasonFleetClosed), "replica %d", i)
		if i > 0 {
			assert.Equal(t, cb.Open, m.State, "replica %d probes beside the prober", i)
		}
	}
	assert.Equal(t, cb.HalfOpen, prober.b.State(), "the probe goes on")
	assert.Equal(t, 1, prober.b.Metrics().HalfOpenInFlight)

	close(release)
	// The slow replicas hear of the close when the announcement pokes
	// them, or at their next round.
	took := within(t, 5*time.Second, "every replica closed", func() bool { return allIn(rs, cb.Closed) })
	t.Logf("every replica closed %v after the probe ended", took)
	assert.Equal(t, succeeded+1, prober.b.Metrics().Transitions.By(cb.ReasonProbesSucceeded), "the prober's probe closed the fleet")
}

// recordGen reads the generation of the breaker name's state record.
func recordGen(t *testing.T, srv *redistest.Server, name string) int64 {
	t.Helper()
	s, err := srv.Do("HGET", "tripswitch:{"+name+"}:state", "g")
	require.NoError(t, err)
	g, err := strconv.ParseInt(s, 10, 64)
	require.NoError(t, err)
	return g
}

func TestGenerationsDoNotComeBackAfterAnEmptyRestart(t *testing.T) {
	srv := redistest.Start(t)
	cfg := restartConfig()
	cfg.OpenTimeout = time.Minute
	rs := fleetOf(t, []string{srv.Addr()}, 2, "generations", cfg)
	rs[0].fail(3)
	within(t, 2*time.Second, "every replica open", func() bool { return allIn(rs, cb.Open) })
	before := recordGen(t, srv, "generations")

	srv.Restart()
	within(t, 5*time.Second, "the record written back", func() bool { return recordState(t, srv, "generations") == "open" })
	// A replica that had not synced since the restart would take a
	// record of a generation it knows for the one it knows.
	assert.Greater(t, recordGen(t, srv, "generations"), before)
}

// foreign is a value that this package does not write, put at one of a
// breaker's keys; key is the key's suffix after the breaker's base key.
type foreign struct {
	name string
	key  string
	cmd  []string // the command that puts it, with the whole key in place of "KEY"
	gone []string // the hash fields that a sync deletes
}

var foreigns = []foreign{
	{"a string at the record", ":state", []string{"SET", "KEY", "garbage"}, nil},
	{"a record of garbage fields", ":state", []string{"HSET", "KEY", "v", "1", "g", "many", "s", "sideways", "l", "x", "d", "soon"}, nil},
	{"a record of another version", ":state", []string{"HSET", "KEY", "v", "7", "g", "3", "s", "open", "l", "0", "d", "0"}, nil},
	{"a list at the window", ":w:0", []string{"RPUSH", "KEY", "a", "b"}, nil},
	{"non-numeric counts in the window", ":w:0", []string{"HSET", "KEY", "x", "1", "4", "lots", "5", "-3", "6.5", "1"}, []string{"x", "4", "5", "6.5"}},
	{"a string at the reporters", ":rep:0", []string{"SET", "KEY", "nobody"}, nil},
}

func TestForeignValuesAreIgnoredAndCounted(t *testing.T) {
	for _, fv := range foreigns {
		t.Run(fv.name, func(t *testing.T) {
			srv := redistest.Start(t)
			name := "foreign"
			cmd := append([]string(nil), fv.cmd...)
			cmd[1] = "tripswitch:{" + name + "}" + fv.key
			_, err := srv.Do(cmd...)
			require.NoError(t, err)

			cfg := fastConfig()
			cfg.ConsecutiveFailures = 3
			rs := fleetOf(t, []string{srv.Addr()}, 3, name, cfg)
			for range 3 {
				for _, r := range rs {
					for range 5 {
						r.b.Execute(func() (int, error) { return 1, nil })
					}
					r.fail(1)
				}
				afterRounds(t, rs, 1)
			}
			// A bad window field is counted by the replica that reads it
			// first, and deleted.
			var malformed uint64
			for i, r := range rs {
				assert.Equal(t, cb.Closed, r.b.State(), "replica %d", i)
				h := r.fleet.Health()
				malformed += h.Malformed
				assert.Zero(t, h.Errors, "replica %d", i)
			}
			assert.Positive(t, malformed, "the fleet counts what it ignored")
			for _, field := range fv.gone {
				n, err := srv.Do("HEXISTS", cmd[1], field)
				require.NoError(t, err)
				assert.Equal(t, "0", n, "field %q", field)
			}

			// A trip is written over whatever is there, and reaches every
			// replica.
			rs[0].fail(3)
			require.Equal(t, cb.Open, rs[0].b.State())
			within(t, 3*time.Second, "every replica open", func() bool { return allIn(rs, cb.Open) })
			if fv.key == ":state" {
				assert.Equal(t, "open", recordState(t, srv, name), "the record is whole again")
				afterRounds(t, rs, 1)
				before := healthOf(rs)
				afterRounds(t, rs, 3)
				for i, h := range healthOf(rs) {
					assert.Equal(t, before[i].Malformed, h.Malformed, "replica %d still finds a bad record", i)
				}
			}
		})
	}
}

func TestAForeignLeaseDoesNotKeepTheFleetOpen(t *testing.T) {
	srv := redistest.Start(t)
	cfg := fastConfig()
	cfg.ConsecutiveFailures = 3
	rs := fleetOf(t, []string{srv.Addr()}, 3, "lease", cfg)
	rs[0].fail(3)
	within(t, 2*time.Second, "every replica open", func() bool { return allIn(rs, cb.Open) })
	// Written after the trip, whose announcement clears the lease: a
	// string that no replica wrote, with no expiry.
	_, err := srv.Do("SET", "tripswitch:{lease}:lease", "someone")
	require.NoError(t, err)

	took := within(t, 5*time.Second, "every replica closed", func() bool {
		for _, r := range rs {
			r.b.Execute(func() (int, error) { return 1, nil })
		}
		return allIn(rs, cb.Closed)
	})
	t.Logf("closed %v after the foreign lease was written", took)
	var malformed uint64
	for _, h := range healthOf(rs) {
		malformed += h.Malformed
	}
	assert.Positive(t, malformed)
}
