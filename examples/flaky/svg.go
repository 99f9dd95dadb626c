package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tripswitch/tripswitch/cb"
)

// Chart geometry, in SVG user units.
const (
	svgWidth   = 900
	svgHeight  = 320
	plotLeft   = 60
	plotRight  = 880
	plotTop    = 30
	plotBottom = 240
	bandTop    = 255 // the state band under the plot
	bandBottom = 275
)

var stateColour = map[cb.State]string{cb.Closed: "#4caf50", cb.Open: "#e53935", cb.HalfOpen: "#ffb300"}

// writeSVG draws the timeline: the breaker's state as coloured bands
// (from the exact transition times), the window's failure and slow rates
// as lines (one point per tick), and the dependency's phases along the
// top. Write errors surface when the caller closes the file.
func writeSVG(w io.Writer, plan schedule, samples []sample, events []event, end time.Duration) {
	if end <= 0 {
		end = time.Millisecond
	}
	x := func(t time.Duration) float64 {
		return plotLeft + float64(plotRight-plotLeft)*min(float64(t)/float64(end), 1)
	}
	y := func(rate float64) float64 { return plotBottom - float64(plotBottom-plotTop)*rate }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		svgWidth, svgHeight, svgWidth, svgHeight)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", svgWidth, svgHeight)

	// Phases: shaded alternately, named at the top.
	var at time.Duration
	for i, p := range plan {
		from, to := x(at), x(min(at+p.dur, end))
		if i%2 == 1 {
			fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="#f3f3f3"/>`+"\n", from, plotTop, to-from, plotBottom-plotTop)
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555">%s</text>`+"\n", (from+to)/2, plotTop-10, p.kind)
		at += p.dur
	}

	// Axes and gridlines at 0, 50 and 100%.
	for _, r := range []float64{0, 0.5, 1} {
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ccc"/>`+"\n", plotLeft, y(r), plotRight, y(r))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%.0f%%</text>`+"\n", plotLeft-6, y(r)+4, 100*r)
	}
	for s := time.Duration(0); s <= end; s += time.Second * time.Duration(max(1, int(end/(10*time.Second)))) {
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555">%s</text>`+"\n", x(s), bandBottom+18, fmtSeconds(s))
	}

	// State bands: closed until the first transition, then each event's To.
	state, since := cb.Closed, time.Duration(0)
	band := func(until time.Duration) {
		fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"><title>%s</title></rect>`+"\n",
			x(since), bandTop, x(until)-x(since), bandBottom-bandTop, stateColour[state], state)
	}
	for _, e := range events {
		band(e.at)
		state, since = e.tr.To, e.at
	}
	band(end)

	// Rates.
	line := func(colour string, rate func(sample) float64) {
		if len(samples) == 0 {
			return
		}
		pts := make([]string, 0, len(samples))
		for _, s := range samples {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(s.at), y(rate(s))))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", colour, strings.Join(pts, " "))
	}
	line("#c62828", func(s sample) float64 { return s.failRate })
	line("#1565c0", func(s sample) float64 { return s.slowRate })

	// Legend.
	legend := []struct{ colour, label string }{
		{"#c62828", "window failure rate"},
		{"#1565c0", "window slow-call rate"},
		{stateColour[cb.Closed], "closed"},
		{stateColour[cb.Open], "open"},
		{stateColour[cb.HalfOpen], "half-open"},
	}
	lx := float64(plotLeft)
	for _, l := range legend {
		fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="12" height="12" fill="%s"/><text x="%.1f" y="%d">%s</text>`+"\n",
			lx, svgHeight-18, l.colour, lx+16, svgHeight-8, l.label)
		lx += 40 + 7*float64(len(l.label))
	}
	b.WriteString("</svg>\n")
	_, _ = io.WriteString(w, b.String())
}
