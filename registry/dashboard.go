package registry

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"sync"
	"time"

	"go.uber.org/atomic"

	"github.com/tripswitch/tripswitch/cb"
)

// Dashboard is a live web page of a registry's breakers, made by
// Registry.Dashboard. It is an http.Handler: mount it where only operators
// can reach it, as the JSON Handler.
//
// The page lists every breaker, the unhealthy first: its state (in words
// and by an icon's shape as well as by colour), its window's failure and
// slow-call rates against the thresholds it was made with, calls and
// rejections per second, the time in its state and until a retry, whether
// it is forced, its recent transitions with their reasons, and a sparkline
// of the last minutes. A script polls the handler for fresh figures every
// refresh and updates the page in place; without the script the page is a
// snapshot.
//
// The handler is read-only: it answers GET and HEAD, with 405 Method Not
// Allowed and an Allow header to anything else, and offers no action on
// the breakers. Everything it serves comes from the handler itself (the
// page, its script and style, which are embedded in the program), under a
// Content-Security-Policy that lets the page load nothing from elsewhere,
// run no inline script and write no HTML from data; names are escaped
// wherever they appear.
type Dashboard struct {
	reg         *Registry
	set         dashboardSettings
	instance    string
	now         func() time.Time
	unsubscribe func()

	// dirty is set by every transition, so that the next poll reads the
	// breakers again however fresh the last reading: a change of state
	// shows at the next poll.
	dirty atomic.Bool

	// mu serialises readings of the registry, which every poll shares,
	// and guards the fields below.
	mu       sync.Mutex
	readAt   time.Time // zero: never read
	current  []reading // sorted unhealthy first, then by name
	health   Health
	pointAt  time.Time // when the newest history point was taken
	history  map[string]*series
	scratch  map[string]bool
	pointGap time.Duration

	// evMu guards the transitions. It is not mu: a reading under mu can
	// make a transition (an elapsed open timeout), whose listener must
	// not wait for mu.
	evMu   sync.Mutex
	evID   uint64
	events map[string]*eventRing
}

// DashboardOption configures a Dashboard made by Registry.Dashboard. A nil
// DashboardOption is skipped; of two setting the same thing, the later
// wins.
type DashboardOption func(*dashboardSettings) error

type dashboardSettings struct {
	refresh time.Duration
	history time.Duration
	title   string
}

// The defaults and bounds of the dashboard's options.
const (
	DefaultDashboardRefresh = time.Second
	DefaultDashboardHistory = 3 * time.Minute
	DefaultDashboardTitle   = "Circuit breakers"

	// MinDashboardRefresh bounds how often every open page makes the
	// server read all the breakers.
	MinDashboardRefresh = 100 * time.Millisecond
	// MaxDashboardHistoryPoints bounds the memory a dashboard keeps per
	// breaker: the history divided by the refresh may not exceed it.
	MaxDashboardHistoryPoints = 3600
)

// WithDashboardRefresh sets how often the page asks for fresh figures
// (default 1s, at least MinDashboardRefresh). It is also the spacing of
// the sparklines' points and the period of the per-second rates.
func WithDashboardRefresh(d time.Duration) DashboardOption {
	return func(s *dashboardSettings) error {
		if d < MinDashboardRefresh {
			return fmt.Errorf("%w: WithDashboardRefresh(%v): the refresh must be at least %v", ErrInvalidOption, d, MinDashboardRefresh)
		}
		s.refresh = d
		return nil
	}
}

// WithDashboardHistory sets how far back the sparklines go (default 3m).
// The dashboard keeps, per breaker, a point per refresh over that span,
// at most MaxDashboardHistoryPoints.
func WithDashboardHistory(d time.Duration) DashboardOption {
	return func(s *dashboardSettings) error {
		if d <= 0 {
			return fmt.Errorf("%w: WithDashboardHistory(%v): the history must be positive", ErrInvalidOption, d)
		}
		s.history = d
		return nil
	}
}

// WithDashboardTitle sets the page's title and heading (default
// DefaultDashboardTitle), for telling the dashboards of several services
// apart. It is shown as text, whatever it holds.
func WithDashboardTitle(title string) DashboardOption {
	return func(s *dashboardSettings) error {
		s.title = title
		return nil
	}
}

// Dashboard returns a live dashboard of the registry's breakers (see
// Dashboard for what the page shows and how it is kept safe). Mount it on
// any path, such as a subtree for operators:
//
//	http.Handle("/debug/breakers/ui/", reg.Dashboard())
//
// The page loads its script, style and data from its own URL with a query
// (?part=script, ?part=style, ?part=data), so it works under an exact or a
// subtree pattern and behind http.StripPrefix alike.
//
// The dashboard records the registry's transitions from the moment it is
// made, so make it at start-up, once, not per request; its sparklines
// cover the time the page has been open, in any browser, within the
// history span. Close stops the recording. Dashboard panics, with an error
// matching ErrInvalidOption, if an option is invalid.
func (r *Registry) Dashboard(opts ...DashboardOption) *Dashboard {
	d, err := newDashboard(r, time.Now, opts)
	if err != nil {
		panic(err)
	}
	return d
}

func newDashboard(r *Registry, now func() time.Time, opts []DashboardOption) (*Dashboard, error) {
	s := dashboardSettings{refresh: DefaultDashboardRefresh, history: DefaultDashboardHistory, title: DefaultDashboardTitle}
	var errs []error
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&s); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 && s.history/s.refresh > MaxDashboardHistoryPoints {
		errs = append(errs, fmt.Errorf("%w: a history of %v at a refresh of %v needs more than %d points per breaker",
			ErrInvalidOption, s.history, s.refresh, MaxDashboardHistoryPoints))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	d := &Dashboard{
		reg:      r,
		set:      s,
		instance: strconv.FormatInt(now().UnixNano(), 36),
		now:      now,
		history:  make(map[string]*series),
		scratch:  make(map[string]bool),
		events:   make(map[string]*eventRing),
		// A poll a little early (timers are not exact) still takes a
		// point, and several pages polling out of step take points no
		// closer than this.
		pointGap: s.refresh * 3 / 4,
	}
	d.unsubscribe = r.Subscribe(d.record)
	return d, nil
}

// Close stops the dashboard recording transitions, and lets the registry
// forget it. The handler still serves the breakers' figures.
func (d *Dashboard) Close() { d.unsubscribe() }

//go:embed assets/dashboard.html assets/dashboard.js assets/dashboard.css assets/icon.svg
var dashboardAssets embed.FS

var (
	dashboardPage   = template.Must(template.ParseFS(dashboardAssets, "assets/dashboard.html"))
	dashboardScript = mustAsset("assets/dashboard.js")
	dashboardStyle  = mustAsset("assets/dashboard.css")
	dashboardIcon   = mustAsset("assets/icon.svg")
)

func mustAsset(name string) []byte {
	b, err := dashboardAssets.ReadFile(name)
	if err != nil {
		panic(err) // the files are embedded at build time: unreachable
	}
	return b
}

// dashboardCSP lets the page use its own script, style, icon and data
// and nothing else: no inline script or style, no other origin, no
// framing. Trusted Types make any assignment of a string to innerHTML (or
// another HTML sink) throw, so a slip in the script cannot turn a name
// into markup.
const dashboardCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'; " +
	"require-trusted-types-for 'script'; trusted-types 'none'"

// ServeHTTP serves the page, or the part of it the query names
// (?part=data, script, style or icon), to GET and HEAD, and 405 Method
// Not Allowed, with an Allow header, to other methods.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", dashboardCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		h.Set("Allow", allowedMethods)
		http.Error(w, "method not allowed: use "+allowedMethods, http.StatusMethodNotAllowed)
		return
	}
	q := req.URL.Query()
	switch q.Get("part") {
	case "":
		var buf bytes.Buffer
		if err := dashboardPage.Execute(&buf, d.pageData()); err != nil {
			http.Error(w, "tripswitch: registry: dashboard: "+err.Error(), http.StatusInternalServerError)
			return
		}
		send(w, req, "text/html; charset=utf-8", "no-store", buf.Bytes())
	case "data":
		body, err := d.data(q.Get("instance"), q.Get("since"), q.Get("event"))
		if err != nil {
			http.Error(w, "tripswitch: registry: dashboard: "+err.Error(), http.StatusInternalServerError)
			return
		}
		send(w, req, "application/json", "no-store", body)
	case "script":
		send(w, req, "text/javascript; charset=utf-8", "no-cache", dashboardScript)
	case "style":
		send(w, req, "text/css; charset=utf-8", "no-cache", dashboardStyle)
	case "icon":
		send(w, req, "image/svg+xml", "no-cache", dashboardIcon)
	default:
		http.Error(w, "no such part of the dashboard", http.StatusNotFound)
	}
}

// send writes body, or for HEAD only the headers, which say how long the
// GET body would be.
func send(w http.ResponseWriter, req *http.Request, contentType, cache string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", cache)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if req.Method == http.MethodHead {
		return
	}
	// An error here means the client has gone; there is no one to tell.
	_, _ = w.Write(body) //nolint:gosec // G705: html/template output, JSON or an embedded asset, under nosniff and a CSP without inline script
}

// pageRow is one breaker in the page as the server renders it, before the
// script takes over.
type pageRow struct {
	Name, State, Forced, FailureRate, SlowCallRate, InState, RetryAfter string
}

type pageData struct {
	Title                string
	RefreshMS, HistoryMS int64
	Health               Health
	Taken                string
	Rows                 []pageRow
}

func (d *Dashboard) pageData() pageData {
	d.mu.Lock()
	now := d.now()
	d.read(now)
	p := pageData{
		Title:     d.set.title,
		RefreshMS: d.set.refresh.Milliseconds(),
		HistoryMS: d.set.history.Milliseconds(),
		Health:    d.health,
		Taken:     now.Format(time.TimeOnly),
		Rows:      make([]pageRow, len(d.current)),
	}
	for i := range d.current {
		m := &d.current[i].m
		row := pageRow{
			Name:         m.Name,
			State:        m.State.String(),
			FailureRate:  percent(m.FailureRate),
			SlowCallRate: percent(m.SlowCallRate),
			InState:      m.StateSince.Round(time.Second).String(),
		}
		if m.Forced {
			row.Forced = "forced"
		}
		if m.State == cb.Open && !m.Forced {
			row.RetryAfter = m.RetryAfter.Round(100 * time.Millisecond).String()
		}
		p.Rows[i] = row
	}
	d.mu.Unlock()
	return p
}

func percent(f float64) string { return strconv.FormatFloat(f*100, 'f', 1, 64) + "%" }
