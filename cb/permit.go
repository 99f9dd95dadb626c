package cb

import "github.com/tripswitch/tripswitch/cb/internal/ring"

// Permit is an admission from Allow, for calls that cannot be wrapped in a
// function. Call Done exactly once with the call's result; a second Done
// on the same Permit, and Done on the zero Permit, do nothing. (Done on a
// copy of a Permit counts again: keep one.)
type Permit[T any] struct {
	b *Breaker[T]
	t ticket
}

// Allow asks to make a call now. On admission it returns a Permit whose
// Done reports the call's result; otherwise a zero Permit and a *OpenError
// matching ErrOpen. In HalfOpen each admission takes a probe permit, so
// Done must follow (an Ignored result returns the permit).
func (b *Breaker[T]) Allow() (Permit[T], error) {
	t, ok := b.admit()
	if !ok {
		b.sums.AddTally(ring.Rejected)
		return Permit[T]{}, b.rejectErr(t)
	}
	return Permit[T]{b: b, t: t}, nil
}

// Done counts the result of the admitted call, classified as Execute
// classifies fn's result.
func (p *Permit[T]) Done(v T, err error) {
	if p.b == nil {
		return
	}
	b := p.b
	p.b = nil
	var val T
	var r CallResult[T]
	b.finish(p.t, v, err, false, &val, &r)
}
