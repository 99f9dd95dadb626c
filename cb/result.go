package cb

import "time"

// CallResult is what the breaker made of one call.
type CallResult[T any] struct {
	// The fields are ordered so that, for a word-sized T (an int, a
	// pointer), the struct is 48 bytes: copies of sizes that are a
	// multiple of 16 bytes do not stall on overlapping moves.

	Value T
	// Err is fn's error, ctx.Err() for a call refused because its context
	// was already done, or a *OpenError (matching ErrOpen) when Rejected.
	Err error
	// Duration is fn's run time as the breaker's clock measured it (0 when
	// fn did not run).
	Duration time.Duration
	// RetryAfter, when Rejected by an open breaker, is the time until a
	// probe may be admitted; 0 when half-open or forced open.
	RetryAfter time.Duration
	Outcome    Outcome
	// State is the state that admitted or rejected the call.
	State State
	// Slow reports Duration > Config.SlowCallDuration (always false with
	// slow-call tracking Off).
	Slow bool
	// Stale reports that the breaker changed generation while the call
	// ran, so its outcome was not counted (only TotalStale was).
	Stale bool
	// WouldReject reports that the breaker, in shadow mode (see
	// Config.Shadow), would have rejected the call and ran it all the
	// same. It was counted as rejected, and only so: Outcome is what fn
	// did, so code that reads it behaves as it would with no breaker,
	// and State and RetryAfter are those of the rejection.
	WouldReject bool
}
