package main

import (
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"

	"github.com/tripswitch/tripswitch/benchmarks"
)

// allSeries lists the ways a scenario runs, in column order.
var allSeries = []series{
	{"serial", 1},
	{"serial", 2},
	{"par1", 1},
	{"par1", 2},
	{"par8", 1},
	{"par8", 2},
}

// fmtNs formats a time in ns to three significant digits.
func fmtNs(v float64) string {
	switch {
	case v < 10:
		return strconv.FormatFloat(v, 'f', 2, 64)
	case v < 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
}

// libsIn returns the libraries, in Libs order, that have a result in
// scenario sc.
func libsIn(r *results, sc string) []*benchmarks.Lib {
	var out []*benchmarks.Lib
	for _, l := range benchmarks.Libs {
		for _, s := range allSeries {
			if r.cell(sc, l.Name, s) != nil {
				out = append(out, l)
				break
			}
		}
	}
	return out
}

// seriesIn returns the series that have a result in scenario sc.
func seriesIn(r *results, sc string) []series {
	var out []series
	for _, s := range allSeries {
		for _, l := range benchmarks.Libs {
			if r.cell(sc, l.Name, s) != nil {
				out = append(out, s)
				break
			}
		}
	}
	return out
}

// markdownTables renders one table per scenario: median ns/op per library
// and series, and the most allocs/op of the library's runs.
func markdownTables(r *results) string {
	var b strings.Builder
	for _, sc := range benchmarks.Scenarios {
		name := sc.String()
		libs, ss := libsIn(r, name), seriesIn(r, name)
		if len(libs) == 0 {
			continue
		}
		fmt.Fprintf(&b, "#### %s\n\n| library |", name)
		for _, s := range ss {
			fmt.Fprintf(&b, " %s |", s)
		}
		b.WriteString(" allocs/op |\n|---|")
		for range ss {
			b.WriteString("---:|")
		}
		b.WriteString("---:|\n")
		for _, l := range libs {
			label := l.Name
			if l.Kind == benchmarks.Tripswitch {
				label = "**" + label + "**"
			}
			fmt.Fprintf(&b, "| %s |", label)
			allocs := 0.0
			for _, s := range ss {
				c := r.cell(name, l.Name, s)
				if c == nil {
					b.WriteString(" — |")
					continue
				}
				fmt.Fprintf(&b, " %s |", fmtNs(c.MedianNs()))
				allocs = math.Max(allocs, c.MaxAllocs())
			}
			fmt.Fprintf(&b, " %g |\n", allocs)
		}
		var na []string
		for _, l := range benchmarks.Libs {
			if why, ok := l.Unsupported[sc]; ok && l.Kind != benchmarks.Floor {
				na = append(na, l.Name+": "+why)
			}
		}
		if len(na) > 0 {
			fmt.Fprintf(&b, "\nNot run: %s.\n", strings.Join(na, "; "))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// goalTable renders the goal rows as a markdown table.
func goalTable(rows []goalRow) string {
	var b strings.Builder
	b.WriteString("| goal | cell | measured | met |\n|---|---|---|---|\n")
	for _, g := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", g.Goal, g.Cell, g.Measured, g.Met)
	}
	return b.String()
}

// The chart's geometry, in SVG user units.
const (
	svgWidth    = 1000
	labelWidth  = 190
	plotRight   = svgWidth - 30
	rowHeight   = 20
	panelHeader = 28
	panelGap    = 14
	legendTop   = 44
	chartTop    = 96
)

// Series styles: colour by mode, shape by CPUs (filled circle: 1, open
// diamond: 2), and a vertical offset by mode so dots in a row do not hide
// each other.
var (
	modeColor  = map[string]string{"serial": "#1f77b4", "par1": "#e6750f", "par8": "#2a9d3a"}
	modeOffset = map[string]float64{"serial": -5, "par1": 0, "par8": 5}
)

// svgChart draws median ns/op per library (rows) and series (dots) on a
// log scale, one panel per scenario, sharing one axis.
func svgChart(r *results, title string) string {
	lo, hi := math.Inf(1), 0.0
	for _, c := range r.Cells {
		v := c.MedianNs()
		if v > 0 {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	if hi == 0 {
		lo, hi = 1, 10
	}
	dLo, dHi := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
	if dHi <= dLo {
		dHi = dLo + 1
	}
	x := func(v float64) float64 {
		return labelWidth + (math.Log10(v)-dLo)/(dHi-dLo)*(plotRight-labelWidth)
	}

	var body strings.Builder
	y := float64(chartTop)
	for _, sc := range benchmarks.Scenarios {
		name := sc.String()
		libs := libsIn(r, name)
		if len(libs) == 0 {
			continue
		}
		top := y
		h := panelHeader + float64(len(libs))*rowHeight
		fmt.Fprintf(&body, `<text x="10" y="%.1f" class="panel">%s</text>`+"\n", y+18, name)
		y += panelHeader
		for i := range libs {
			if i%2 == 0 {
				fmt.Fprintf(&body, `<rect x="%d" y="%.1f" width="%d" height="%d" class="band"/>`+"\n",
					labelWidth, y+float64(i)*rowHeight, plotRight-labelWidth, rowHeight)
			}
		}
		// Grid lines under the dots: each decade, and fainter at 2 and 5.
		for d := dLo; d <= dHi; d++ {
			for _, m := range []float64{1, 2, 5} {
				v := m * math.Pow(10, d)
				if math.Log10(v) > dHi {
					break
				}
				class := "grid"
				if m != 1 {
					class = "minor"
				}
				gx := x(v)
				fmt.Fprintf(&body, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" class="%s"/>`+"\n", gx, top+panelHeader, gx, top+h, class)
			}
		}
		for _, l := range libs {
			class := "lib"
			switch l.Kind {
			case benchmarks.Tripswitch:
				class = "lib ts"
			case benchmarks.Floor:
				class = "lib floor"
			}
			fmt.Fprintf(&body, `<text x="%d" y="%.1f" class="%s">%s</text>`+"\n", labelWidth-8, y+rowHeight/2+4, class, html.EscapeString(l.Name))
			for _, s := range allSeries {
				c := r.cell(name, l.Name, s)
				if c == nil {
					continue
				}
				v := c.MedianNs()
				cx, cy := x(v), y+rowHeight/2+modeOffset[s.Mode]
				tip := fmt.Sprintf("%s %s %s: %s ns/op, %g allocs/op", name, l.Name, s, fmtNs(v), c.MaxAllocs())
				body.WriteString(marker(cx, cy, s, tip))
			}
			y += rowHeight
		}
		y += panelGap
	}
	axisY := y
	for d := dLo; d <= dHi; d++ {
		gx := x(math.Pow(10, d))
		fmt.Fprintf(&body, `<text x="%.1f" y="%.1f" class="tick">%s</text>`+"\n", gx, axisY+4, decadeLabel(d))
	}
	fmt.Fprintf(&body, `<text x="%.1f" y="%.1f" class="axis">ns/op, median of the runs (log scale; lower is faster)</text>`+"\n",
		float64(labelWidth+plotRight)/2, axisY+24)
	height := axisY + 40

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%.0f" viewBox="0 0 %d %.0f" font-family="sans-serif" font-size="12">`+"\n",
		svgWidth, height, svgWidth, height)
	b.WriteString(`<style>
.title{font-size:16px;font-weight:bold}
.panel{font-size:14px;font-weight:bold}
.lib{text-anchor:end;fill:#222}
.ts{font-weight:bold;fill:#000}
.floor{font-style:italic;fill:#777}
.band{fill:#f3f3f3}
.grid{stroke:#aaa;stroke-width:1}
.minor{stroke:#ddd;stroke-width:1}
.tick{text-anchor:middle;fill:#444}
.axis{text-anchor:middle;fill:#222}
.legend{fill:#222}
</style>
<rect width="100%" height="100%" fill="#fff"/>
`)
	fmt.Fprintf(&b, `<text x="10" y="22" class="title">%s</text>`+"\n", html.EscapeString(title))
	lx := 10.0
	fmt.Fprintf(&b, `<text x="%.0f" y="%d" class="legend">mode/CPUs:</text>`+"\n", lx, legendTop+4)
	lx += 80
	for _, s := range allSeries {
		b.WriteString(marker(lx, legendTop, s, s.String()))
		fmt.Fprintf(&b, `<text x="%.0f" y="%d" class="legend">%s</text>`+"\n", lx+9, legendTop+4, s)
		lx += 80
	}
	fmt.Fprintf(&b, `<text x="10" y="%d" class="legend">serial: one goroutine; parN: RunParallel at parallelism N (N×GOMAXPROCS goroutines); CPUs: GOMAXPROCS (-cpu). Filled circle: 1 CPU, open diamond: 2.</text>`+"\n", legendTop+26)
	b.WriteString(body.String())
	b.WriteString("</svg>\n")
	return b.String()
}

// marker draws one series' dot at (cx, cy) with a tooltip.
func marker(cx, cy float64, s series, tip string) string {
	color := modeColor[s.Mode]
	if s.Procs == 1 {
		return fmt.Sprintf(`<circle cx="%.1f" cy="%.1f" r="4" fill="%s"><title>%s</title></circle>`+"\n", cx, cy, color, html.EscapeString(tip))
	}
	return fmt.Sprintf(`<path d="M%.1f %.1fl5 5l-5 5l-5 -5z" fill="#fff" stroke="%s" stroke-width="1.8"><title>%s</title></path>`+"\n",
		cx, cy-5, color, html.EscapeString(tip))
}

// decadeLabel names 10^d ns.
func decadeLabel(d float64) string {
	n := int(d)
	units := []string{"ns", "µs", "ms", "s"}
	if n < 0 {
		return strconv.FormatFloat(math.Pow(10, d), 'g', -1, 64) + " ns"
	}
	u := min(n/3, len(units)-1)
	return strconv.FormatFloat(math.Pow(10, float64(n-3*u)), 'f', 0, 64) + " " + units[u]
}
