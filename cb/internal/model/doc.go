// Package model is the reference model of a tripswitch breaker: a
// deliberately plain implementation of the rules and decisions written in
// package cb's documentation, against which the lock-free cb.Breaker is
// fuzzed (cb's FuzzBreaker).
//
// Nothing here is tuned. One mutex guards the whole state; the window is
// a list of the counted outcomes with the bucket each ended in; the backoff
// is a count of doublings and the open time it gives; a probe episode is
// two counters; the policy is one value that Reconfigure replaces, with
// the window emptied when it changes shape. The model classifies nothing:
// the caller says what each call's outcome was, so the classification
// rules are checked by the fuzz harness, which knows what it made each
// call return.
//
// The model must be a function of the same inputs as the breaker, so it
// also mirrors which operations look at the clock's effect on the state
// (the transitions that time alone causes): Begin (Execute, Allow), State,
// Metrics, Status, Reconfigure and the end of a probe do; Force*, Reset,
// Refuse, the end of a call admitted while closed, and the sharer's
// SetWindow, HoldProbes, GrantProbes, AdoptOpen and AdoptClosed do not
// (so an Open whose time is over but that nobody looked at is still Open
// to them). Like the breaker, it judges a call by the policy in force when
// the call ends.
//
// It also plays the fleet seam (cb.FleetLink): the lifetime closed-state
// counts a sharer reads, the fleet's window judged with the local one
// under a quorum, the hold on probing and its grant, and the transitions
// adopted from other replicas.
package model
