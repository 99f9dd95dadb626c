// Package fanout is a set of listeners told of events without a lock.
//
// The set is an immutable slice replaced whole by Add and by the function
// Add returns, so Tell takes one atomic load and no lock, and a listener
// added or removed while an event is being told sees a consistent set:
// the event reaches every listener in the set Tell loaded. Changes are
// serialized by a mutex that is never held while a listener runs. A
// listener that panics is recovered, and the others are still told. The
// zero Set is empty and ready to use.
package fanout

import (
	"slices"
	"sync"
	"sync/atomic"
)

// Set is a set of listeners for events of type E.
type Set[E any] struct {
	mu   sync.Mutex
	list atomic.Pointer[[]*listener[E]]
	// first is the listener SetFirst put first (mu), nil when none.
	first *listener[E]
}

// listener is one subscription; its address identifies it for removal.
type listener[E any] struct{ f func(E) }

// Add subscribes f and returns the function that removes it again;
// calling that more than once is harmless. A nil f is not added.
func (s *Set[E]) Add(f func(E)) (remove func()) {
	if f == nil {
		return func() {}
	}
	l := &listener[E]{f: f}
	s.mu.Lock()
	next := []*listener[E]{l}
	if cur := s.list.Load(); cur != nil {
		next = append(slices.Clone(*cur), l)
	}
	s.list.Store(&next)
	s.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { s.remove(l) }) }
}

// SetFirst makes f the first listener, in place of the one the previous
// SetFirst put there; a nil f only removes that one. It suits a listener
// that belongs to a configuration and is replaced with it, rather than
// subscribed: the others keep their places and their order.
func (s *Set[E]) SetFirst(f func(E)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.first
	var next []*listener[E]
	if f != nil {
		s.first = &listener[E]{f: f}
		next = append(next, s.first)
	} else {
		s.first = nil
	}
	if cur := s.list.Load(); cur != nil {
		for _, l := range *cur {
			if l != old {
				next = append(next, l)
			}
		}
	}
	s.list.Store(&next)
}

func (s *Set[E]) remove(l *listener[E]) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.list.Load()
	if cur == nil {
		return
	}
	next := slices.DeleteFunc(slices.Clone(*cur), func(x *listener[E]) bool { return x == l })
	s.list.Store(&next)
}

// Tell calls every listener with e, in the order they were added, one
// after another on the calling goroutine.
func (s *Set[E]) Tell(e E) {
	cur := s.list.Load()
	if cur == nil {
		return
	}
	for _, l := range *cur {
		l.call(e)
	}
}

// Empty reports whether the set has no listener.
func (s *Set[E]) Empty() bool {
	cur := s.list.Load()
	return cur == nil || len(*cur) == 0
}

func (l *listener[E]) call(e E) {
	defer func() { _ = recover() }() // one listener's panic must not keep the others from hearing
	l.f(e)
}
