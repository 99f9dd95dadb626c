package registry_test

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/atomic"

	"github.com/tripswitch/tripswitch/cb/cbtest"
	"github.com/tripswitch/tripswitch/internal/headless"
	"github.com/tripswitch/tripswitch/registry"
)

// The tests in this file load the dashboard in headless Chromium. They do
// not skip without it: the page's script is most of what they check, and
// CI installs the browser.

// hostileName is a breaker name that is markup: it must show as text.
const hostileName = `<img src=x onerror=alert(1)>`

func findBrowser(t *testing.T) string {
	t.Helper()
	bin, err := headless.Find()
	require.NoError(t, err, "the dashboard's browser tests need Chromium (apt-get install -y chromium), or $CHROMIUM naming it")
	return bin
}

// watched serves a dashboard and counts what the browser asks of it: the
// page itself, and its polls for data. afterPoll, when set, runs after the
// n-th poll has been answered.
type watched struct {
	pages, polls atomic.Int64
	afterPoll    func(n int64)

	mu      sync.Mutex
	answers []string // the polls' answers, in order
}

func (wt *watched) serve(t *testing.T, d http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		switch req.URL.Query().Get("part") {
		case "":
			wt.pages.Inc()
		case "data":
			n := wt.polls.Inc()
			rec := httptest.NewRecorder()
			d.ServeHTTP(rec, req)
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
			wt.mu.Lock()
			wt.answers = append(wt.answers, rec.Body.String())
			wt.mu.Unlock()
			if wt.afterPoll != nil {
				wt.afterPoll(n)
			}
			return
		}
		d.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/debug/breakers/"
}

var (
	trTag       = regexp.MustCompile(`<tr\b[^>]*>`)
	dataUpdates = regexp.MustCompile(`<html[^>]*\bdata-updates="(\d+)"`)
)

// row returns the start tag of the table row of the breaker named name
// (escaped as the serialised DOM escapes attributes), or "".
func row(dom, name string) string {
	attr := `data-name="` + strings.NewReplacer(`&`, `&amp;`, `"`, `&quot;`, `<`, `&lt;`, `>`, `&gt;`).Replace(name) + `"`
	attrLoose := `data-name="` + strings.NewReplacer(`&`, `&amp;`, `"`, `&quot;`).Replace(name) + `"`
	for _, tag := range trTag.FindAllString(dom, -1) {
		if strings.Contains(tag, attr) || strings.Contains(tag, attrLoose) {
			return tag
		}
	}
	return ""
}

func updatesIn(t *testing.T, dom string) int {
	t.Helper()
	m := dataUpdates.FindStringSubmatch(dom)
	require.NotNil(t, m, "the page recorded no update count: its script did not run")
	n, err := strconv.Atoi(m[1])
	require.NoError(t, err)
	return n
}

// assertCleanPage checks that the page's script ran without an error and
// the browser logged nothing from the page's console (where Content
// Security Policy violations go too).
func assertCleanPage(t *testing.T, dom string, res headless.Result) {
	t.Helper()
	assert.Contains(t, dom, `data-errors="0"`, "the page reported errors")
	assert.NotContains(t, dom, "Page error:")
	assert.Empty(t, res.Console(), "the page wrote to the console")
}

// The page shows a breaker tripped after it was loaded: its script's
// polls bring the change, the page is loaded once, names that are markup
// show as text, and nothing goes to the console.
func TestDashboardBrowserLiveUpdate(t *testing.T) {
	bin := findBrowser(t)
	r := registry.New()
	clk := cbtest.NewClock()
	cfg := tripConfig(clk)
	payments, err := registry.Get[int](r, "payments", cfg)
	require.NoError(t, err)
	hostile, err := registry.Get[int](r, hostileName, cfg)
	require.NoError(t, err)
	quoted, err := registry.Get[int](r, `say "hi" & <b>bye</b>`, cfg)
	require.NoError(t, err)
	for _, n := range []string{"inventory", "search", "users-db"} {
		b, err := registry.Get[int](r, n, cfg)
		require.NoError(t, err)
		b.Execute(ok)
	}
	payments.Execute(ok)
	hostile.Execute(fail) // open: the riskiest row, shown first
	quoted.ForceHalfOpen()

	d := r.Dashboard()
	t.Cleanup(d.Close)
	const tripAfter = 2
	tripped := make(chan struct{})
	wt := &watched{afterPoll: func(n int64) {
		if n == tripAfter {
			payments.Execute(fail)
			close(tripped)
		}
	}}
	url := wt.serve(t, d)

	// The page polls every second of virtual time: 4.5s of it make about
	// five polls, two before the trip and the rest after.
	res, err := headless.DumpDOM(t.Context(), bin, url, headless.Options{Budget: 4500 * time.Millisecond})
	require.NoError(t, err)
	t.Logf("chromium --dump-dom took %v for %d polls", res.Elapsed, wt.polls.Load())
	dom := res.Stdout

	select {
	case <-tripped:
	default:
		require.Failf(t, "the page polled too few times", "%d polls; the trip comes after poll %d", wt.polls.Load(), tripAfter)
	}
	assert.EqualValues(t, 1, wt.pages.Load(), "the page was loaded more than once")
	updates := updatesIn(t, dom)
	assert.GreaterOrEqual(t, updates, tripAfter+1, "the page applied no update after the trip")
	assert.LessOrEqual(t, int64(updates), wt.polls.Load())

	// The poll right after the trip, one refresh later, told the page.
	wt.mu.Lock()
	assert.Contains(t, wt.answers[tripAfter-1], `{"name":"payments","state":"closed"`)
	assert.Contains(t, wt.answers[tripAfter], `{"name":"payments","state":"open"`)
	wt.mu.Unlock()

	// The one page load came before the trip; only a poll can have told it.
	tr := row(dom, "payments")
	require.NotEmpty(t, tr, "no row for payments")
	assert.Contains(t, tr, `class="st-open"`, "payments is not shown open")
	assert.Contains(t, dom, "consecutive failures", "the trip's reason is not shown")
	assert.Contains(t, dom, "<strong>payments</strong>: <span class=\"to-open\">closed → open</span> (consecutive failures)",
		"the trip is not in the page's log of transitions")
	assert.NotContains(t, dom, "undefined")
	assert.NotContains(t, dom, "NaN")
	assert.Contains(t, row(dom, `say "hi" & <b>bye</b>`), `class="st-half-open"`)
	assert.Contains(t, row(dom, "search"), `class="st-closed"`)

	// Names that are markup are text: shown escaped, no element made.
	require.NotEmpty(t, row(dom, hostileName), "no row for the hostile name")
	assert.Contains(t, dom, "&lt;img src=x onerror=alert(1)&gt;")
	assert.NotContains(t, dom, `<img src="x"`)
	assert.NotContains(t, dom, "<b>bye</b>")
	assert.Contains(t, dom, "&lt;b&gt;bye&lt;/b&gt;")

	// Unhealthy first: the open breakers lead, by name, then half-open.
	var order []string
	for _, n := range []string{hostileName, "payments", `say "hi" & <b>bye</b>`, "inventory"} {
		order = append(order, strconv.Itoa(strings.Index(dom, row(dom, n))))
	}
	assert.True(t, sortedInts(order), "rows out of order: positions %v", order)
	assertCleanPage(t, dom, res)
}

func sortedInts(s []string) bool {
	prev := -1
	for _, v := range s {
		n, err := strconv.Atoi(v)
		if err != nil || n <= prev {
			return false
		}
		prev = n
	}
	return true
}

// Five hundred breakers render, every one, without an error, in a time a
// person would wait.
func TestDashboardBrowserFiveHundredBreakers(t *testing.T) {
	bin := findBrowser(t)
	r := registry.New()
	clk := cbtest.NewClock()
	const n = 500
	for i := range n {
		b, err := registry.Get[int](r, fmt.Sprintf("dep-%03d", i), tripConfig(clk))
		require.NoError(t, err)
		b.Execute(ok)
		if i%50 == 7 {
			b.Execute(fail)
		}
	}
	d := r.Dashboard()
	t.Cleanup(d.Close)
	wt := &watched{}
	url := wt.serve(t, d)

	res, err := headless.DumpDOM(t.Context(), bin, url, headless.Options{Budget: 2500 * time.Millisecond})
	require.NoError(t, err)
	t.Logf("chromium --dump-dom of %d breakers took %v for %d polls", n, res.Elapsed, wt.polls.Load())
	dom := res.Stdout
	assert.GreaterOrEqual(t, updatesIn(t, dom), 2)
	_, body, found := strings.Cut(dom, `<tbody id="rows">`)
	require.True(t, found, "no table body")
	body, _, found = strings.Cut(body, "</tbody>")
	require.True(t, found, "the table body does not end")
	assert.Equal(t, n, strings.Count(body, "<tr "), "rows")
	assert.Equal(t, n/50, strings.Count(body, `class="st-open"`), "open rows")
	assert.Contains(t, body[:200], `data-name="dep-007"`, "the first row is not the first open breaker")
	assert.Equal(t, n, strings.Count(body, "<canvas"), "rows the script built")
	assertCleanPage(t, dom, res)
	assert.Less(t, res.Elapsed, 60*time.Second, "the browser took too long over 500 breakers")

	// A filter in the URL (as the filter box keeps it) shows the matching
	// rows only: the ten dep-04x, or the open ones among them.
	for query, want := range map[string][]string{
		"?filter=DEP-04":             {"dep-040", "dep-041", "dep-042", "dep-043", "dep-044", "dep-045", "dep-046", "dep-047", "dep-048", "dep-049"},
		"?filter=dep-05&unhealthy=1": {"dep-057"},
	} {
		res, err := headless.DumpDOM(t.Context(), bin, url+query, headless.Options{Budget: 1500 * time.Millisecond})
		require.NoError(t, err)
		t.Logf("chromium --dump-dom of %d breakers filtered by %s took %v", n, query, res.Elapsed)
		var shown []string
		for _, m := range visibleRow.FindAllStringSubmatch(res.Stdout, -1) {
			shown = append(shown, m[1])
		}
		assert.Equal(t, want, shown, query)
		assert.Contains(t, res.Stdout, fmt.Sprintf("showing %d of %d", len(want), n))
		assertCleanPage(t, res.Stdout, res)
	}
}

// visibleRow matches the start tag of a row not hidden by the filter.
var visibleRow = regexp.MustCompile(`<tr data-name="([^"]*)" class="[^"]*"(?: title="[^"]*")?>`)

// A screenshot of the page is a PNG of the window's size with a picture
// in it: not blank, with the open state's colour somewhere.
func TestDashboardBrowserScreenshot(t *testing.T) {
	bin := findBrowser(t)
	r := registry.New()
	clk := cbtest.NewClock()
	for _, n := range []string{"checkout", "inventory", "payments", "search"} {
		b, err := registry.Get[int](r, n, tripConfig(clk))
		require.NoError(t, err)
		b.Execute(ok)
		if n == "payments" {
			b.Execute(fail)
		}
	}
	d := r.Dashboard()
	t.Cleanup(d.Close)
	wt := &watched{}
	url := wt.serve(t, d)

	const w, h = 1200, 700
	file := filepath.Join(t.TempDir(), "dashboard.png")
	res, err := headless.Screenshot(t.Context(), bin, url, file, headless.Options{Budget: 1500 * time.Millisecond, Width: w, Height: h})
	require.NoError(t, err)
	t.Logf("chromium --screenshot took %v", res.Elapsed)
	assert.Empty(t, res.Console(), "the page wrote to the console")
	assert.GreaterOrEqual(t, wt.polls.Load(), int64(1), "the page never polled")

	raw, err := os.ReadFile(file)
	require.NoError(t, err)
	img, err := png.Decode(bytes.NewReader(raw))
	require.NoError(t, err, "the screenshot is not a PNG")
	assert.Equal(t, image.Rect(0, 0, w, h), img.Bounds())
	variance, openish := pixelStats(img)
	assert.Greater(t, variance, 100.0, "the screenshot is blank (luminance variance %.1f)", variance)
	assert.Positive(t, openish, "no pixel has the open state's colour")
}

// pixelStats returns the variance of the image's luminance (0-255) and the
// number of pixels close to the open state's vermillion, #d55e00.
func pixelStats(img image.Image) (variance float64, openish int) {
	var sum, sumSq float64
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			r8, g8, b8 := float64(r>>8), float64(g>>8), float64(bl>>8)
			l := 0.2126*r8 + 0.7152*g8 + 0.0722*b8
			sum += l
			sumSq += l * l
			if math.Abs(r8-0xd5) < 24 && math.Abs(g8-0x5e) < 24 && b8 < 40 {
				openish++
			}
		}
	}
	n := float64(b.Dx() * b.Dy())
	mean := sum / n
	return sumSq/n - mean*mean, openish
}
