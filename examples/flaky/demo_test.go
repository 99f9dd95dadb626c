package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
)

// The demo's core loop with short phases goes through a whole cycle:
// closed, open on the failing phase, half-open after the open timeout,
// closed again once the dependency recovers; and its summary agrees with
// the transitions it recorded.
func TestRunShowsAFullCycle(t *testing.T) {
	plan, err := parseSchedule("healthy=300ms,failing=600ms,recovering=1500ms")
	require.NoError(t, err)
	o := options{
		plan: plan, tick: 100 * time.Millisecond, openTimeout: 200 * time.Millisecond,
		slowThreshold: time.Second, latency: 0, workers: 2, pace: 2 * time.Millisecond,
	}
	var out bytes.Buffer
	sum, samples, events, err := run(context.Background(), o, &out)
	require.NoError(t, err)

	// The cycle, in order: the first trip, then a probe episode, then a
	// recovery that the breaker keeps to the end.
	var path []string
	for _, e := range events {
		path = append(path, e.tr.From.String()+">"+e.tr.To.String())
	}
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
	var admitted, rejected uint64
	for _, s := range samples {
		admitted += s.admitted
		rejected += s.rejected
	}
	assert.Equal(t, sum.admitted, admitted, "the timeline's ticks add up to the totals")
	assert.Equal(t, sum.rejected, rejected)
	assert.Equal(t, cb.Closed, samples[len(samples)-1].state)

	// Each transition is called out in the printed timeline.
	assert.Contains(t, out.String(), ">> closed -> open (consecutive failures)")
	assert.Contains(t, out.String(), ">> half-open -> closed (probes succeeded)")
}

func TestMainWritesSummaryAndSVG(t *testing.T) {
	svg := filepath.Join(t.TempDir(), "timeline.svg")
	var out bytes.Buffer
	err := mainErr(context.Background(), []string{
		"-phases", "healthy=100ms,failing=300ms,recovering=600ms", "-tick", "100ms",
		"-open", "100ms", "-workers", "1", "-pace", "2ms", "-svg", svg,
	}, &out)
	require.NoError(t, err)
	assert.Contains(t, out.String(), "spared by breaker")
	assert.Contains(t, out.String(), "timeline chart written to "+svg)

	data, err := os.ReadFile(svg)
	require.NoError(t, err)
	var doc struct {
		XMLName xml.Name
		Rects   []struct {
			Fill string `xml:"fill,attr"`
		} `xml:"rect"`
		Lines []struct{} `xml:"polyline"`
	}
	require.NoError(t, xml.Unmarshal(data, &doc), "well-formed SVG")
	assert.Equal(t, "svg", doc.XMLName.Local)
	assert.Len(t, doc.Lines, 2, "failure and slow-call rate lines")
	var fills []string
	for _, r := range doc.Rects {
		fills = append(fills, r.Fill)
	}
	assert.Contains(t, fills, stateColour[cb.Open], "an open band")
}

func TestFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-phases", "healthy"},
		{"-phases", "sunny=1s"},
		{"-phases", "healthy=-1s"},
		{"-tick", "0s"},
		{"-workers", "0"},
		{"-open", "-1s"},
	} {
		err := mainErr(context.Background(), args, &bytes.Buffer{})
		assert.Error(t, err, strings.Join(args, " "))
	}
}

func TestSchedule(t *testing.T) {
	plan, err := parseSchedule("healthy=1s, failing=2s,slow=500ms")
	require.NoError(t, err)
	assert.Equal(t, 3500*time.Millisecond, plan.total())
	assert.Equal(t, healthy, plan.at(0))
	assert.Equal(t, healthy, plan.at(time.Second-1))
	assert.Equal(t, failing, plan.at(time.Second))
	assert.Equal(t, slow, plan.at(3*time.Second))
	assert.Equal(t, slow, plan.at(time.Hour), "the last phase lasts")
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
