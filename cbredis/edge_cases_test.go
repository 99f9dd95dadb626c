package cbredis_test

// Edge cases of the syncer: a reply lost after the server ran the sync,
// a Cluster node that lost its scripts while the others kept theirs,
// Unshare racing Close, a state record whose generation is no whole
// number, and a half-open timeout below the scripts' millisecond.

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cbredis"
	"github.com/tripswitch/tripswitch/internal/redistest"
)

// slowProxy forwards loopback TCP to a server, holding the server's
// replies back while slow is set: a sync whose reply is lost after the
// server ran it.
type slowProxy struct {
	ln    net.Listener
	slow  atomic.Bool
	conns sync.WaitGroup
	mu    sync.Mutex
	open  []net.Conn
}

// track keeps c to close at cleanup: a connection the client gave up on
// may never be closed by it.
func (p *slowProxy) track(c ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.open = append(p.open, c...)
}

func newSlowProxy(t *testing.T, addr string) *slowProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &slowProxy{ln: ln}
	p.conns.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", addr)
			if err != nil {
				_ = c.Close()
				continue
			}
			p.track(c, s)
			p.conns.Go(func() { _, _ = io.Copy(s, c); _ = s.Close() })
			p.conns.Go(func() {
				defer c.Close()
				buf := make([]byte, 64<<10)
				for {
					n, err := s.Read(buf)
					for n > 0 && p.slow.Load() {
						time.Sleep(time.Millisecond)
					}
					if n > 0 {
						if _, err := c.Write(buf[:n]); err != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			})
		}
	})
	t.Cleanup(func() {
		p.slow.Store(false)
		_ = ln.Close()
		p.mu.Lock()
		for _, c := range p.open {
			_ = c.Close()
		}
		p.mu.Unlock()
		p.conns.Wait()
	})
	return p
}

func TestALostSyncReplyNeverCountsAReplicasOwnOutcomesTwice(t *testing.T) {
	srv := redistest.Start(t)
	p := newSlowProxy(t, srv.Addr())
	client := redis.NewClient(&redis.Options{Addr: p.ln.Addr().String(), MaxRetries: -1, ContextTimeoutEnabled: true})
	f, err := cbredis.New(client, cbredis.WithInterval(interval), cbredis.WithReplicaID("only"), cbredis.WithQuorum(1))
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Close(); _ = client.Close() })
	b := cb.MustNew[int]("lost", fastConfig()) // MinimumCalls 20
	require.NoError(t, f.Share(b))
	afterRounds(t, []*replica{{fleet: f, b: b}}, 2)

	p.slow.Store(true)
	for range 12 {
		b.Execute(func() (int, error) { return 0, errDown })
	}
	errs := f.Health().Errors
	within(t, 5*time.Second, "a sync lost", func() bool { return f.Health().Errors > errs+1 })
	p.slow.Store(false)
	afterRounds(t, []*replica{{fleet: f, b: b}}, 3)
	assert.Equal(t, cb.Closed, b.State(), "12 calls of one replica: its own failures are not the fleet's")
}

func TestNoScriptOnOneClusterNodeRunsNothingTwiceOnAnother(t *testing.T) {
	c := redistest.StartCluster(t, 3)
	cfg := fastConfig()
	cfg.MinimumCalls = 1 << 20
	client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs(), MaxRetries: -1, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = client.Close() })
	ctx := context.Background()
	nodeOf := func(name string) string {
		m, err := client.MasterForKey(ctx, "tripswitch:{"+name+"}:state")
		require.NoError(t, err)
		return m.Options().Addr
	}
	x, y := "x", ""
	for i := 0; y == ""; i++ {
		if n := fmt.Sprintf("y%d", i); nodeOf(n) != nodeOf(x) {
			y = n
		}
	}
	f, err := cbredis.New(client, cbredis.WithInterval(interval), cbredis.WithReplicaID("r0"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Close() })
	bx, by := cb.MustNew[int](x, cfg), cb.MustNew[int](y, cfg)
	require.NoError(t, f.Share(bx))
	require.NoError(t, f.Share(by))
	r := []*replica{{fleet: f, b: bx}}
	afterRounds(t, r, 2)
	xNode, err := client.MasterForKey(ctx, "tripswitch:{"+x+"}:state")
	require.NoError(t, err)
	for range 3 {
		for range 10 {
			by.Execute(func() (int, error) { return 1, nil })
		}
		require.NoError(t, xNode.ScriptFlush(ctx).Err())
		afterRounds(t, r, 2)
	}
	gen, err := client.HGet(ctx, "tripswitch:{"+y+"}:state", "g").Result()
	if err != nil {
		gen = "0"
	}
	h, err := client.HGetAll(ctx, "tripswitch:{"+y+"}:w:"+gen).Result()
	require.NoError(t, err)
	total := 0
	for _, v := range h {
		n, err := strconv.Atoi(v)
		require.NoError(t, err)
		total += n
	}
	assert.Equal(t, 30, total, "every success of y counted once")
}

func TestUnshareRacingCloseLeavesNoBreakerHeld(t *testing.T) {
	srv := redistest.Start(t)
	cfg := fastConfig()
	cfg.ConsecutiveFailures = 3
	const n = 8
	rs := make([]*replica, n)
	for i := range rs {
		rs[i] = newReplica(t, []string{srv.Addr()}, i, fmt.Sprintf("race%d", i), cfg)
		rs[i].fail(3)
	}
	afterRounds(t, rs, 1)
	var wg sync.WaitGroup
	for _, r := range rs {
		wg.Go(func() { r.fleet.Unshare(r.b.Name()) })
		wg.Go(func() { _ = r.fleet.Close() })
	}
	wg.Wait()
	within(t, 3*time.Second, "every breaker local, probing after its open time", func() bool {
		for _, r := range rs {
			if r.b.State() == cb.Open {
				return false
			}
		}
		return true
	})
}

func TestABadGenerationIsIgnoredAndReplaced(t *testing.T) {
	for _, g := range []string{"1.5", "1e19", "-3"} {
		t.Run(g, func(t *testing.T) {
			srv := redistest.Start(t)
			_, err := srv.Do("HSET", "tripswitch:{gen}:state", "v", "1", "g", g, "s", "closed", "l", "0", "d", "0")
			require.NoError(t, err)
			cfg := fastConfig()
			cfg.ConsecutiveFailures = 3
			rs := fleetOf(t, []string{srv.Addr()}, 2, "gen", cfg)
			afterRounds(t, rs, 2)
			assert.Positive(t, rs[0].fleet.Health().Malformed)
			rs[0].fail(3)
			within(t, 2*time.Second, "the trip written over the bad record reaches the other", func() bool {
				return rs[1].b.State() == cb.Open
			})
		})
	}
}

func TestAHalfOpenTimeoutUnderAMillisecondStillLeasesAProbe(t *testing.T) {
	srv := redistest.Start(t)
	cfg := fastConfig()
	cfg.ConsecutiveFailures, cfg.HalfOpenTimeout = 3, 500*time.Microsecond
	rs := fleetOf(t, []string{srv.Addr()}, 2, "tiny", cfg)
	rs[0].fail(3)
	within(t, 2*time.Second, "both open", func() bool { return allIn(rs, cb.Open) })
	within(t, 3*time.Second, "one replica probes", func() bool {
		return rs[0].b.State() == cb.HalfOpen || rs[1].b.State() == cb.HalfOpen
	})
}
