package registry_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cb/cbtest"
	"github.com/tripswitch/tripswitch/registry"
)

var errSubscribe = errors.New("down")

// A registry's subscriber hears the transitions of every breaker it holds,
// those made after it subscribed included, each breaker's own
// OnStateChange still working; after unsubscribing it hears nothing.
func TestRegistrySubscribe(t *testing.T) {
	clk := cbtest.NewClock()
	r := registry.New()
	var own []cb.Transition
	cfg := cb.Config{ConsecutiveFailures: 1, Clock: clk, OnStateChange: func(tr cb.Transition) { own = append(own, tr) }}
	before, err := registry.Get[int](r, "before", cfg)
	require.NoError(t, err)

	var mu sync.Mutex
	var heard []string
	unsub := r.Subscribe(func(tr cb.Transition) {
		mu.Lock()
		heard = append(heard, tr.Name+": "+tr.To.String()+" ("+tr.Reason.String()+")")
		mu.Unlock()
	})
	r.Subscribe(func(cb.Transition) { panic("a bad listener") })

	after, err := registry.Get[string](r, "after", cb.Config{ConsecutiveFailures: 1, Clock: clk})
	require.NoError(t, err)
	before.Execute(func() (int, error) { return 0, errSubscribe })
	after.Execute(func() (string, error) { return "", errSubscribe })
	assert.Equal(t, []string{"before: open (consecutive failures)", "after: open (consecutive failures)"}, heard)
	assert.Len(t, own, 1, "the breaker's own listener still hears")

	unsub()
	unsub()
	r.ResetAll()
	assert.Len(t, heard, 2, "unsubscribed")
	assert.Len(t, own, 2)
}

// Subscribers come and go while breakers are made and change state in
// other goroutines; one that stays subscribed hears every transition.
func TestRegistrySubscribeConcurrent(t *testing.T) {
	clk := cbtest.NewClock()
	r := registry.New()
	var mu sync.Mutex
	count := 0
	r.Subscribe(func(cb.Transition) { mu.Lock(); count++; mu.Unlock() })
	var wg sync.WaitGroup
	const workers, rounds = 4, 200
	for w := range workers {
		wg.Go(func() {
			for i := range rounds {
				b, err := registry.Get[int](r, string(rune('a'+w))+"-"+string(rune('a'+i%7)), cb.Config{ConsecutiveFailures: 1, Clock: clk})
				if !assert.NoError(t, err) {
					return
				}
				r.Subscribe(func(cb.Transition) {})()
				b.ForceOpen()
				b.Reset()
			}
		})
	}
	wg.Wait()
	clk.Advance(time.Second)
	assert.Equal(t, 2*workers*rounds, count)
}
