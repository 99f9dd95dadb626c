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
	svgHeight  = 350
	plotLeft   = 60
	plotRight  = 880
	plotTop    = 30
	plotBottom = 240
	bandTop    = 255 // the state band under the plot
	bandBottom = 275

	// minEpisodeWidth keeps a half-open episode visible: one decided by its
	// first probe lasts a few milliseconds, far less than a unit.
	minEpisodeWidth = 4
)

// The colours are from the Okabe-Ito palette, which stays distinct for the
// common colour-blindnesses, and nothing is told by colour alone: the open
// band is hatched, the failure line dashed and dark, the slow line solid.
const (
	closedFill   = "#009e73"
	openFill     = "url(#open-hatch)"
	halfOpenFill = "#e69f00"
	failColour   = "#000000"
	failDash     = "6 3"
	slowColour   = "#0072b2"
)

var stateFill = map[cb.State]string{cb.Closed: closedFill, cb.Open: openFill, cb.HalfOpen: halfOpenFill}

// openHatch is the open band's pattern: vermillion stripes on a pale ground.
const openHatch = `<defs><pattern id="open-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">` +
	`<rect width="6" height="6" fill="#fbe1cf"/><rect width="3" height="6" fill="#d55e00"/></pattern></defs>`

// writeSVG draws the timeline: the breaker's state as a band (from the
// exact transition times), each tick's failure and slow-call shares of the
// judged calls as step lines with a gap where nothing was judged, and the
// dependency's phases along the top. Write errors surface when the caller
// closes the file.
func writeSVG(w io.Writer, plan schedule, samples []sample, events []event, end time.Duration) {
	if end <= 0 {
		end = time.Millisecond
	}
	x := func(t time.Duration) float64 {
		return plotLeft + float64(plotRight-plotLeft)*min(max(float64(t)/float64(end), 0), 1)
	}
	y := func(rate float64) float64 { return plotBottom - float64(plotBottom-plotTop)*rate }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		svgWidth, svgHeight, svgWidth, svgHeight)
	b.WriteString(openHatch + "\n")
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", svgWidth, svgHeight)

	// Phases: shaded alternately, named at the top.
	var at time.Duration
	for i, p := range plan {
		from, to := x(at), x(min(at+p.Dur, end))
		if i%2 == 1 {
			fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="#f3f3f3"/>`+"\n", from, plotTop, to-from, plotBottom-plotTop)
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555">%s</text>`+"\n", (from+to)/2, plotTop-10, p.Kind)
		at += p.Dur
	}

	// Axes and gridlines at 0, 50 and 100%.
	for _, r := range []float64{0, 0.5, 1} {
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ccc"/>`+"\n", plotLeft, y(r), plotRight, y(r))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%.0f%%</text>`+"\n", plotLeft-6, y(r)+4, 100*r)
	}
	for s := time.Duration(0); s <= end; s += time.Second * time.Duration(max(1, int(end/(10*time.Second)))) {
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555">%s</text>`+"\n", x(s), bandBottom+18, fmtSeconds(s))
	}

	// State band: closed until the first transition, then each event's To.
	// Half-open episodes go on top, at least minEpisodeWidth wide, so the
	// open band that follows one at once does not hide it.
	band := func(state cb.State, from, until time.Duration) {
		x0, width := x(from), x(until)-x(from)
		if state == cb.HalfOpen && width < minEpisodeWidth {
			width = minEpisodeWidth
			x0 = min(x0, plotRight-width)
		}
		fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"><title>%s from %s</title></rect>`+"\n",
			x0, bandTop, width, bandBottom-bandTop, stateFill[state], state, fmtSeconds(from))
	}
	type span struct{ from, until time.Duration }
	var episodes []span
	state, since := cb.Closed, time.Duration(0)
	closeBand := func(until time.Duration) {
		if state == cb.HalfOpen {
			episodes = append(episodes, span{since, until})
		} else {
			band(state, since, until)
		}
	}
	for _, e := range events {
		closeBand(e.at)
		state, since = e.tr.To, e.at
	}
	closeBand(end)
	for _, ep := range episodes {
		band(cb.HalfOpen, ep.from, ep.until)
	}

	// Shares per tick: a step over each tick, broken where nothing was
	// judged rather than drawn through a rate nobody measured.
	steps := func(colour, dash string, share func(sample) (float64, bool)) {
		var d strings.Builder
		prev, drawing := time.Duration(0), false
		for _, s := range samples {
			if r, ok := share(s); ok {
				if drawing {
					fmt.Fprintf(&d, " L%.1f,%.1f", x(prev), y(r))
				} else {
					fmt.Fprintf(&d, " M%.1f,%.1f", x(prev), y(r))
				}
				fmt.Fprintf(&d, " L%.1f,%.1f", x(s.at), y(r))
				drawing = true
			} else {
				drawing = false
			}
			prev = s.at
		}
		if d.Len() == 0 {
			return
		}
		fmt.Fprintf(&b, `<path fill="none" stroke="%s" stroke-width="2" stroke-dasharray="%s" d="%s"/>`+"\n",
			colour, dash, strings.TrimSpace(d.String()))
	}
	steps(slowColour, "none", sample.slowShare)
	steps(failColour, failDash, sample.failShare)

	// Legend: the lines on one row, the states on the next.
	lx := float64(plotLeft)
	for _, l := range []struct{ colour, dash, label string }{
		{failColour, failDash, "failed, % of the tick's judged calls"},
		{slowColour, "none", "slow, % of the tick's judged calls"},
	} {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-width="2" stroke-dasharray="%s"/><text x="%.1f" y="%d">%s</text>`+"\n",
			lx, svgHeight-36, lx+24, svgHeight-36, l.colour, l.dash, lx+30, svgHeight-32, l.label)
		lx += 60 + 6.5*float64(len(l.label))
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" fill="#555">gap: nothing judged in the tick</text>`+"\n", lx, svgHeight-32)
	lx = float64(plotLeft)
	for _, st := range []cb.State{cb.Closed, cb.Open, cb.HalfOpen} {
		fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="24" height="12" fill="%s" stroke="#333" stroke-width="0.5"/><text x="%.1f" y="%d">%s</text>`+"\n",
			lx, svgHeight-20, stateFill[st], lx+30, svgHeight-10, st)
		lx += 60 + 6.5*float64(len(st.String()))
	}
	b.WriteString("</svg>\n")
	_, _ = io.WriteString(w, b.String())
}
