package registry

import "github.com/tripswitch/tripswitch/cb"

// Subscribe makes f hear every transition of every breaker the registry
// holds, now and made later (Transition.Name says which), and returns a
// function that unsubscribes it; calling that more than once is harmless.
// A breaker removed or evicted from the registry is no longer reported by
// it, but one still in use elsewhere goes on telling f of its transitions.
//
// f is called as a breaker's own listeners are (see cb.Breaker.Subscribe):
// synchronously, by the goroutine that made the transition, never under a
// lock of the registry or the breaker, with its panics recovered; f must
// be safe for concurrent use.
func (r *Registry) Subscribe(f func(cb.Transition)) (unsubscribe func()) {
	return r.listeners.Add(f)
}
