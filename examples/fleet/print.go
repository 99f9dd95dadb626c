package main

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// printTick prints the transitions among fresh, the events that came in
// the tick, then the tick's line; evs are all the events so far.
func printTick(out io.Writer, now time.Duration, o options, evs, fresh []event) {
	fresh = slices.Clone(fresh)
	slices.SortStableFunc(fresh, func(x, y event) int { return cmp.Compare(x.at, y.at) })
	reached, rejected := 0, 0
	for _, e := range fresh {
		switch {
		case !e.call:
			fmt.Fprintf(out, "%8s  >> r%d %s -> %s (%s)\n", fmtSeconds(e.at), e.replica, e.from, e.to, e.reason)
		case e.outcome == "rejected":
			rejected++
		default:
			reached++
		}
	}
	a := analyze(evs, o.replicas, o.bound, o.openTimeout)
	var b strings.Builder
	fmt.Fprintf(&b, "t=%-6s  dep=%-7s ", fmtSeconds(now), o.plan.At(now))
	for i, s := range a.states {
		fmt.Fprintf(&b, " r%d=%-9s", i, s)
	}
	fmt.Fprintf(&b, "  reached=%-3d rejected=%-3d probes=", reached, rejected)
	if k := len(a.episodes); k > 0 {
		fmt.Fprintf(&b, "%d (episode %d)", a.episodes[k-1].total(), k)
	} else {
		b.WriteString("-")
	}
	fmt.Fprintln(out, b.String())
}

// printSummary tells, phase by phase, when the fleet opened, probed and
// closed, then the calls, the syncs and the verdict.
func printSummary(out io.Writer, o options, res result) {
	a := res.a
	fmt.Fprintf(out, "\nsummary after %s: %d replicas sharing breaker %q through %s\n",
		fmtSeconds(res.elapsed), o.replicas, breakerName, res.redis)
	// Each gathering and episode goes under the phase it began in.
	type item struct {
		at   time.Duration
		text string
	}
	byPhase := make([][]item, len(o.plan))
	put := func(at time.Duration, text string) {
		i := o.plan.Index(max(at, 0))
		byPhase[i] = append(byPhase[i], item{at, text})
	}
	for _, g := range a.openings {
		put(g.at(), "fleet opened: "+describe(g))
	}
	for _, g := range a.closings {
		put(g.at(), "fleet closed: "+describe(g))
	}
	for i, e := range a.episodes {
		put(e.start, fmt.Sprintf("half-open episode %d: %s", i+1, describeEpisode(e)))
	}
	for i, p := range o.plan {
		from, to := o.plan.Bounds(i)
		fmt.Fprintf(out, "  %-8s %s - %s\n", p.Kind, fmtSeconds(from), fmtSeconds(to))
		items := byPhase[i]
		slices.SortStableFunc(items, func(x, y item) int { return cmp.Compare(x.at, y.at) })
		if len(items) == 0 {
			fmt.Fprintf(out, "           no transition\n")
		}
		for _, it := range items {
			fmt.Fprintf(out, "  %8s  %s\n", fmtSeconds(it.at), it.text)
		}
	}
	fmt.Fprintf(out, "  calls      %d reached the dependency (%d failed), %d rejected by an open breaker\n",
		a.reached, a.failed, a.rejected)
	// Each replica's own counts, from its last status.
	for i, s := range res.statuses {
		if s.Type == "" {
			fmt.Fprintf(out, "  r%-8d sent no status\n", i)
			continue
		}
		fmt.Fprintf(out, "  r%-8d %d calls: %d reached the dependency (%d failed), %s among them, %d rejected; %d syncs with Redis (%d failed)\n",
			i, s.Calls, s.Reached, s.Failed, plural(int(s.Probes), "probe"), s.Rejected, s.Syncs, s.SyncErrors)
	}
	cfg := breakerConfig(o.pace, o.openTimeout)
	if res.interrupted {
		fmt.Fprintf(out, "  verdict    none: interrupted before the end of the schedule\n")
		return
	}
	if len(res.problems) > 0 {
		fmt.Fprintf(out, "  verdict    the fleet misbehaved:\n")
		for _, p := range res.problems {
			fmt.Fprintf(out, "             - %s\n", p)
		}
		return
	}
	fmt.Fprintf(out, "  verdict    ok: opened together (spread up to %v, bound %v), at most %d probes per episode (HalfOpenMaxCalls %d), closed together (spread up to %v)\n",
		maxSpread(a.openings), o.bound, maxProbes(a.episodes), cfg.HalfOpenMaxCalls, maxSpread(a.closings))
}

// describe lists a gathering's replicas, each with its delay after the
// first and its reason: "r0 +0ms (fleet failure rate), r3 +2ms (fleet
// opened); spread 2ms".
func describe(g gathering) string {
	parts := make([]string, len(g.moves))
	for i, m := range g.moves {
		parts[i] = fmt.Sprintf("r%d +%dms (%s)", m.replica, (m.at - g.at()).Milliseconds(), m.reason)
	}
	return fmt.Sprintf("%s; spread %v", strings.Join(parts, ", "), g.spread().Round(time.Millisecond))
}

// describeEpisode says who probed, how often, and how it ended.
func describeEpisode(e episode) string {
	var parts []string
	for _, r := range e.halfOpen {
		parts = append(parts, fmt.Sprintf("r%d half-open, %s", r, plural(e.probes[r], "call")))
	}
	end := "reopened"
	switch {
	case e.running:
		end = "still half-open"
	case e.closed:
		end = "closed"
	}
	return fmt.Sprintf("%s; %s fleet-wide (%d failed); %s", strings.Join(parts, ", "), plural(e.total(), "probe"), e.failed, end)
}

// plural is "1 probe", "2 probes".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func maxSpread(gs []gathering) time.Duration {
	var d time.Duration
	for _, g := range gs {
		d = max(d, g.spread())
	}
	return d.Round(time.Millisecond)
}

func maxProbes(es []episode) int {
	n := 0
	for _, e := range es {
		n = max(n, e.total())
	}
	return n
}
