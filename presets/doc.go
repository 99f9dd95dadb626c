// Package presets holds breaker configurations for three common kinds of
// dependency, so that most services need not tune a cb.Config by hand:
//
//	users := presets.NewDatabase[*User]("users-db")
//	cfg := presets.API() // a plain cb.Config: adjust it, then cb.New or registry.Get
//	cfg.OnStateChange = logTransition
//
// # Model
//
// API, Database and Network each return a fresh cb.Config value: changing
// one never affects another caller's. NewAPI, NewDatabase and NewNetwork
// make a breaker from the unchanged preset. Every preset sets all of
// ConsecutiveFailures, SuccessThreshold, OpenTimeout, WindowCalls,
// MinimumCalls, FailureRateThreshold and SlowCallDuration explicitly, even
// where a value equals cb's default, so that a preset never changes when a
// default does; the other fields are left zero, meaning cb's defaults.
//
// The presets use a count window (WindowCalls), not a time window. The
// failure rate is therefore that of the last N calls however old they
// are, which suits steady traffic; a dependency called rarely keeps an old
// failure in its window for a long time, and is better served by a time
// window (set Window, and WindowCalls back to 0).
//
// # Concurrency
//
// The functions are pure apart from the breakers they make, and safe for
// concurrent use, as are the breakers.
package presets
