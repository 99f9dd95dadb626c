package redistest

import (
	"context"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// clusterTimeout bounds the cluster's creation and, separately, the wait
// for every node to report it ok: the nodes agree through their gossip,
// which takes a few of its rounds.
const clusterTimeout = 30 * time.Second

// Cluster is a Redis Cluster of masters only, each a Server of its own.
type Cluster struct {
	servers []*Server
}

// StartCluster starts masters (at least 3, as redis-cli requires)
// redis-servers in cluster mode, with a node timeout of 2 s so that a test
// that kills a node sees the cluster notice within seconds, joins them
// with `redis-cli --cluster create` with the slots split evenly, and
// returns once every node reports cluster_state:ok. The servers are killed
// when the test ends.
func StartCluster(tb testing.TB, masters int) *Cluster {
	tb.Helper()
	if masters < 3 {
		tb.Fatalf("redistest: a cluster needs at least 3 masters, not %d", masters)
	}
	cli, err := lookPath("redis-cli")
	if err != nil {
		tb.Fatal(err)
	}
	c := &Cluster{}
	for range masters {
		c.servers = append(c.servers, Start(tb, clusterBus(), Args(
			"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "2000",
		)))
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), clusterTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput() //nolint:gosec // G204: redis-cli from $PATH with our servers' addresses; no shell
	if err != nil {
		tb.Fatalf("redistest: redis-cli %v: %v\n%s", args, err, out)
	}
	c.waitOK(tb)
	return c
}

// Addrs returns the masters' addresses, host:port, in the order they were
// started.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.servers))
	for i, s := range c.servers {
		addrs[i] = s.Addr()
	}
	return addrs
}

// Servers returns the masters, for a test that kills, pauses or restarts
// one of them.
func (c *Cluster) Servers() []*Server {
	return append([]*Server(nil), c.servers...)
}

// waitOK polls every node until it reports the cluster ok and knows every
// node: redis-cli returns when the slots are assigned, which is before
// every node has heard so.
func (c *Cluster) waitOK(tb testing.TB) {
	tb.Helper()
	want := strconv.Itoa(len(c.servers))
	deadline := time.Now().Add(clusterTimeout)
	for _, s := range c.servers {
		for {
			info, err := s.Do("CLUSTER", "INFO")
			if err == nil && Field(info, "cluster_state") == "ok" && Field(info, "cluster_known_nodes") == want {
				break
			}
			if time.Now().After(deadline) {
				tb.Fatalf("redistest: the cluster is not ok on %s after %v: %v\n%s", s.Addr(), clusterTimeout, err, info)
			}
			time.Sleep(pollEvery)
		}
	}
}
