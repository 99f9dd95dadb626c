package fanout

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSetTellsInOrderAndIsolatesPanics(t *testing.T) {
	var s Set[int]
	assert.True(t, s.Empty())
	s.Tell(0) // the zero Set tells no one
	var got []string
	removeA := s.Add(func(int) { got = append(got, "a") })
	s.Add(func(int) { panic("boom") })
	s.Add(func(int) { got = append(got, "c") })
	s.Add(nil)() // a nil listener is not added; its remove is harmless
	s.Tell(1)
	assert.Equal(t, []string{"a", "c"}, got)
	removeA()
	removeA()
	got = nil
	s.Tell(2)
	assert.Equal(t, []string{"c"}, got)
	assert.False(t, s.Empty())
}

func TestSetConcurrentAddRemoveTell(t *testing.T) {
	var s Set[int]
	var mu sync.Mutex
	total := 0
	s.Add(func(e int) { mu.Lock(); total += e; mu.Unlock() })
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 500 {
				s.Add(func(int) {})()
			}
		})
		wg.Go(func() {
			for range 500 {
				s.Tell(1)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 2000, total, "the steady listener heard every event once")
}
