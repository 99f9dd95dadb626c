package cbredis_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/internal/redistest"
)

func TestFleetOnACluster(t *testing.T) {
	c := redistest.StartCluster(t, 3)
	// A name with the characters that would break the hash tag unescaped.
	const name = "pay:{ments}"
	const tag = "{pay%3A%7Bments%7D}"
	rs := fleetOf(t, c.Addrs(), 8, name, fastConfig())
	for _, r := range rs {
		r.fail(3) // 24 failures in all; 3 alone is below MinimumCalls
	}
	for _, r := range rs {
		require.Equal(t, cb.Closed, r.b.State())
	}
	took := within(t, 2*time.Second, "every replica open", func() bool { return allIn(rs, cb.Open) })
	t.Logf("every replica open %v after the last failure", took)
	assert.LessOrEqual(t, took, 2*interval+300*time.Millisecond, "within two intervals")

	// Every key of the breaker is on one node, in the slot of its hash
	// tag: each script touches one slot.
	slot, err := c.Servers()[0].Do("CLUSTER", "KEYSLOT", tag)
	require.NoError(t, err)
	holders := map[string]bool{}
	var keys []string
	for _, s := range c.Servers() {
		out, err := s.Do("KEYS", "tripswitch:*")
		require.NoError(t, err)
		for k := range strings.Lines(out) {
			k = strings.TrimRight(k, "\n")
			if k == "" {
				continue
			}
			keys = append(keys, k)
			holders[s.Addr()] = true
			assert.True(t, strings.HasPrefix(k, "tripswitch:"+tag+":"), "key %q", k)
			ks, err := s.Do("CLUSTER", "KEYSLOT", k)
			require.NoError(t, err)
			assert.Equal(t, slot, ks, "key %q", k)
		}
	}
	t.Logf("keys %v in slot %s", keys, slot)
	assert.Len(t, holders, 1, "one node holds them all")
	for _, suffix := range []string{":state", ":w:", ":rep:"} {
		assert.True(t, func() bool {
			for _, k := range keys {
				if strings.Contains(k, tag+suffix) {
					return true
				}
			}
			return false
		}(), "a %s key among %v", suffix, keys)
	}

	// The probe lease and the close go through the cluster too.
	within(t, 5*time.Second, "every replica closed", func() bool {
		for _, r := range rs {
			r.b.Execute(func() (int, error) { return 1, nil })
		}
		return allIn(rs, cb.Closed)
	})
	var probes uint64
	for _, r := range rs {
		probes += r.b.Metrics().Transitions.By(cb.ReasonOpenTimeout)
	}
	assert.Equal(t, uint64(1), probes, "one replica probed: %v", states(rs))
}
