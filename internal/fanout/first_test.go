package fanout

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// SetFirst puts its listener first, replaces it in place, and removes it
// with nil, leaving the others where they were.
func TestSetFirst(t *testing.T) {
	var s Set[int]
	var got []string
	hear := func(name string) func(int) { return func(int) { got = append(got, name) } }
	s.Add(hear("a"))
	s.SetFirst(hear("first"))
	removeB := s.Add(hear("b"))
	s.Tell(0)
	assert.Equal(t, []string{"first", "a", "b"}, got)

	got = nil
	s.SetFirst(hear("second"))
	removeB()
	s.Tell(0)
	assert.Equal(t, []string{"second", "a"}, got)

	got = nil
	s.SetFirst(nil)
	s.SetFirst(nil)
	s.Tell(0)
	assert.Equal(t, []string{"a"}, got)

	var empty Set[int]
	empty.SetFirst(nil)
	assert.True(t, empty.Empty())
	empty.SetFirst(hear("only"))
	got = nil
	empty.Tell(0)
	assert.Equal(t, []string{"only"}, got)
}
