// Package clock reads the monotonic clock that tripswitch measures calls
// and windows with.
//
// A reading is a time.Duration since a fixed epoch taken when the process
// starts (time.Since of that epoch), so it comes from the runtime's
// monotonic clock and never jumps with the wall clock. Inside a
// testing/synctest bubble time.Now is the bubble's fake time, which has no
// monotonic reading and starts in the year 2000: readings there are
// negative, and they advance exactly as the bubble's time does. Every user
// of a reading must therefore accept negative values.
//
// Cost: one reading is one time.Since (BenchmarkNow in this package
// measures it); that is why hot paths offer a coarse clock instead
// (cb.CoarseClock).
package clock
