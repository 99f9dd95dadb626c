package ring

// Kind is one of the disjoint outcome categories a window counts. Each
// counted outcome is exactly one Kind, so one atomic add records it.
type Kind uint8

// The window kinds. Slow means the call ran longer than the slow-call
// duration.
const (
	Success Kind = iota
	Failure
	SlowSuccess
	SlowFailure
	numKinds
)

// Tally numbers the lifetime-only counters kept in the same stripes as the
// window kinds (they never enter a window).
type Tally uint8

// The lifetime-only tallies.
const (
	Rejected Tally = Tally(numKinds) + iota
	Ignored
	Stale
	numSlots
)

// Counts holds a number per Kind, indexed by Kind.
type Counts [numKinds]uint64

// Calls is the number of counted outcomes.
func (c Counts) Calls() uint64 { return c[Success] + c[Failure] + c[SlowSuccess] + c[SlowFailure] }

// Successes is the number of successes, fast or slow.
func (c Counts) Successes() uint64 { return c[Success] + c[SlowSuccess] }

// Failures is the number of failures, fast or slow.
func (c Counts) Failures() uint64 { return c[Failure] + c[SlowFailure] }

// Slow is the number of slow outcomes, successes or failures.
func (c Counts) Slow() uint64 { return c[SlowSuccess] + c[SlowFailure] }

// KindOf returns the Kind of an outcome.
func KindOf(failure, slow bool) Kind {
	k := Success
	if failure {
		k = Failure
	}
	if slow {
		k += SlowSuccess
	}
	return k
}
