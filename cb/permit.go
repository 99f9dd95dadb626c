package cb

import "github.com/tripswitch/tripswitch/cb/internal/ring"

// Permit is an admission from Allow, for calls that cannot be wrapped in a
// function. Call Done exactly once with the call's result; a second Done
// on the same Permit, and Done on the zero Permit, do nothing.
//
// A Permit is a value, and its Done forgets it only in the copy it is
// called on: Done on each of two copies counts the call twice (in
// half-open, two probe outcomes for one permit). Keep one copy and pass a
// *Permit around. Preventing it would cost an allocation per Allow.
type Permit[T any] struct {
	b *Breaker[T]
	t ticket
}

// Allow asks to make a call now. On admission it returns a Permit whose
// Done reports the call's result; otherwise a zero Permit and a *OpenError
// matching ErrOpen, or, in shadow mode, a Permit whose WouldReject is set
// and a nil error. In HalfOpen each admission takes a probe permit, so
// Done must follow (an Ignored result returns the permit).
func (b *Breaker[T]) Allow() (Permit[T], error) {
	t, ok := b.admit()
	if !ok {
		b.counters.AddTally(ring.Rejected)
		if t.shadow() {
			return Permit[T]{t: t}, nil
		}
		return Permit[T]{}, b.rejectErr(t)
	}
	return Permit[T]{b: b, t: t}, nil
}

// WouldReject reports that the breaker, in shadow mode, would have
// rejected the call (see Config.Shadow): Allow counted it as rejected and
// returned this Permit all the same, whose Done counts nothing.
func (p *Permit[T]) WouldReject() bool { return p.t.shadow() }

// Done counts the result of the admitted call, classified as Execute
// classifies fn's result.
func (p *Permit[T]) Done(v T, err error) {
	if p.b == nil {
		return
	}
	b, t := p.b, p.t
	p.b = nil
	pol := b.pol.Load()
	var val T
	var r CallResult[T]
	if b.classifier == nil && (err == nil || pol.defaultClassifiers) {
		b.finish(t, v, err, false, &val, &r, pol) // no code of the user's runs
		return
	}
	b.doneClassifying(t, v, err, pol)
}

// doneClassifying is Done when user code classifies the result: a
// classifier that panics counts a failure and returns the probe permit,
// as a panic in Execute's fn does, and the panic goes on.
func (b *Breaker[T]) doneClassifying(t ticket, v T, err error, pol *policy) {
	var val T
	var r CallResult[T]
	done := false
	defer func() {
		if !done {
			b.finish(t, val, nil, true, &val, &r, pol)
		}
	}()
	b.finish(t, v, err, false, &val, &r, pol)
	done = true
}
