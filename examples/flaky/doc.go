// Command flaky shows a circuit breaker doing its job against a real HTTP
// dependency that goes through phases.
//
// It starts a server on loopback whose behaviour changes on a schedule
// (healthy, failing, slow, recovering, by default about 20 seconds in all)
// and a few client goroutines that call it through a tripswitch breaker
// made from presets.Network and kept in a registry. Every tick it prints
// one line: the elapsed time, the breaker's state, the failure and slow
// rates of its window, and the calls admitted and rejected during the
// tick, with each state transition called out as it happens. At the end
// it prints a summary: the calls spared from the failing dependency, the
// time spent open, the probes, and the registry's health.
//
// The preset's timeouts are sized for production (an open breaker waits
// 30 s before probing); the demo shortens the open timeout and the
// slow-call threshold, with flags, so a whole cycle fits in seconds.
//
// Usage:
//
//	go run ./examples/flaky [-phases healthy=4s,failing=5s,slow=4s,recovering=7s]
//	    [-tick 500ms] [-open 2s] [-slow-threshold 100ms] [-latency 150ms]
//	    [-workers 4] [-svg timeline.svg]
//
// With -svg it also writes the timeline as an SVG chart: the state as
// coloured bands and the window's failure and slow rates as lines.
package main
