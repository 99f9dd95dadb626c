// Package cbprom exports the circuit breakers of a registry.Registry to
// Prometheus.
//
//	reg := registry.New()
//	prometheus.MustRegister(cbprom.New(reg))
//	http.Handle("/metrics", promhttp.Handler())
//
// # Model
//
// A Collector is a checked prometheus.Collector: Describe sends a fixed
// set of descriptors, one per family, and Collect sends the series of
// every breaker registered at that moment, read from one cb.Metrics
// snapshot per breaker. Nothing runs on the call path: a breaker's
// figures are its own lifetime counters and window, read when Prometheus
// scrapes. A breaker added to the registry appears at the next scrape and
// a removed (or evicted) one disappears; Prometheus then marks its series
// stale.
//
// # Families
//
// Every family has the label name, the breaker's name; names are given
// here with the default namespace. Label values for states and reasons
// are cb's words in snake_case: closed, open, half_open; failure_rate,
// open_timeout_elapsed, ...
//
//	tripswitch_circuit_state{name,state}              gauge    1 for the current state, 0 for the two others (all three always present)
//	tripswitch_circuit_forced{name}                   gauge    1 while held open by ForceOpen
//	tripswitch_circuit_state_age_seconds{name}        gauge    seconds since the last transition (Metrics.StateSince)
//	tripswitch_calls_total{name,outcome}              counter  outcome: success, failure, ignored, rejected, stale
//	tripswitch_slow_calls_total{name}                 counter  counted calls slower than SlowCallDuration
//	tripswitch_transitions_total{name,to,reason}      counter  every cb.Reason, with the state it leads to
//	tripswitch_window_calls{name}                     gauge    counted calls in the sliding window
//	tripswitch_window_failure_ratio{name}             gauge    failures / calls in the window, 0 to 1
//	tripswitch_window_slow_call_ratio{name}           gauge    slow calls / calls in the window, 0 to 1
//	tripswitch_half_open_probes_in_flight{name}       gauge    probes admitted and not finished in this episode
//	tripswitch_retry_after_seconds{name}              gauge    while open and not forced, time until a probe may run
//
// The five outcomes of tripswitch_calls_total add up to every call the
// breaker saw: success and failure are the counted calls (Metrics'
// TotalCalls and TotalFailures), the others are TotalIgnored,
// TotalRejected and TotalStale. The failure rate over time is
// rate(...{outcome="failure"}) over the rate of success and failure.
// Since each cb.Reason leads to one state, sum by (to) of
// tripswitch_transitions_total counts the entries into each state,
// including trips and recoveries shorter than the scrape interval, which
// tripswitch_circuit_state alone would miss.
//
// # Decisions
//
//   - Units are base units: durations in seconds (float), ratios from 0 to
//     1, counters with the _total suffix.
//   - A window ratio with an empty window is absent, not 0, NaN or -1.
//     0/0 is no ratio: 0 would read as "all good" and trip no alert while
//     the breaker is open with an empty window; NaN (or -1) would poison
//     every avg or max over breakers, where an absent series is simply
//     left out. Grafana draws absence as a gap, which is what it is.
//   - Below MinimumCalls the ratios are exported as they are: the window
//     really holds that share of failures, it just cannot trip the
//     breaker yet. MinimumCalls and the thresholds are configuration,
//     which cb.Metrics does not carry, so the Collector cannot export
//     them; read tripswitch_window_calls beside a ratio.
//   - Every transition reason is exported, zero or not, and so are the
//     five outcomes and the three states: a series that appears only when
//     its first event happens loses that event to rate() and increase().
//   - Counters carry a created timestamp, the breaker's Created time (the
//     wall clock when it was made), which Prometheus receives in the
//     protobuf and OpenMetrics formats and uses to tell a fresh counter
//     from a reset one (a breaker removed and made again under its name).
//   - Series come from one snapshot per breaker, so a breaker's state and
//     figures agree within a scrape; different breakers are read one
//     after another.
//   - Reading Metrics makes the transition an elapsed open timeout calls
//     for, so a scrape can move a breaker from open to half-open and run
//     its listeners, as the registry's own reports do.
//
// WithNamespace replaces "tripswitch" in every name, and WithConstLabels
// adds fixed labels, for instance to tell apart two registries exported
// to one prometheus.Registry (two Collectors with the same names and
// labels would collide there).
//
// # Concurrency
//
// A Collector is safe for concurrent use: concurrent scrapes each walk the
// registry, reading every breaker's atomic counters without a lock, and
// calls through the breakers go on meanwhile. A scrape costs time and
// allocations in proportion to the number of breakers (its benchmark
// measures them); it costs the breakers' callers nothing.
//
// The cbotel module exports the same families through OpenTelemetry;
// grafana/tripswitch.json is a dashboard over them.
package cbprom
