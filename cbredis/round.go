package cbredis

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// A round is one pass of the syncer over its members, under one deadline:
// the transitions to announce (one pipelined round trip, when there are
// any), the sync (one pipelined round trip: every member flushes its
// counts and reads back the fleet's window and record), and the probe
// leases to ask for (one more, when an open time is over).

// record is a breaker's state record as a script read it.
type record struct {
	gen   int64 // 0: no record yet; -1: a bad one, ignored
	open  bool
	level int
	rem   time.Duration // open time left, by the server's clock
}

// recordOf parses g, st, lvl, rem, bad.
func recordOf(v []int64) (record, int64) {
	return record{gen: v[0], open: v[1] == 1, level: int(v[2]), rem: time.Duration(v[3]) * time.Millisecond}, v[4]
}

// round runs one round over ms. Each member's own sync failures set its
// backoff; Health counts the rounds that failed in any part.
func (f *Fleet) round(ms []*member) {
	ctx, cancel := context.WithTimeout(context.Background(), f.o.timeout)
	defer cancel()
	start := time.Now()
	ok := f.announce(ctx, ms)
	leases, synced := f.sync(ctx, ms, start)
	ok = synced && ok
	if len(leases) > 0 {
		f.lease(ctx, leases)
	}
	if ok {
		f.syncs.Inc()
		f.lastSync.Store(time.Now().UnixNano())
	} else {
		f.errs.Inc()
	}
}

// pipeline runs script s once per member of ms, with the arguments
// args[i] for ms[i], in one round trip, and returns each reply. The
// commands of a server that lost its script cache run once more after
// the scripts are loaded.
func (f *Fleet) pipeline(ctx context.Context, s *redis.Script, ms []*member, args [][]any) []*redis.Cmd {
	cmds := make([]*redis.Cmd, len(ms))
	pipe := f.client.Pipeline()
	for i, m := range ms {
		cmds[i] = s.EvalSha(ctx, pipe, []string{m.base}, args[i]...)
	}
	_, _ = pipe.Exec(ctx) // each command carries its own error
	var again []int
	for i, c := range cmds {
		if redis.HasErrorPrefix(c.Err(), "NOSCRIPT") {
			again = append(again, i)
		}
	}
	if len(again) == 0 {
		return cmds
	}
	// Only the commands refused run again: on a Cluster the others ran
	// on nodes that kept their cache, and running them twice would count
	// twice.
	for _, s := range scripts {
		if err := s.Load(ctx, f.client).Err(); err != nil {
			return cmds
		}
	}
	pipe = f.client.Pipeline()
	for _, i := range again {
		cmds[i] = s.EvalSha(ctx, pipe, []string{ms[i].base}, args[i]...)
	}
	_, _ = pipe.Exec(ctx)
	return cmds
}

// errMalformed is a reply that is not what the script returns.
var errMalformed = errors.New("cbredis: malformed reply")

// ints is a script's reply as integers; at least n of them.
func ints(c *redis.Cmd, n int) ([]int64, error) {
	raw, err := c.Slice()
	if err != nil {
		return nil, err
	}
	v := make([]int64, len(raw))
	for i, x := range raw {
		n, ok := x.(int64)
		if !ok {
			return nil, errMalformed
		}
		v[i] = n
	}
	if len(v) < n {
		return nil, errMalformed
	}
	return v, nil
}
