// Package leakcheck fails a test binary whose tests leave goroutines
// behind. Every package of the module with tests calls Main from its
// TestMain: a breaker needs no goroutine of its own (no timer drives it),
// so one still running after the tests is a bug, in the library (a
// CoarseClock not stopped by Stop) or in a test.
package leakcheck
