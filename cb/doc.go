// Package cb is a typed, lock-free circuit breaker.
//
// A Breaker[T] guards calls to one dependency that return a T. It watches
// their outcomes, trips open when failures or slow calls pass a threshold,
// rejects calls fast while open, lets a few probe calls through when the
// open time is over (half-open), and closes again when they succeed:
//
//	b, err := cb.New[*User]("users-db", cb.Config{})
//	user, res := b.Execute(func() (*User, error) { return db.User(ctx, id) })
//	if errors.Is(res.Err, cb.ErrOpen) { /* fail fast: res.RetryAfter */ }
//
// # Model
//
// Closed: every counted outcome (success or failure, fast or slow) enters
// a window: by default the last 10 s in 10 buckets, or the last
// WindowCalls calls. A failure trips the breaker when it is the
// ConsecutiveFailures-th in a row, or when the window holds at least
// MinimumCalls and its failure rate has reached FailureRateThreshold; a
// slow call (Duration > SlowCallDuration) trips it when the slow-call rate
// has reached SlowCallRateThreshold. Rates are only evaluated when a
// failure or a slow call is recorded, so a fast success never trips.
// Config.TripRule adds a rule of your own, asked at the same moments
// when the built-in rules have not tripped (see Rules of your own).
//
// Open: calls are rejected with a *OpenError (errors.Is(err, ErrOpen)) and
// RetryAfter, the time left. The open time is OpenTimeout, doubled after
// each failed half-open episode up to MaxOpenTimeout.
//
// HalfOpen: once the open time is over, the breaker is half-open: no timer
// or goroutine drives this, the first Execute, Allow, State or Metrics at
// or after the deadline makes the transition, dated at the deadline. An
// episode hands out exactly HalfOpenMaxCalls probe permits; SuccessThreshold
// successes close the breaker with an empty window and streaks. Any
// failure (a panic included) opens it again, with the backoff step, and so
// does, with slow-call tracking on, a probe that succeeds slowly: a slow
// answer is not recovery, and closing on it would trip again on the
// slow-call rate at once. A probe still out HalfOpenTimeout after the
// episode's clock started fails the episode the same way (so a hung
// dependency cannot hold the breaker half-open for ever), and the probes
// still running come back stale. The clock starts when a probe is
// admitted while no other is out: an episode waiting for traffic does not
// time out, and every probe has the whole HalfOpenTimeout to answer.
//
// Generations: every transition, Force* and Reset starts a new generation.
// A call admitted in an older one is stale when it ends: it is counted
// only in TotalStale and reported with CallResult.Stale, so a slow call
// from before a trip can never decide the breaker's next episode. A close
// is atomic: no call of the new closed generation is judged on the old
// window or failure streak, however it races the close.
//
// Events: OnStateChange, and every listener added with Subscribe, hears
// every change of state or of the forced flag (ForceOpen on a breaker open
// by a trip is one), and every switch of shadow mode, with a Reason;
// Metrics.Transitions counts them by reason, so exporters see even a
// change shorter than their scrape interval. Each
// event is delivered by the goroutine whose CAS made the change, after
// it; changes made in quick succession by different goroutines may
// therefore arrive out of order, and Transition.Generation orders them. A
// listener that mirrors the state keeps the event with the highest
// Generation.
//
// Outcomes: a panic is a failure (and panics on). With WithClassifier the
// classifier alone decides; otherwise a nil error is a success, and for
// other errors Config.IsIgnored is asked first (default: context.Canceled
// is ignored), then Config.IsFailure (default: any error), so
// context.DeadlineExceeded is a failure. A classifier (or IsFailure or
// IsIgnored) that panics counts the call as a failure, returning any probe
// permit, and the panic goes on. Ignored calls are counted only in
// TotalIgnored and give back a probe permit. A context already done is
// refused by ExecuteContext before admission.
//
// Mistakes: a nil func or Context is the caller's bug, not the
// dependency's failure: it panics before admission, with a message naming
// it, and counts nothing.
//
// Time: deadlines saturate at the largest Duration, which never comes, so
// an OpenTimeout of math.MaxInt64 holds a breaker open until someone acts,
// and clock readings anywhere in the Duration range work.
//
// # Decisions
//
//   - The window holds the counted outcomes of calls admitted while
//     closed. Half-open probes are decided by the state word and counted
//     in the lifetime totals, not in the window (which, while half-open,
//     still shows the calls that tripped the breaker, aging out); closing
//     empties it. In HalfOpen, ConsecutiveSuccesses is the episode's probe
//     successes. TotalCalls counts counted outcomes only, so every call is
//     exactly one of counted, rejected (TotalRejected), ignored
//     (TotalIgnored) or stale (TotalStale).
//   - An episode failed by HalfOpenTimeout is dated at its deadline, and
//     counts as a failed episode for the backoff. Its probes' outcomes
//     are stale; the failure streak does not grow, since no call failed.
//   - A slow probe success counts in the totals as the success it is,
//     and ends the failure streak; its episode fails all the same.
//   - ForceClosed and Reset leave the same state (closed, empty window,
//     cleared streaks and backoff, not forced) and differ only in the
//     Transition reason; neither holds the breaker closed. ForceHalfOpen
//     keeps the backoff level.
//   - A second Done on the same Permit does nothing; Done on a copy of a
//     Permit counts again (preventing it would cost an allocation).
//   - A rejection's *OpenError is shared by all the breaker's rejections;
//     its RetryAfter method reads the time left from the breaker when it
//     is called, so callers of Call, Allow and cbhttp's Transport learn
//     when to retry without an allocation.
//   - MinimumCalls left zero with a count window smaller than 10 is the
//     window's size. SlowCallRateThreshold Off tracks slow calls without
//     letting their rate trip.
//   - Metrics.ConsecutiveFailures stops at MaxConsecutiveFailures, the
//     largest ConsecutiveFailures (the streak shares one word with its
//     generation).
//   - Time-driven transitions (open to half-open, a half-open episode
//     failing) are made by the first Execute, Call, Allow, State or
//     Metrics that sees them due, and by the end of a probe (which is how
//     a probe outliving its episode becomes stale). The end of a closed-state call, a call
//     refused for a done context, and Force*/Reset do not make them: a
//     ForceHalfOpen or Reset on an open breaker past its deadline reports
//     From: Open, and CallResult.State of a refused call is the stored
//     state.
//   - Limits: at most 255 probe permits per episode (they share the state
//     word), 4096 buckets and 65536 WindowCalls; the generation wraps
//     after 2^39 transitions.
//
// # Concurrency
//
// Every method is safe for concurrent use. The policy is one immutable
// value behind an atomic pointer (see Reconfigure). State, generation,
// backoff level and probe permits live in one atomic word: each transition and
// each probe permit is one CAS, won by exactly one goroutine, which alone
// calls OnStateChange (never under a lock; a panicking listener is
// recovered). A close takes two CASes, with the window and streak emptied
// in between by whichever goroutine comes first (the closer, or a call
// that finds the close under way), so no call waits for a closer. Outcomes are atomic adds on striped counters (see package
// ring), so closed-state calls on different cores write different cache
// lines. Execute, ExecuteContext, Allow and Done take no lock and allocate
// nothing, rejections included. Under concurrent calls, Metrics' figures
// are read one after another and may be a few calls apart. A call whose
// end races a transition by a few nanoseconds (between its generation
// check and its add) is counted in the generation it checked.
//
// # Time and cost
//
// Time comes from Config.Clock: by default the real monotonic clock, read
// twice per call (start and end) and once more per rejection. A reading
// costs more than the rest of a call, so hot paths should share a
// CoarseClock (one atomic load per reading, at a resolution of your
// choosing) and, when slow calls do not matter, set SlowCallDuration to
// Off. Where only fn's own (T, error) matters, Call costs less than
// Execute: Go returns a CallResult through memory, while (T, error) comes
// back in registers. The benchmarks module's README has the measured
// figures.
//
// Tests pass a cbtest.Clock and move time explicitly; inside a
// testing/synctest bubble the real clock follows the bubble's fake time.
//
// The zero Config is valid and means the documented defaults; New rejects
// a bad one with an error naming each faulty field and value, matching
// ErrInvalidConfig. A Config marshals to JSON (MarshalJSON) and back, for
// configuration files: its value fields, durations as strings such as
// "10s", Off as "off".
//
// # Changing a breaker at run time
//
// Reconfigure replaces the whole policy (validated as New validates it)
// with one atomic store: the settings and the window they count in are
// one immutable value, which each step of a call loads once, so no step
// ever mixes two policies. A call is admitted by the policy in force when
// it arrives and judged (classified, timed against SlowCallDuration,
// counted, and its rules evaluated) wholly by the one in force when it
// ends: a Reconfigure takes effect for every decision made after it. The
// breaker keeps what it has learnt, and each rule takes the change as
// follows:
//
//   - State, generation, backoff level, streaks, lifetime totals and
//     Transitions are kept. So is the window, when the new Config counts
//     the same way (the same bucket width and count once defaults apply,
//     or the same WindowCalls). A window of another shape starts empty,
//     over the same lifetime totals: its counts would mean something else
//     (old buckets do not divide into new ones, nor a span of time into a
//     number of calls), and made-up figures would trip on, or ignore,
//     calls the new window never held. The failure streak is no window
//     count, and runs on.
//   - New thresholds apply from the next evaluation: a window already
//     past them trips on the next failure or slow call, not on the
//     Reconfigure.
//   - An open breaker keeps its deadline; the new OpenTimeout and
//     MaxOpenTimeout apply from the next trip, at the backoff level
//     reached.
//   - A half-open episode keeps its permits and successes: a smaller
//     HalfOpenMaxCalls admits no more probes until the episode ends; a
//     larger one admits more at once. Successes that already meet a
//     lowered SuccessThreshold close the breaker within the Reconfigure
//     (reason ProbesSucceeded): with no probe out and no permit left,
//     nothing else would ever end the episode. A probe's clock keeps its
//     deadline; a clock started later runs the new HalfOpenTimeout but
//     never ends before one already started in the same episode (the
//     breaker keeps the latest deadline an episode has had, so that racing
//     readings cannot shorten a probe's time).
//   - Reconfigure, like State, first makes the transitions time alone
//     causes.
//   - The clock cannot change: readings from another clock would not
//     compare with the deadlines and buckets the breaker holds. A nil
//     Clock keeps it; any other Clock than the breaker's own is refused.
//     (A Clock that Go cannot compare, such as a struct holding a func, is
//     taken as the breaker's own when it has the same type, rather than
//     panicking in ==.)
//   - OnStateChange is replaced in place, still the first listener; nil
//     removes it. Listeners added with Subscribe stay, and so does a
//     WithClassifier classifier, which no Config holds.
//   - Config returns the Config in force (as given, with the clock kept),
//     so changing one field is cfg := b.Config(); cfg.X = ...;
//     b.Reconfigure(cfg).
//
// Shadow mode (Config.Shadow) is for tuning a policy on live traffic: the
// breaker never rejects, but counts, judges and transitions exactly as it
// would enforcing, so Metrics, listeners and reports show what it would
// have done. A call it would have rejected runs; it is counted as the
// rejection it would have been (TotalRejected) and nowhere else, since
// enforcing it would not have run, and its CallResult has WouldReject set
// with Outcome what fn did: code that reads Outcome behaves as with no
// breaker. (Call returns fn's own result; Allow returns a Permit whose
// WouldReject is set and whose Done counts nothing.) Shadow is absolute:
// ForceOpen shows what holding the breaker open would reject, and rejects
// nothing. Turning shadow mode on or off is a Transition with From == To
// and the current generation (ReasonShadowOn, ReasonShadowOff), counted
// in Metrics.Transitions apart from the state changes
// (Reason.ChangesState); Metrics.Shadow says which mode is in force.
//
// # Rules of your own
//
// Config.TripRule is given the window's counts (the call being judged
// included) and the failure streak in a TripCounts, and trips the breaker
// with ReasonTripRule when it returns true:
//
//   - It is asked where the built-in rules are: in the closed state, after
//     a failure or a slow call is counted, and only when none of them has
//     tripped; so a built-in rule's reason wins, and the rule costs
//     nothing after a fast success. Probes are not its business: the
//     state word decides them.
//   - MinimumCalls does not gate it. TripCounts.Calls says how full the
//     window is, and a rule may want fewer calls than the rates need (two
//     slow failures in the window, say).
//   - A panic in it is recovered and counts as false for that evaluation:
//     the built-in rules still guard the dependency, and a bug in a rule
//     must neither fail the caller's call nor open the breaker.
//   - With a fleet's window (see below) under its quorum, TripCounts
//     holds the local window and the fleet's together, and the rule is
//     also asked when a sharer hands a fresh fleet window over.
//
// # Sharing across replicas
//
// FleetLink is the seam through which a sharer (the cbredis module, on
// Redis) keeps one breaker in step across the replicas of a service. The
// breaker still decides every call alone, lock-free and without I/O: the
// sharer hands it the rest of the fleet's window, which the rate rules
// judge with the local one when enough replicas reported failures (a
// quorum); it hears the breaker's transitions and writes the shared ones
// to its store; it adopts the others' (AdoptOpen with the open time they
// have left, AdoptClosed); and it can hold an open breaker from probing
// until the fleet grants it the probe lease (HoldProbes, GrantProbes).
// The closed path reads none of it: a shared breaker's call costs what a
// local one's does. Listeners hear the fleet's part with
// ReasonFleetFailureRate, ReasonFleetSlowCallRate, ReasonFleetOpened and
// ReasonFleetClosed.
package cb
