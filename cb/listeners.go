package cb

// Subscribe makes f hear every transition of the breaker from now on, as
// Config.OnStateChange does (which is the first listener, when set), and
// returns a function that unsubscribes it; calling that more than once is
// harmless. A transition already being told when f is unsubscribed may
// still reach it; later ones do not. Listeners are called one after another, synchronously, by the
// goroutine that made the transition, never under a lock, and a panic in
// one is recovered without keeping the others from hearing. See
// Transition for the order in which they hear transitions made by
// different goroutines. f must be safe for concurrent use.
func (b *core) Subscribe(f func(Transition)) (unsubscribe func()) {
	return b.listeners.Add(f)
}
