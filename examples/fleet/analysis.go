package main

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tripswitch/tripswitch/cb"
)

// event is a replica's transition or call, with its time from the start.
type event struct {
	at      time.Duration
	replica int
	call    bool // a call; otherwise a transition

	from, to cb.State // a transition's
	reason   cb.Reason

	state   cb.State // a call's: the state that admitted or rejected it
	outcome string   // a call's: success, failure or rejected
}

// move is one replica's part in a gathering.
type move struct {
	replica int
	at      time.Duration
	reason  cb.Reason
}

// gathering is the fleet opening (from closed) or closing: the replicas'
// transitions into that state, each within the bound of the first, one
// per replica at most. It is complete when every replica took part.
type gathering struct {
	to    cb.State
	moves []move // in time order
}

func (g gathering) at() time.Duration { return g.moves[0].at }

// spread is how far apart its first and last moves were.
func (g gathering) spread() time.Duration { return g.moves[len(g.moves)-1].at - g.moves[0].at }

func (g gathering) has(replica int) bool {
	return slices.ContainsFunc(g.moves, func(m move) bool { return m.replica == replica })
}

// episode is a half-open episode of the fleet: the half-open periods of
// the replicas that overlap, or that begin less than half an open time
// after another ended, since a new episode can only begin a whole open
// time after the last. A fleet that probes once has one replica
// half-open in each.
type episode struct {
	start, end time.Duration // end: when the last of its replicas left half-open
	running    bool          // a replica is half-open still
	halfOpen   []int         // the replicas that went half-open in it, in order
	probes     map[int]int   // probes (calls admitted while half-open) by replica
	failed     int           // probes that failed
	closed     bool          // it ended with a close
}

// total is the episode's probes, fleet-wide.
func (e episode) total() int {
	n := 0
	for _, p := range e.probes {
		n += p
	}
	return n
}

// analysis is what the events show.
type analysis struct {
	openings, closings []gathering
	episodes           []episode
	states             []cb.State // each replica's state after its last transition
	// The fleet's calls: reached the dependency (failed of those) and
	// rejected by a breaker.
	reached, failed, rejected int
}

// analyze reads the events of n replicas, in the order they came (which
// is time order for each replica's own).
func analyze(evs []event, n int, bound, openTimeout time.Duration) analysis {
	a := analysis{states: make([]cb.State, n)}
	sorted := slices.Clone(evs)
	slices.SortStableFunc(sorted, func(x, y event) int { return cmp.Compare(x.at, y.at) })

	// Each replica's half-open periods, in order.
	type period struct {
		replica    int
		start, end time.Duration
		running    bool
		closed     bool
		probes     int
		failed     int
	}
	var periods []*period
	current := make([]*period, n) // the replica's latest period
	for _, e := range sorted {
		if e.call {
			switch e.outcome {
			case "rejected":
				a.rejected++
			case "failure":
				a.reached++
				a.failed++
			default:
				a.reached++
			}
			// A probe ends after the transition it causes: it belongs to
			// its replica's latest period.
			if e.state == cb.HalfOpen && e.outcome != "rejected" && current[e.replica] != nil {
				p := current[e.replica]
				p.probes++
				if e.outcome == "failure" {
					p.failed++
				}
			}
			continue
		}
		a.states[e.replica] = e.to
		switch {
		case e.to == cb.HalfOpen:
			p := &period{replica: e.replica, start: e.at, running: true}
			periods = append(periods, p)
			current[e.replica] = p
		case e.from == cb.HalfOpen && current[e.replica] != nil:
			p := current[e.replica]
			p.end, p.running, p.closed = e.at, false, e.to == cb.Closed
		}
		switch {
		case e.from == cb.Closed && e.to == cb.Open:
			a.openings = gather(a.openings, cb.Open, e, bound)
		case e.to == cb.Closed:
			a.closings = gather(a.closings, cb.Closed, e, bound)
		}
	}

	for _, p := range periods {
		var last *episode
		if len(a.episodes) > 0 {
			last = &a.episodes[len(a.episodes)-1]
		}
		if last == nil || (!last.running && p.start-last.end >= openTimeout/2) {
			a.episodes = append(a.episodes, episode{start: p.start, probes: map[int]int{}})
			last = &a.episodes[len(a.episodes)-1]
		}
		if !slices.Contains(last.halfOpen, p.replica) {
			last.halfOpen = append(last.halfOpen, p.replica)
		}
		last.probes[p.replica] += p.probes
		last.failed += p.failed
		last.running = last.running || p.running
		last.end = max(last.end, p.end)
		last.closed = last.closed || p.closed
	}
	return a
}

// gather adds the transition e to the last gathering when it is within
// bound of its first and its replica is not in it yet, and starts a new
// one otherwise.
func gather(gs []gathering, to cb.State, e event, bound time.Duration) []gathering {
	m := move{replica: e.replica, at: e.at, reason: e.reason}
	if k := len(gs) - 1; k >= 0 && e.at-gs[k].at() <= bound && !gs[k].has(e.replica) {
		gs[k].moves = append(gs[k].moves, m)
		return gs
	}
	return append(gs, gathering{to: to, moves: []move{m}})
}

// verdict lists how the fleet of n replicas misbehaved: it must open
// together (every replica within bound of the first), probe at most
// maxProbes calls per half-open episode fleet-wide, close together, and
// end closed. Empty: it behaved.
func (a analysis) verdict(n int, bound time.Duration, maxProbes int) []string {
	var problems []string
	check := func(gs []gathering, verb string) {
		if len(gs) == 0 {
			problems = append(problems, "the fleet never "+verb)
		}
		for _, g := range gs {
			if len(g.moves) < n {
				problems = append(problems, fmt.Sprintf("not %s together at %s: only %s of %d replicas within %v of the first",
					verb, fmtSeconds(g.at()), replicaList(g.moves), n, bound))
			}
		}
	}
	check(a.openings, "opened")
	if len(a.episodes) == 0 {
		problems = append(problems, "the fleet never probed")
	}
	for i, e := range a.episodes {
		if t := e.total(); t > maxProbes {
			problems = append(problems, fmt.Sprintf("half-open episode %d at %s: %d probes fleet-wide, more than HalfOpenMaxCalls (%d)",
				i+1, fmtSeconds(e.start), t, maxProbes))
		}
	}
	check(a.closings, "closed")
	for i, s := range a.states {
		if s != cb.Closed {
			problems = append(problems, fmt.Sprintf("r%d ended %s", i, s))
		}
	}
	return problems
}

// replicaList names the replicas of moves: "r0, r2".
func replicaList(moves []move) string {
	names := make([]string, len(moves))
	for i, m := range moves {
		names[i] = fmt.Sprintf("r%d", m.replica)
	}
	return strings.Join(names, ", ")
}

func fmtSeconds(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }
