// Package ring holds the lock-free outcome windows a breaker trips on.
//
// # Model
//
// Every counted outcome is one of four kinds (fast or slow, success or
// failure), so recording one is a single atomic add and a pair such as
// (calls, failures) is never half-updated by one outcome. The adds go to
// cumulative, striped counters (Stripes): one padded cache line per stripe,
// chosen by the calling goroutine's stack address, so goroutines on
// different cores rarely write the same line and nothing is ever reset,
// which is what makes lost updates impossible.
//
// A window is then a difference of cumulative sums:
//
//   - TimeWindow keeps, for each of its newest buckets, a snapshot of the
//     sums taken when the bucket began. Its counts are the current sums
//     minus the snapshot of the oldest bucket still in the window. Moving
//     to a new bucket (rotation) is claimed with one CAS on a word apart
//     from the hot boundary, costs one pass over the stripes, and happens
//     once per bucket width, not per call; an idle gap of any length is
//     one rotation that writes at most Buckets snapshots.
//   - CountWindow numbers every outcome with one shared atomic add and
//     stamps the outcome into slot number mod N; its counts are the
//     stamped slots newer than the window's start (N numbers back) when
//     the read began, so an outcome overwritten during a read is replaced
//     by its successor rather than dropped.
//
// Clear empties a window without touching the cumulative sums, so the
// lifetime totals survive it.
//
// # Attribution
//
// An outcome belongs to the bucket that is current when its add lands, and
// no add lands in a bucket older than its reading: a writer whose reading
// has reached the next boundary rotates first, or, when another goroutine
// holds the rotation, yields until the boundary is published past its
// reading. The boundary is published only after the new snapshots are
// written, so a burst after an idle gap longer than the window is counted
// whole, none of it folded into the snapshot that starts its bucket. With
// one goroutine (and in every fake-clock test) each outcome lands in the
// bucket of its reading. Under concurrency an add whose reading precedes a
// racing rotation lands on one side of the new snapshot or the other,
// never on both and never nowhere; it can land in a newer bucket than its
// reading only when it raced the rotation or its goroutine was descheduled
// between reading the clock and adding.
//
// The rotation is the one place writers wait for each other: once per
// bucket width, for one pass over the stripes and at most Buckets
// snapshot writes. Writers whose reading is still inside the current
// bucket never wait.
//
// # Consistency
//
// Readers see, per stripe, all four kinds at one instant: the rarely
// written kinds are read before and after the often written one and the
// read is retried when they moved. Different stripes are read one after
// another, a few nanoseconds apart; a reader descheduled in the middle of
// a pass sees the later stripes as of later, so its rates can lean toward
// the goroutines whose stripes come last, by at most the calls they made
// meanwhile. Snapshots of bucket starts are read
// under a sequence counter, so a reader never mixes two snapshots.
//
// Readings of the clock are signed nanoseconds and may be negative (the
// real clock inside a testing/synctest bubble is); bucket numbers use
// floor division so negative readings are bucketed like positive ones.
package ring
