package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/registry"
)

// The demo's core loop with short phases goes through a whole cycle:
// closed, open on the failing phase, half-open after the open timeout,
// closed again once the dependency recovers; and its summary agrees with
// the transitions it recorded.
func TestRunShowsAFullCycle(t *testing.T) {
	t.Parallel()
	plan, err := parseSchedule("healthy=300ms,failing=600ms,recovering=1500ms")
	require.NoError(t, err)
	o := options{
		plan: plan, tick: 100 * time.Millisecond, openTimeout: 200 * time.Millisecond,
		slowThreshold: time.Second, latency: 0, workers: 2, pace: 2 * time.Millisecond,
	}
	var out bytes.Buffer
	sum, samples, events, err := run(context.Background(), o, registry.New(), &out)
	require.NoError(t, err)

	// The cycle, in order: the first trip, then a probe episode, then a
	// recovery that the breaker keeps to the end.
	path := transitions(events)
	require.NotEmpty(t, path, out.String())
	assert.Equal(t, "closed>open", path[0], out.String())
	assert.Contains(t, path, "open>half-open")
	assert.Equal(t, "half-open>closed", path[len(path)-1], "the run ends recovered:\n%s", out.String())
	for i := 1; i < len(events); i++ {
		assert.Equal(t, events[i-1].tr.To, events[i].tr.From, "transitions chain")
		assert.Greater(t, events[i].tr.Generation, events[i-1].tr.Generation)
	}

	// The summary agrees with the events and the counts.
	assert.Positive(t, sum.rejected, "calls were spared while open")
	assert.Positive(t, sum.failures)
	assert.GreaterOrEqual(t, sum.probes, uint64(2), "Network's SuccessThreshold probes at least")
	assert.GreaterOrEqual(t, sum.recoveries, 1)
	assert.GreaterOrEqual(t, sum.openTime, o.openTimeout, "open at least one open timeout")
	assert.Less(t, sum.openTime, sum.elapsed)
	assert.Equal(t, 1, sum.health.Total)
	assert.Equal(t, 1, sum.health.Closed)
	assert.Equal(t, cb.Closed, samples[len(samples)-1].state)
	assertTimeline(t, o, sum, samples, out.String())

	// Each transition is called out in the printed timeline.
	assert.Contains(t, out.String(), ">> closed -> open (consecutive failures)")
	assert.Contains(t, out.String(), ">> half-open -> closed (probes succeeded)")
}

// With slow-call tracking on, a probe that succeeds slowly does not close
// the breaker: through the slow phase it stays open (or probing), sparing
// calls, and it closes only on probes the recovered dependency answered.
// The dependency picks its answer by its own clock, which the recorded
// transitions share, so "no close before the recovery began" holds
// however late the goroutines run.
func TestSlowPhaseHoldsOpenUntilRecovery(t *testing.T) {
	t.Parallel()
	plan, err := parseSchedule("healthy=200ms,failing=400ms,slow=1000ms,recovering=1500ms")
	require.NoError(t, err)
	o := options{
		plan: plan, tick: 100 * time.Millisecond, openTimeout: 200 * time.Millisecond,
		slowThreshold: 100 * time.Millisecond, latency: 150 * time.Millisecond, workers: 2, pace: 2 * time.Millisecond,
	}
	recoveryBegins := plan[0].Dur + plan[1].Dur + plan[2].Dur
	var out bytes.Buffer
	sum, samples, events, err := run(context.Background(), o, registry.New(), &out)
	require.NoError(t, err)

	path := transitions(events)
	require.NotEmpty(t, path, out.String())
	assert.Equal(t, "closed>open", path[0], out.String())
	closes := 0
	for _, e := range events {
		if e.tr.To == cb.Closed {
			closes++
			assert.GreaterOrEqual(t, e.at, recoveryBegins, "closed before the dependency recovered:\n%s", out.String())
		}
	}
	assert.Positive(t, closes, "closed once the dependency recovered:\n%s", out.String())
	assert.Equal(t, "half-open>closed", path[len(path)-1], "the run ends recovered:\n%s", out.String())

	var sparedWhileSlow uint64
	for _, s := range samples {
		if s.phase == slow {
			sparedWhileSlow += s.rejected
		}
	}
	assert.Positive(t, sparedWhileSlow, "calls spared during the slow phase:\n%s", out.String())
	assertTimeline(t, o, sum, samples, out.String())
}

// Interrupting the demo ends its timeline early with one last line, after
// the workers' last calls.
func TestRunEndsEarlyWhenCancelled(t *testing.T) {
	t.Parallel()
	plan, err := parseSchedule("healthy=1m")
	require.NoError(t, err)
	o := options{plan: plan, tick: 50 * time.Millisecond, openTimeout: time.Second, slowThreshold: time.Second, workers: 2, pace: 2 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var out bytes.Buffer
	sum, samples, _, err := run(ctx, o, registry.New(), &out)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, sum.elapsed, plan.Total())
	require.NotEmpty(t, samples)
	assertTotals(t, sum, samples)
	assert.Len(t, timelineLines(out.String()), len(samples), out.String())
}

// assertTimeline checks the timeline of a run that went to the end of its
// schedule: one line per tick, the last at the end and printed once; each
// line's rates over the calls judged in its tick, "-" when none was; and
// the lines adding up to the totals, which match the breaker's own count.
func assertTimeline(t *testing.T, o options, sum summary, samples []sample, out string) {
	t.Helper()
	ticks := int((o.plan.Total() + o.tick - 1) / o.tick)
	require.Len(t, samples, ticks, out)
	assert.GreaterOrEqual(t, samples[len(samples)-1].at, o.plan.Total())
	for i := 1; i < len(samples); i++ {
		assert.GreaterOrEqual(t, samples[i].at, samples[i-1].at)
	}

	lines := timelineLines(out)
	require.Len(t, lines, len(samples), out)
	for i, s := range samples {
		assert.LessOrEqual(t, s.judged, s.admitted)
		assert.LessOrEqual(t, s.failed, s.judged)
		assert.LessOrEqual(t, s.slow, s.judged)
		fields := strings.Fields(lines[i])
		require.Len(t, fields, 7, lines[i])
		fail, slow := fields[2], fields[3]
		if s.judged == 0 {
			assert.Equal(t, "-", fail, lines[i])
			assert.Equal(t, "-", slow, lines[i])
			continue
		}
		assert.Equal(t, fmt.Sprintf("%.0f%%", 100*float64(s.failed)/float64(s.judged)), fail, lines[i])
		assert.Equal(t, fmt.Sprintf("%.0f%%", 100*float64(s.slow)/float64(s.judged)), slow, lines[i])
	}
	assertTotals(t, sum, samples)
}

// assertTotals checks that the timeline's ticks add up to the totals and
// that "judged" is what the breaker counted.
func assertTotals(t *testing.T, sum summary, samples []sample) {
	t.Helper()
	var admitted, rejected, judged, failed, slow uint64
	for _, s := range samples {
		admitted += s.admitted
		rejected += s.rejected
		judged += s.judged
		failed += s.failed
		slow += s.slow
	}
	assert.Equal(t, sum.admitted, admitted, "the timeline's ticks add up to the totals")
	assert.Equal(t, sum.rejected, rejected)
	assert.Equal(t, sum.judged, judged)
	assert.Equal(t, sum.failures, failed)
	assert.Equal(t, sum.slow, slow)
	assert.Equal(t, sum.judged, sum.metrics.TotalCalls, "judged calls are the ones the breaker counted")
	assert.Equal(t, sum.rejected, sum.metrics.TotalRejected)
}

// timelineLines returns the printed tick lines: those that start with a
// time and are neither the header nor a transition.
func timelineLines(out string) []string {
	var lines []string
	for line := range strings.SplitSeq(out, "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && strings.HasSuffix(f[0], "s") && f[0] != "time" && f[1] != ">>" {
			if _, err := time.ParseDuration(f[0]); err == nil {
				lines = append(lines, line)
			}
		}
	}
	return lines
}

// transitions names each event "from>to".
func transitions(events []event) []string {
	var path []string
	for _, e := range events {
		path = append(path, e.tr.From.String()+">"+e.tr.To.String())
	}
	return path
}

// svgDoc is the part of the chart the tests read.
type svgDoc struct {
	XMLName xml.Name
	Defs    struct {
		Patterns []struct {
			ID string `xml:"id,attr"`
		} `xml:"pattern"`
	} `xml:"defs"`
	Rects []struct {
		X     float64 `xml:"x,attr"`
		Y     float64 `xml:"y,attr"`
		Width float64 `xml:"width,attr"`
		Fill  string  `xml:"fill,attr"`
	} `xml:"rect"`
	Paths []struct {
		Stroke string `xml:"stroke,attr"`
		Dash   string `xml:"stroke-dasharray,attr"`
		D      string `xml:"d,attr"`
	} `xml:"path"`
}

func TestMainWritesSummaryAndSVG(t *testing.T) {
	t.Parallel()
	svg := filepath.Join(t.TempDir(), "timeline.svg")
	var out bytes.Buffer
	err := mainErr(context.Background(), []string{
		"-phases", "healthy=100ms,failing=300ms,recovering=600ms", "-tick", "100ms",
		"-open", "100ms", "-workers", "1", "-pace", "2ms", "-svg", svg, "-serve", "", "-linger", "1h",
	}, &out, &bytes.Buffer{})
	require.NoError(t, err)
	assert.Contains(t, out.String(), "legend: ")
	assert.NotContains(t, out.String(), "dashboard:", "an empty -serve serves nothing")
	assert.NotContains(t, out.String(), "still serving", "nor lingers")
	assert.Contains(t, out.String(), "spared by breaker")
	assert.Contains(t, out.String(), "timeline chart written to "+svg)

	data, err := os.ReadFile(svg)
	require.NoError(t, err)
	var doc svgDoc
	require.NoError(t, xml.Unmarshal(data, &doc), "well-formed SVG")
	assert.Equal(t, "svg", doc.XMLName.Local)
	require.Len(t, doc.Paths, 2, "failure and slow-call lines")
	var fills []string
	for _, r := range doc.Rects {
		fills = append(fills, r.Fill)
	}
	assert.Contains(t, fills, openFill, "an open band")
}

// The chart shows a half-open episode however short, tells the failure
// line from the open band by more than colour, and breaks the lines at a
// tick where nothing was judged.
func TestSVGShowsShortEpisodesAndGaps(t *testing.T) {
	plan := schedule{{Kind: healthy, Dur: time.Second}, {Kind: failing, Dur: time.Second}}
	ev := func(at time.Duration, from, to cb.State) event {
		return event{at, cb.Transition{From: from, To: to}}
	}
	events := []event{
		ev(500*time.Millisecond, cb.Closed, cb.Open),
		ev(1500*time.Millisecond, cb.Open, cb.HalfOpen),
		ev(1500*time.Millisecond, cb.HalfOpen, cb.Open), // a probe failed at once
	}
	samples := []sample{
		{at: 500 * time.Millisecond, judged: 10},
		{at: time.Second, judged: 4, failed: 4},
		{at: 1500 * time.Millisecond}, // open: nothing judged
		{at: 2 * time.Second, judged: 1, failed: 1, slow: 1},
	}
	var buf bytes.Buffer
	writeSVG(&buf, plan, samples, events, 2*time.Second)
	var doc svgDoc
	require.NoError(t, xml.Unmarshal(buf.Bytes(), &doc), buf.String())

	var halfOpen, open int
	for _, r := range doc.Rects {
		if r.Y != bandTop {
			continue
		}
		switch r.Fill {
		case halfOpenFill:
			halfOpen++
			assert.GreaterOrEqual(t, r.Width, float64(minEpisodeWidth), "a zero-length episode is still drawn")
			assert.LessOrEqual(t, r.X+r.Width, float64(plotRight))
		case openFill:
			open++
		}
	}
	assert.Equal(t, 1, halfOpen)
	assert.Equal(t, 2, open)
	require.Len(t, doc.Defs.Patterns, 1)
	assert.Equal(t, openFill, "url(#"+doc.Defs.Patterns[0].ID+")", "the open band is hatched")

	require.Len(t, doc.Paths, 2)
	var fail, slowLine int
	for i, p := range doc.Paths {
		switch p.Stroke {
		case failColour:
			fail = i
		case slowColour:
			slowLine = i
		}
	}
	assert.Equal(t, failDash, doc.Paths[fail].Dash, "the failure line is dashed")
	assert.Equal(t, "none", doc.Paths[slowLine].Dash)
	assert.NotEqual(t, doc.Paths[fail].Stroke, doc.Paths[slowLine].Stroke)
	for _, p := range doc.Paths {
		assert.Equal(t, 2, strings.Count(p.D, "M"), "one gap, at the tick with nothing judged: %s", p.D)
	}
}

func TestHelpExitsZero(t *testing.T) {
	var usage bytes.Buffer
	err := mainErr(context.Background(), []string{"-h"}, &bytes.Buffer{}, &usage)
	require.ErrorIs(t, err, flag.ErrHelp)
	assert.Equal(t, 0, exitCode(err, &bytes.Buffer{}))
	assert.Contains(t, usage.String(), "-phases")

	var errOut bytes.Buffer
	assert.Equal(t, 1, exitCode(errors.New("boom"), &errOut))
	assert.Equal(t, "flaky: boom\n", errOut.String())
	assert.Equal(t, 0, exitCode(nil, &errOut))
}

func TestFmtShare(t *testing.T) {
	assert.Equal(t, "-", fmtShare(share(0, 0)))
	assert.Equal(t, "0%", fmtShare(share(0, 3)))
	assert.Equal(t, "33%", fmtShare(share(1, 3)))
	assert.Equal(t, "100%", fmtShare(share(2, 2)))
}

func TestFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-phases", "healthy"},
		{"-phases", "sunny=1s"},
		{"-phases", "healthy=-1s"},
		{"-tick", "0s"},
		{"-workers", "0"},
		{"-open", "-1s"},
		{"-linger", "-1s"},
		{"-serve", "127.0.0.1:-1"},
	} {
		err := mainErr(context.Background(), args, &bytes.Buffer{}, &bytes.Buffer{})
		assert.Error(t, err, strings.Join(args, " "))
	}
}

func TestSchedule(t *testing.T) {
	plan, err := parseSchedule("healthy=1s, failing=2s,slow=500ms")
	require.NoError(t, err)
	assert.Equal(t, 3500*time.Millisecond, plan.Total())
	assert.Equal(t, healthy, plan.At(0))
	assert.Equal(t, healthy, plan.At(time.Second-1))
	assert.Equal(t, failing, plan.At(time.Second))
	assert.Equal(t, slow, plan.At(3*time.Second))
	assert.Equal(t, slow, plan.At(time.Hour), "the last phase lasts")
	assert.Equal(t, "recovering", recovering.String())
}

func TestOpenTime(t *testing.T) {
	ev := func(at time.Duration, from, to cb.State) event {
		return event{at, cb.Transition{From: from, To: to}}
	}
	events := []event{
		ev(1*time.Second, cb.Closed, cb.Open),
		ev(3*time.Second, cb.Open, cb.HalfOpen),
		ev(4*time.Second, cb.HalfOpen, cb.Open),
		ev(6*time.Second, cb.Open, cb.HalfOpen),
		ev(7*time.Second, cb.HalfOpen, cb.Closed),
		ev(8*time.Second, cb.Closed, cb.Open),
	}
	assert.Equal(t, (2+2+2)*time.Second, openTime(events, 10*time.Second))
	assert.Zero(t, openTime(nil, time.Second))
}
