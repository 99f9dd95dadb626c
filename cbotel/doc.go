// Package cbotel reports the circuit breakers of a registry.Registry
// through OpenTelemetry metrics.
//
//	reg := registry.New()
//	obs, err := cbotel.New(reg, cbotel.WithMeterProvider(provider))
//	if err != nil { ... }
//	defer obs.Close()
//
// # Model
//
// New creates one asynchronous (observable) instrument per family on a
// Meter named ScopeName, and registers one callback for all of them. At
// each collection the callback takes one cb.Metrics snapshot of every
// breaker registered at that moment and observes it on every instrument,
// so a breaker added to the registry appears at the next collection and a
// removed one is no longer reported (the SDK exports an asynchronous
// instrument's attribute sets only as observed in the current collection).
// Nothing runs on the call path. Close unregisters the callback.
//
// # Instruments
//
// Every instrument has the attribute name, the breaker's name. Values of
// state, to and reason are cb's words in snake_case (closed, open,
// half_open; failure_rate, ...).
//
//	tripswitch.circuit.state               gauge            ""            name, state       1 for the current state, 0 for the two others
//	tripswitch.circuit.forced              gauge            ""            name              1 while held open by ForceOpen
//	tripswitch.circuit.state_age           gauge            s             name              time since the last transition
//	tripswitch.calls                       counter          {call}        name, outcome     success, failure, ignored, rejected, stale
//	tripswitch.slow_calls                  counter          {call}        name              counted calls slower than SlowCallDuration
//	tripswitch.transitions                 counter          {transition}  name, to, reason  every cb.Reason, with the state it leads to
//	tripswitch.window.calls                up-down counter  {call}        name              counted calls in the sliding window
//	tripswitch.window.failure_ratio        gauge            1             name              failures / calls in the window
//	tripswitch.window.slow_call_ratio      gauge            1             name              slow calls / calls in the window
//	tripswitch.half_open.probes_in_flight  up-down counter  {probe}       name              probes out in this half-open episode
//	tripswitch.retry_after                 gauge            s             name              while open and not forced, time until a probe may run
//
// Counts are int64 instruments, durations and ratios float64.
//
// # Decisions
//
//   - Names and units are chosen so that the usual translation to
//     Prometheus (go.opentelemetry.io/otel/exporters/prometheus with its
//     defaults: '.' to '_', the unit as a suffix, "1" on a gauge as
//     _ratio, annotations in braces dropped, _total on monotonic counters)
//     gives exactly the families of the cbprom module, label for label,
//     so one dashboard serves both. The tests check that through a real
//     exporter. The exporter adds the otel_scope_* labels and target_info,
//     and no created timestamps.
//   - The cumulative counters start with the SDK's collection start, not
//     with the breaker: OpenTelemetry's asynchronous counters cannot carry
//     a start time per attribute set. A breaker removed and made again
//     under its name shows as a counter reset.
//   - A window ratio is not observed while the window is empty (0/0 is no
//     ratio), rather than observed as 0, NaN or -1; below MinimumCalls it
//     is observed as it is. The thresholds and MinimumCalls are
//     configuration, which cb.Metrics does not carry.
//   - Every outcome, state and reason is observed, zero or not, so that a
//     backend's rate sees the first event.
//   - Each breaker has 28 attribute sets (12 of them on
//     tripswitch.transitions). The SDK caps attribute sets per instrument
//     (2000 by default) and folds the rest into one overflow set: beyond
//     about 160 breakers, raise the cap with the SDK's
//     metric.WithCardinalityLimit.
//   - Reading a breaker's Metrics makes the transition an elapsed open
//     timeout calls for, so a collection may run the breakers' listeners.
//
// # Concurrency
//
// The callback may run in concurrent collections (several readers); it
// reads each breaker's atomic counters without a lock while calls go on.
// Close is safe to call at any time, more than once.
package cbotel
