package cbredis_test

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cbredis"
)

func TestNewRefusesBadOptionsNamingEach(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = client.Close() })
	// Clients that would let a hung server hold a sync for their read
	// timeout.
	loose := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { _ = loose.Close() })
	looseCluster := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}})
	t.Cleanup(func() { _ = looseCluster.Close() })
	for name, tc := range map[string]struct {
		client redis.UniversalClient
		opts   []cbredis.Option
		want   string
	}{
		"nil client":       {nil, nil, "client"},
		"loose client":     {loose, nil, "ContextTimeoutEnabled"},
		"loose cluster":    {looseCluster, nil, "ContextTimeoutEnabled"},
		"quorum 0":         {client, []cbredis.Option{cbredis.WithQuorum(0)}, "quorum 0"},
		"negative quorum":  {client, []cbredis.Option{cbredis.WithQuorum(-2)}, "quorum -2"},
		"zero interval":    {client, []cbredis.Option{cbredis.WithInterval(0)}, "interval 0s"},
		"zero timeout":     {client, []cbredis.Option{cbredis.WithTimeout(0)}, "timeout 0s"},
		"empty prefix":     {client, []cbredis.Option{cbredis.WithPrefix("")}, "prefix"},
		"braced prefix":    {client, []cbredis.Option{cbredis.WithPrefix("a{b}")}, "prefix"},
		"empty replica id": {client, []cbredis.Option{cbredis.WithReplicaID("")}, "replica id"},
		"negative warm":    {client, []cbredis.Option{cbredis.WithWarmStart(-time.Second)}, "warm start"},
		"zero backoff":     {client, []cbredis.Option{cbredis.WithMaxBackoff(0)}, "max backoff"},
		"nil option":       {client, []cbredis.Option{nil}, "nil Option"},
	} {
		t.Run(name, func(t *testing.T) {
			f, err := cbredis.New(tc.client, tc.opts...)
			require.ErrorIs(t, err, cbredis.ErrInvalidOption)
			assert.Contains(t, err.Error(), tc.want)
			assert.Nil(t, f)
		})
	}
}

func TestNewReportsEveryBadOption(t *testing.T) {
	_, err := cbredis.New(nil, cbredis.WithQuorum(0), cbredis.WithInterval(-1))
	require.ErrorIs(t, err, cbredis.ErrInvalidOption)
	for _, want := range []string{"client", "quorum 0", "interval -1ns"} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestShareRefusesAnIntervalShorterThanABucket(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true})
	f, err := cbredis.New(client, cbredis.WithInterval(50*time.Millisecond), cbredis.WithWarmStart(0))
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Close(); _ = client.Close() })

	wide := cb.MustNew[int]("wide", cb.Config{Window: time.Second, Buckets: 10}) // 100ms buckets
	err = f.Share(wide)
	require.ErrorIs(t, err, cbredis.ErrInvalidOption)
	assert.Contains(t, err.Error(), `"wide"`)
	assert.Zero(t, f.Health().Shared)

	require.NoError(t, f.Share(cb.MustNew[int]("narrow", cb.Config{Window: time.Second, Buckets: 20})))
	require.NoError(t, f.Share(cb.MustNew[int]("counted", cb.Config{WindowCalls: 50})), "a count window has no buckets")
	require.ErrorIs(t, f.Share(cb.MustNew[int]("narrow", cb.Config{Window: time.Second, Buckets: 20})), cbredis.ErrAlreadyShared)
	require.ErrorIs(t, f.Share(nil), cbredis.ErrInvalidOption)
	assert.Equal(t, 2, f.Health().Shared)

	require.NoError(t, f.Close())
	require.NoError(t, f.Close(), "closing twice is harmless")
	require.ErrorIs(t, f.Share(cb.MustNew[int]("late", cb.Config{WindowCalls: 5})), cbredis.ErrClosed)
}
