// Command flaky shows a circuit breaker doing its job against a real HTTP
// dependency that goes through phases.
//
// It starts a server on loopback whose behaviour changes on a schedule
// (healthy, failing, slow, recovering, by default about 20 seconds in all)
// and a few client goroutines that call it through a tripswitch breaker
// made from presets.Network and kept in a registry. Every tick it prints
// one line: the elapsed time, the breaker's state, the share of the calls
// the breaker judged (counted) in the tick that failed and that ran slow,
// "-" when it judged none (all rejected while open), and the calls
// admitted and rejected during the tick, with each state transition called
// out as it happens. Per-tick shares rather than the window's rates: the
// window keeps the rate that tripped the breaker for as long as no call
// reaches the dependency, which would show a dependency that fails every
// call as failing a few percent. At the end it prints a summary: the calls
// spared from the failing dependency, the time spent open, the probes, and
// the registry's health.
//
// The preset's timeouts are sized for production (an open breaker waits
// 30 s before probing); the demo shortens the open timeout and the
// slow-call threshold, with flags, so a whole cycle fits in seconds.
//
// While it runs it serves what an operator would watch, and prints the
// URLs first: the registry's live dashboard (/debug/breakers/ui/), its
// JSON report (/debug/breakers) and the breaker's Prometheus metrics from
// the cbprom collector (/metrics). -serve picks the address, by default a
// free port on loopback (the pages describe the service's dependencies,
// so they are for operators only); an empty -serve serves nothing.
// -linger keeps serving that long after the run, for a look at where the
// breaker ended up; an interrupt stops it early. The server is shut down
// before the command returns.
//
// It is in the examples module, not the library's, because cbprom brings
// in Prometheus' client_golang, which the library does not depend on. From
// the repository's root:
//
//	cd examples && go run ./flaky [-phases healthy=4s,failing=5s,slow=4s,recovering=7s]
//	    [-tick 500ms] [-open 2s] [-slow-threshold 100ms] [-latency 150ms]
//	    [-workers 4] [-svg timeline.svg] [-serve 127.0.0.1:0] [-linger 30s]
//
// With -svg it also writes the timeline as an SVG chart: the state as a
// band (open hatched, every half-open episode visible however short) and
// the per-tick failure and slow-call shares as a dashed and a solid line,
// broken where nothing was judged. -h prints the flags.
package main
