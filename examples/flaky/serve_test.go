package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// breakerName is the name the demo gives its breaker.
const breakerName = "flaky-dependency"

// watchdog bounds every wait on the demo, so that a hung demo fails its
// test instead of running into go test's timeout. It is no timing
// assertion: under load the demo only gets slower, never wrong.
const watchdog = 30 * time.Second

// While the demo runs, it serves its breaker on the three printed URLs;
// interrupted, it ends with its summary, stops serving and (TestMain
// checks) leaves no goroutine behind.
func TestServesWhileRunning(t *testing.T) {
	t.Parallel()
	// One long healthy phase: the demo runs until the test interrupts it.
	// The slow-call threshold is far above any answer time on a loaded
	// machine, so that the breaker stays closed.
	d := startDemo(t, "-serve", "127.0.0.1:0", "-phases", "healthy=10m", "-tick", "50ms",
		"-slow-threshold", "10s", "-workers", "1", "-pace", "2ms")
	urls := d.urls(t)
	// The breaker exists once its line is printed; the first tick line
	// comes after the worker has begun calling.
	d.until(t, `breaker "`+breakerName+`"`)
	d.until(t, "time ")
	d.untilTick(t)

	client := newClient(t)
	families := scrape(t, client, urls["metrics"])
	states := seriesOf(families, "tripswitch_circuit_state", breakerName)
	require.Len(t, states, 3, "one series per state:\n%s", d.output())
	var total float64
	for _, s := range states {
		total += s.GetGauge().GetValue()
	}
	assert.InDelta(t, 1, total, 0, "the breaker is in exactly one state")
	outcomes := map[string]bool{}
	for _, s := range seriesOf(families, "tripswitch_calls_total", breakerName) {
		outcomes[label(s, "outcome")] = true
	}
	assert.Equal(t, map[string]bool{"success": true, "failure": true, "ignored": true, "rejected": true, "stale": true}, outcomes)

	rep := report(t, client, urls["json"])
	assert.Equal(t, 1, rep.Health.Total)
	assert.Contains(t, rep.Circuits, breakerName)

	status, header, page := fetch(t, client, urls["dashboard"])
	assert.Equal(t, http.StatusOK, status)
	assert.Contains(t, header.Get("Content-Type"), "text/html")
	assert.Contains(t, string(page), "Circuit breakers · flaky demo")
	assert.Contains(t, string(page), `data-name="`+breakerName+`"`)
	_, _, data := fetch(t, client, urls["dashboard"]+"?part=data")
	var dash struct {
		RefreshMS int64 `json:"refresh_ms"`
		Breakers  []struct {
			Name string `json:"name"`
		} `json:"breakers"`
	}
	require.NoError(t, json.Unmarshal(data, &dash), string(data))
	require.Len(t, dash.Breakers, 1)
	assert.Equal(t, breakerName, dash.Breakers[0].Name)
	assert.Equal(t, int64(100), dash.RefreshMS, "a 50ms tick is below the dashboard's least refresh")

	rest, err := d.stop(t)
	require.NoError(t, err, "an interrupted demo is no failure")
	assert.Contains(t, rest, "summary after")
	assert.NotContains(t, rest, "still serving", "no lingering without -linger")
	client.CloseIdleConnections()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, urls["metrics"], http.NoBody)
	require.NoError(t, err)
	resp, err := client.Do(req)
	if err == nil {
		resp.Body.Close()
	}
	assert.Error(t, err, "the server is down once the demo has returned")
}

// With -linger the demo keeps serving after its run, and what it serves
// then agrees with the summary it printed: the breaker's counters are the
// timeline's totals. An interrupt ends the lingering.
func TestLingersAfterTheRun(t *testing.T) {
	t.Parallel()
	d := startDemo(t, "-serve", "127.0.0.1:0", "-linger", "10m",
		"-phases", "healthy=100ms,failing=300ms", "-tick", "100ms", "-open", "10m", "-workers", "1", "-pace", "2ms")
	urls := d.urls(t)
	d.until(t, "still serving for 10m0s at "+urls["dashboard"])
	out := d.output()
	figures := summaryFigures(t, out, `judged by breaker\s+(\d+) \((\d+) failed`)
	judged, failed := figures[0], figures[1]
	spared := summaryFigures(t, out, `spared by breaker\s+(\d+)`)[0]

	client := newClient(t)
	counts := map[string]float64{}
	for _, s := range seriesOf(scrape(t, client, urls["metrics"]), "tripswitch_calls_total", breakerName) {
		counts[label(s, "outcome")] = s.GetCounter().GetValue()
	}
	assert.InDelta(t, judged, counts["success"]+counts["failure"], 0, "counted calls:\n%s", out)
	assert.InDelta(t, failed, counts["failure"], 0, out)
	assert.InDelta(t, spared, counts["rejected"], 0, out)

	rep := report(t, client, urls["json"])
	require.Contains(t, rep.Circuits, breakerName)
	assert.InDelta(t, judged, rep.Circuits[breakerName].TotalCalls, 0, out)
	status, _, _ := fetch(t, client, urls["dashboard"])
	assert.Equal(t, http.StatusOK, status)

	rest, err := d.stop(t)
	require.NoError(t, err)
	assert.Empty(t, strings.TrimSpace(rest), "nothing after the lingering line")
}

// summaryFigures reads the numbers pattern captures from the summary.
func summaryFigures(t *testing.T, out, pattern string) []float64 {
	t.Helper()
	m := regexp.MustCompile(pattern).FindStringSubmatch(out)
	require.NotEmpty(t, m, "%s in:\n%s", pattern, out)
	var figures []float64
	for _, s := range m[1:] {
		f, err := strconv.ParseFloat(s, 64)
		require.NoError(t, err)
		figures = append(figures, f)
	}
	return figures
}

// demo is mainErr running in a goroutine, its output read line by line as
// it comes.
type demo struct {
	cancel context.CancelFunc
	lines  chan string
	done   chan struct{} // closed when mainErr has returned err
	err    error

	mu   sync.Mutex
	seen []string // the lines read so far
}

// startDemo runs the demo with args. Whatever happens to the test, the
// demo is interrupted and waited for when the test ends.
func startDemo(t *testing.T, args ...string) *demo {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	d := &demo{cancel: cancel, lines: make(chan string), done: make(chan struct{})}
	go func() {
		defer close(d.done)
		d.err = mainErr(ctx, args, pw, io.Discard)
		pw.Close()
	}()
	go func() {
		defer close(d.lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			d.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		cancel()
		// Read what is left: the demo blocks on its output until then.
		for range d.lines {
		}
		<-d.done
	})
	return d
}

// until reads lines up to the first that begins with prefix (after the
// padding), failing the test if the demo ends first.
func (d *demo) until(t *testing.T, prefix string) string {
	t.Helper()
	return d.untilLine(t, strconv.Quote(prefix), func(line string) bool {
		return strings.HasPrefix(strings.TrimSpace(line), prefix)
	})
}

// untilTick reads lines up to the first timeline line.
func (d *demo) untilTick(t *testing.T) string {
	t.Helper()
	return d.untilLine(t, "a timeline line", func(line string) bool { return len(timelineLines(line)) == 1 })
}

func (d *demo) untilLine(t *testing.T, what string, match func(string) bool) string {
	t.Helper()
	timeout := time.NewTimer(watchdog)
	defer timeout.Stop()
	for {
		select {
		case line, ok := <-d.lines:
			if !ok {
				require.FailNow(t, "the demo ended before "+what, d.output())
			}
			d.mu.Lock()
			d.seen = append(d.seen, line)
			d.mu.Unlock()
			if match(line) {
				return line
			}
		case <-timeout.C:
			require.FailNow(t, "no "+what+" within the watchdog", d.output())
		}
	}
}

// urls reads the three lines the demo prints first, keyed by their label.
func (d *demo) urls(t *testing.T) map[string]string {
	t.Helper()
	urls := map[string]string{}
	for _, label := range []string{"dashboard", "json", "metrics"} {
		f := strings.Fields(d.until(t, label+":"))
		require.Len(t, f, 2, d.output())
		urls[label] = f[1]
		assert.Regexp(t, `^http://127\.0\.0\.1:\d+/`, f[1])
	}
	return urls
}

// output is every line read so far.
func (d *demo) output() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return strings.Join(d.seen, "\n")
}

// stop interrupts the demo, as Ctrl-C does, and returns the output it
// printed after the last line read and mainErr's error.
func (d *demo) stop(t *testing.T) (string, error) {
	t.Helper()
	d.cancel()
	var rest []string
	timeout := time.NewTimer(watchdog)
	defer timeout.Stop()
	for {
		select {
		case line, ok := <-d.lines:
			if ok {
				rest = append(rest, line)
				continue
			}
			<-d.done // the output ends just before mainErr returns
			return strings.Join(rest, "\n"), d.err
		case <-timeout.C:
			require.FailNow(t, "the demo did not stop when interrupted", d.output()+"\n"+strings.Join(rest, "\n"))
		}
	}
}

// newClient is a client of the test's own, whose idle connections the
// test closes, so that none outlives it.
func newClient(t *testing.T) *http.Client {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{}, Timeout: watchdog}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func fetch(t *testing.T, client *http.Client, url string) (status int, header http.Header, body []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, http.NoBody)
	require.NoError(t, err)
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err = io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, body
}

// scrape fetches the metrics in Prometheus' text format.
func scrape(t *testing.T, client *http.Client, url string) map[string]*dto.MetricFamily {
	t.Helper()
	status, header, body := fetch(t, client, url)
	require.Equal(t, http.StatusOK, status, string(body))
	require.Equal(t, expfmt.TypeTextPlain, expfmt.ResponseFormat(header).FormatType(), header.Get("Content-Type"))
	p := expfmt.NewTextParser(model.LegacyValidation)
	families, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	require.NoError(t, err, string(body))
	return families
}

// seriesOf returns the series of family whose name label is name.
func seriesOf(families map[string]*dto.MetricFamily, family, name string) []*dto.Metric {
	var out []*dto.Metric
	for _, m := range families[family].GetMetric() {
		if label(m, "name") == name {
			out = append(out, m)
		}
	}
	return out
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// jsonReport is the part of the registry's JSON report the tests read.
type jsonReport struct {
	Health struct {
		Total int `json:"total"`
	} `json:"health"`
	Circuits map[string]struct {
		TotalCalls float64 `json:"total_calls"`
	} `json:"circuits"`
}

func report(t *testing.T, client *http.Client, url string) jsonReport {
	t.Helper()
	status, header, body := fetch(t, client, url)
	require.Equal(t, http.StatusOK, status, string(body))
	require.Equal(t, "application/json", header.Get("Content-Type"))
	var rep jsonReport
	require.NoError(t, json.Unmarshal(body, &rep), string(body))
	return rep
}
