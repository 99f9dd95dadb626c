package cbredis

import "time"

// Health is how a Fleet's syncing goes, for metrics and readiness checks.
type Health struct {
	// LastSync is when the last sync round succeeded (zero: none yet).
	LastSync time.Time
	// Syncs counts the rounds that succeeded, Errors those that failed
	// (a timeout, a refused connection, an error from Redis) and the
	// probe lease requests that did.
	Syncs, Errors uint64
	// Degraded reports that at least one shared breaker has gone a whole
	// window without a successful sync: it is a local breaker until the
	// fleet can be reached again.
	Degraded bool
	// Malformed counts values found in Redis that were not what this
	// package writes (another type at a key, unparsable fields). They are
	// ignored.
	Malformed uint64
	// DroppedEvents counts transitions the syncer had no room to queue:
	// the breaker made them, but the fleet did not hear them from this
	// replica.
	DroppedEvents uint64
	// Shared is the number of breakers shared.
	Shared int
}
