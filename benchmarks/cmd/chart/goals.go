package main

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/tripswitch/tripswitch/benchmarks"
)

// The cells the goals are read from: one goroutine on one CPU, and
// parallelism 8 on 2 CPUs.
var (
	serial1 = series{"serial", 1}
	par8x2  = series{"par8", 2}
)

// goalRow is one line of the goal table.
type goalRow struct {
	Goal     string
	Cell     string
	Measured string
	Met      string
}

// ratioGoal: lib's median in (scenario, s) at most limit times ref's, or,
// with ref "", at most limit ns.
type ratioGoal struct {
	text     string
	lib      string
	scenario benchmarks.Scenario
	s        series
	ref      string
	limit    float64
}

// goals computes the goal table from r: the default Config's goals, then
// each hot config's, then the allocation goal.
func goals(r *results) []goalRow {
	var rows []goalRow
	for _, def := range []string{"tripswitch", "tripswitch-call"} {
		for _, g := range []ratioGoal{
			{"default Config (" + def + "): closed success ≤ 0.5× gobreaker", def, benchmarks.ClosedSuccess, serial1, "gobreaker", 0.5},
			{"default Config (" + def + "): closed success at parallelism 8 on 2 CPUs ≤ 0.2× gobreaker", def, benchmarks.ClosedSuccess, par8x2, "gobreaker", 0.2},
			{"default Config (" + def + "): rejection ≤ 0.5× gobreaker", def, benchmarks.OpenReject, serial1, "gobreaker", 0.5},
		} {
			rows = append(rows, g.eval(r))
		}
	}
	for _, hot := range []string{"tripswitch-hot", "tripswitch-hot-call", "tripswitch-hot-count"} {
		for _, g := range []ratioGoal{
			{"hot config (" + hot + "): closed success ≤ 0.6× eapache", hot, benchmarks.ClosedSuccess, serial1, "eapache", 0.6},
			{"hot config (" + hot + "): 50% failures staying closed ≤ 20 ns", hot, benchmarks.HalfFailing, serial1, "", 20},
			{"hot config (" + hot + "): parallelism 8 on 2 CPUs ≤ 0.6× one shared atomic add", hot, benchmarks.ClosedSuccess, par8x2, "floor-atomic", 0.6},
			{"hot config (" + hot + "): rejection no slower than eapache (≤ 1×)", hot, benchmarks.OpenReject, serial1, "eapache", 1},
		} {
			rows = append(rows, g.eval(r))
		}
		rows = append(rows, fastestGoal(r, hot))
	}
	return append(rows, allocGoal(r))
}

func (g ratioGoal) eval(r *results) goalRow {
	row := goalRow{Goal: g.text, Cell: g.scenario.String() + " " + g.s.String()}
	c := r.cell(g.scenario.String(), g.lib, g.s)
	if c == nil {
		row.Measured, row.Met = "not measured", "—"
		return row
	}
	v := c.MedianNs()
	if g.ref == "" {
		row.Measured = fmtNs(v) + " ns"
		row.Met = yesNo(v <= g.limit)
		return row
	}
	rc := r.cell(g.scenario.String(), g.ref, g.s)
	if rc == nil {
		row.Measured, row.Met = "no "+g.ref+" result", "—"
		return row
	}
	q := v / rc.MedianNs()
	row.Measured = fmt.Sprintf("%.2f× (%s vs %s ns)", q, fmtNs(v), fmtNs(rc.MedianNs()))
	row.Met = yesNo(q <= g.limit)
	return row
}

// fastestGoal: lib faster than every peer in every cell both measured.
func fastestGoal(r *results, lib string) goalRow {
	row := goalRow{Goal: "hot config (" + lib + "): the fastest of the peers in every scenario", Cell: "every scenario × mode × CPUs"}
	var cells, wins int
	worst, worstAt := 0.0, ""
	for _, sc := range benchmarks.Scenarios {
		for _, s := range allSeries {
			c := r.cell(sc.String(), lib, s)
			if c == nil {
				continue
			}
			best, bestLib := math.Inf(1), ""
			for _, l := range benchmarks.Libs {
				if l.Kind != benchmarks.Peer {
					continue
				}
				if pc := r.cell(sc.String(), l.Name, s); pc != nil && pc.MedianNs() < best {
					best, bestLib = pc.MedianNs(), l.Name
				}
			}
			if bestLib == "" {
				continue
			}
			cells++
			q := c.MedianNs() / best
			if q < 1 {
				wins++
			}
			if q > worst {
				worst, worstAt = q, fmt.Sprintf("%s %s vs %s", sc, s, bestLib)
			}
		}
	}
	if cells == 0 {
		row.Measured, row.Met = "not measured", "—"
		return row
	}
	row.Measured = fmt.Sprintf("fastest in %d of %d cells; worst %.2f× the fastest peer (%s)", wins, cells, worst, worstAt)
	row.Met = yesNo(wins == cells)
	return row
}

// allocGoal: 0 allocs/op for every tripswitch config in every cell.
func allocGoal(r *results) goalRow {
	row := goalRow{Goal: "0 allocs/op for tripswitch in every scenario", Cell: "every tripswitch cell"}
	var cells int
	var bad []string
	for k, c := range r.Cells {
		if l := benchmarks.LibByName(k.Lib); l == nil || l.Kind != benchmarks.Tripswitch {
			continue
		}
		cells++
		if a := c.MaxAllocs(); a != 0 {
			bad = append(bad, fmt.Sprintf("%s %s %s: %g", k.Scenario, k.Lib, k.series, a))
		}
	}
	slices.Sort(bad)
	switch {
	case cells == 0:
		row.Measured, row.Met = "not measured", "—"
	case len(bad) == 0:
		row.Measured, row.Met = fmt.Sprintf("0 in all %d cells", cells), "yes"
	default:
		row.Measured, row.Met = "allocates in "+strings.Join(bad, "; "), "no"
	}
	return row
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}
