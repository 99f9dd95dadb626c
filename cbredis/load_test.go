package cbredis_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cbredis"
	"github.com/tripswitch/tripswitch/internal/redistest"
)

// commandCalls returns the calls of cmd in INFO commandstats.
func commandCalls(t *testing.T, srv *redistest.Server, cmd string) (calls int, usecPerCall float64) {
	t.Helper()
	info, err := srv.Do("INFO", "commandstats")
	require.NoError(t, err)
	stat := redistest.Field(info, "cmdstat_"+cmd) // calls=N,usec=...
	for field := range strings.SplitSeq(stat, ",") {
		k, v, _ := strings.Cut(field, "=")
		switch k {
		case "calls":
			calls, err = strconv.Atoi(v)
			require.NoError(t, err)
		case "usec_per_call":
			usecPerCall, err = strconv.ParseFloat(v, 64)
			require.NoError(t, err)
		}
	}
	return calls, usecPerCall
}

// The Redis load of one replica sharing 100 breakers: one script call
// per breaker per round, in one round trip, whatever the traffic; and the
// keys and memory each breaker keeps in Redis.
func TestRedisLoadOfAReplicaSharing100Breakers(t *testing.T) {
	const breakers = 100
	srv := redistest.Start(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = client.Close() })
	f, err := cbredis.New(client, cbredis.WithInterval(interval), cbredis.WithReplicaID("load"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Close() })
	bs := make([]*cb.Breaker[int], breakers)
	for i := range bs {
		bs[i] = cb.MustNew[int](fmt.Sprintf("dep-%03d", i), benchConfig())
		require.NoError(t, f.Share(bs[i]))
	}
	// Traffic in every bucket of every window: each breaker's ten bucket
	// keys and its reporters hold what a busy breaker keeps.
	done := make(chan struct{})
	traffic := make(chan struct{})
	go func() {
		defer close(traffic)
		for {
			select {
			case <-done:
				return
			default:
			}
			for _, b := range bs {
				b.Execute(okCall)
				b.Execute(func() (int, error) { return 0, errDown })
			}
			time.Sleep(time.Millisecond)
		}
	}()
	r := &replica{fleet: f}
	afterRounds(t, []*replica{r}, 12) // a whole window and more
	_, err = srv.Do("CONFIG", "RESETSTAT")
	require.NoError(t, err)
	start, before := time.Now(), f.Health().Syncs
	time.Sleep(time.Second) // a rate is measured over time
	rounds, took := f.Health().Syncs-before, time.Since(start)
	evals, usec := commandCalls(t, srv, "evalsha")
	close(done)
	<-traffic

	perRound := float64(evals) / float64(rounds)
	t.Logf("%d breakers: %d EVALSHA in %d rounds (%.1f a round), %.0f commands a second at a %v interval, %.1fµs of server time each",
		breakers, evals, rounds, perRound, float64(evals)/took.Seconds(), interval, usec)
	// At most one script call per breaker per interval; fewer only when
	// a loaded machine stretches the rounds.
	rate, ideal := float64(evals)/took.Seconds(), float64(breakers)/interval.Seconds()
	assert.LessOrEqual(t, rate, 1.1*ideal, "one script call per breaker per interval")
	assert.GreaterOrEqual(t, rate, 0.5*ideal, "every breaker syncs")

	keys, err := srv.Do("DBSIZE")
	require.NoError(t, err)
	n, err := strconv.Atoi(keys)
	require.NoError(t, err)
	var bytes int
	all, err := srv.Do("KEYS", "*")
	require.NoError(t, err)
	for _, k := range strings.Split(all, "\n") {
		used, err := srv.Do("MEMORY", "USAGE", k)
		require.NoError(t, err)
		u, err := strconv.Atoi(used)
		require.NoError(t, err)
		bytes += u
	}
	t.Logf("per breaker: %.1f keys, %d bytes (MEMORY USAGE summed)", float64(n)/breakers, bytes/breakers)
	// A window of buckets and the reporters, and the odd bucket that
	// expired but that Redis has not collected yet (it expires keys
	// lazily and by sampling).
	assert.LessOrEqual(t, n, breakers*13, "keys per breaker")
}
