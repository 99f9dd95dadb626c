package registry

import (
	"cmp"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/tripswitch/tripswitch/cb"
)

// reading is one breaker as the dashboard last read it.
type reading struct {
	m       cb.Metrics
	th      thresholds
	circuit cb.Circuit
	rank    int
}

// The ranks by which the page sorts, unhealthy first.
const (
	rankOpen = iota
	rankHalfOpen
	rankTroubled // closed, with failures or slow calls in its window, or a failure streak
	rankHealthy
)

func rankOf(m *cb.Metrics) int {
	switch {
	case m.State == cb.Open:
		return rankOpen
	case m.State == cb.HalfOpen:
		return rankHalfOpen
	case m.Failures > 0 || m.SlowCalls > 0 || m.ConsecutiveFailures > 0:
		return rankTroubled
	}
	return rankHealthy
}

// thresholds are the trip points of a breaker's policy, as cb applies
// them to the Config the registry made it with. cb does not report its
// resolved policy, so they mirror its documented defaults (a test checks
// them against the breaker's behaviour). A nil rate is one that never
// trips; a zero ConsecutiveFailures, a streak that never does.
type thresholds struct {
	FailureRate         *float64 `json:"failure_rate"`
	SlowCallRate        *float64 `json:"slow_call_rate"`
	MinimumCalls        int      `json:"minimum_calls"`
	ConsecutiveFailures int      `json:"consecutive_failures"`
}

func thresholdsOf(c *cb.Config) thresholds {
	var t thresholds
	if c.FailureRateThreshold != cb.Off {
		t.FailureRate = ptr(orDefault(c.FailureRateThreshold, cb.DefaultFailureRateThreshold))
	}
	if c.SlowCallDuration != cb.Off && c.SlowCallRateThreshold != cb.Off {
		t.SlowCallRate = ptr(orDefault(c.SlowCallRateThreshold, cb.DefaultSlowCallRateThreshold))
	}
	t.MinimumCalls = orDefault(c.MinimumCalls, cb.DefaultMinimumCalls)
	if c.WindowCalls > 0 && c.MinimumCalls == 0 {
		t.MinimumCalls = min(t.MinimumCalls, c.WindowCalls)
	}
	if c.ConsecutiveFailures != cb.Off {
		t.ConsecutiveFailures = orDefault(c.ConsecutiveFailures, cb.DefaultConsecutiveFailures)
	}
	return t
}

func ptr[V any](v V) *V { return &v }

func orDefault[N int | float64](v, def N) N {
	if v == 0 {
		return def
	}
	return v
}

// read reads every breaker, under mu, unless the last reading is younger
// than half a refresh and no transition has happened since: every page
// polling within that time shares one reading, so the cost of a poll does
// not grow with the number of pages open. A reading at least pointGap
// after the last point adds a point to every breaker's history.
func (d *Dashboard) read(now time.Time) {
	dirty := d.dirty.Swap(false)
	if !dirty && !d.readAt.IsZero() && now.Sub(d.readAt) < d.set.refresh/2 {
		return
	}
	d.evMu.Lock()
	evBefore := d.evID
	d.evMu.Unlock()

	cur := make([]reading, 0, len(d.current))
	var h Health
	d.reg.entries.Range(func(_, v any) bool {
		e := asEntry(v)
		m := e.circuit.Metrics()
		cfg := e.circuit.Config() // the config in force: Reconfigure may have changed it
		cur = append(cur, reading{m: m, th: thresholdsOf(&cfg), circuit: e.circuit, rank: rankOf(&m)})
		h.add(m.State)
		return true
	})
	d.reg.finish(&h)
	slices.SortFunc(cur, func(a, b reading) int {
		return cmp.Or(cmp.Compare(a.rank, b.rank), cmp.Compare(a.m.Name, b.m.Name))
	})
	d.current, d.health, d.readAt = cur, h, now

	clear(d.scratch)
	for i := range cur {
		d.scratch[cur[i].m.Name] = true
	}
	if d.pointAt.IsZero() || now.Sub(d.pointAt) >= d.pointGap {
		d.pointAt = now
		maxGap := max(3*d.set.refresh, 5*time.Second)
		capacity := int(d.set.history/d.pointGap) + 2
		for i := range cur {
			s := d.history[cur[i].m.Name]
			if s == nil {
				s = &series{}
				d.history[cur[i].m.Name] = s
			}
			s.add(now, &cur[i], maxGap, capacity)
		}
		for name := range d.history {
			if !d.scratch[name] {
				delete(d.history, name)
			}
		}
	}
	// Forget the transitions of breakers gone from the registry, but not
	// those told while this reading ran: they may be of breakers made
	// meanwhile.
	d.evMu.Lock()
	for name, ring := range d.events {
		if !d.scratch[name] && ring.newest() <= evBefore {
			delete(d.events, name)
		}
	}
	d.evMu.Unlock()
}

// series is a breaker's history: a ring of points, and the totals at the
// newest, from which the next point's rates are computed.
type series struct {
	points  []point
	next    int // where the next point goes once the ring is full
	circuit cb.Circuit
	ran     uint64
	rej     uint64
	at      time.Time
}

// point is one moment of a breaker's history. Rates are NaN when unknown:
// at a breaker's first point, after a gap in the polling, or when the name
// now holds another breaker.
type point struct {
	at          int64 // Unix milliseconds
	calls       float32
	rejected    float32
	failureRate float32
	state       cb.State
}

func (s *series) add(now time.Time, r *reading, maxGap time.Duration, capacity int) {
	m := &r.m
	ran := m.TotalCalls + m.TotalIgnored + m.TotalStale
	p := point{
		at:          now.UnixMilli(),
		calls:       float32(math.NaN()),
		rejected:    float32(math.NaN()),
		failureRate: float32(m.FailureRate),
		state:       m.State,
	}
	if dt := now.Sub(s.at); s.circuit == r.circuit && dt > 0 && dt <= maxGap && ran >= s.ran && m.TotalRejected >= s.rej {
		p.calls = float32(float64(ran-s.ran) / dt.Seconds())
		p.rejected = float32(float64(m.TotalRejected-s.rej) / dt.Seconds())
	}
	s.circuit, s.ran, s.rej, s.at = r.circuit, ran, m.TotalRejected, now
	if len(s.points) < capacity {
		s.points = append(s.points, p)
		return
	}
	s.points[s.next] = p
	s.next = (s.next + 1) % len(s.points)
}

// since returns the points newer than after and no older than from, in
// order.
func (s *series) since(after, from int64) []point {
	var out []point
	for i := range s.points {
		p := s.points[(s.next+i)%len(s.points)]
		if p.at > after && p.at >= from {
			out = append(out, p)
		}
	}
	return out
}

// newest returns the newest point, and false if there is none.
func (s *series) newest() (point, bool) {
	if len(s.points) == 0 {
		return point{}, false
	}
	return s.points[(s.next+len(s.points)-1)%len(s.points)], true
}

// MarshalJSON encodes the point as [at, calls/s, rejected/s, failure
// rate, state], with null for an unknown rate: compact, for the first
// poll of a page carries every breaker's history.
func (p point) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 48)
	b = append(b, '[')
	b = strconv.AppendInt(b, p.at, 10)
	for _, f := range []float32{p.calls, p.rejected, p.failureRate} {
		b = append(b, ',')
		b = appendRate(b, f)
	}
	b = append(b, ',')
	b = strconv.AppendUint(b, uint64(p.state), 10)
	return append(b, ']'), nil
}

func appendRate(b []byte, f float32) []byte {
	if math.IsNaN(float64(f)) {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, float64(f), 'g', 4, 32)
}

// eventsPerBreaker is how many recent transitions the dashboard keeps for
// each breaker: enough to show a flapping breaker's pattern, bounded so
// that one cannot push the others' out.
const eventsPerBreaker = 8

type event struct {
	id uint64
	at int64 // Unix milliseconds
	tr cb.Transition
}

type eventRing struct {
	evs [eventsPerBreaker]event
	n   uint64 // how many were ever added
}

func (e *eventRing) add(ev event) {
	e.evs[e.n%eventsPerBreaker] = ev
	e.n++
}

func (e *eventRing) newest() uint64 {
	if e.n == 0 {
		return 0
	}
	return e.evs[(e.n-1)%eventsPerBreaker].id
}

// after returns the transitions with an id above id, oldest first.
func (e *eventRing) after(id uint64) []eventJSON {
	var out []eventJSON
	for i := e.n - min(e.n, eventsPerBreaker); i < e.n; i++ {
		ev := &e.evs[i%eventsPerBreaker]
		if ev.id > id {
			out = append(out, eventJSON{
				ID: ev.id, At: ev.at, From: ev.tr.From, To: ev.tr.To,
				Reason: ev.tr.Reason.String(), Generation: ev.tr.Generation,
			})
		}
	}
	return out
}

// record is the dashboard's listener on the registry. It runs in the
// goroutine that made the transition, so it only stores the event.
func (d *Dashboard) record(tr cb.Transition) {
	at := d.now().UnixMilli()
	d.evMu.Lock()
	d.evID++
	ring := d.events[tr.Name]
	if ring == nil {
		ring = &eventRing{}
		d.events[tr.Name] = ring
		// Names leave the map at the next reading once gone from the
		// registry; a dashboard nobody looks at must not keep every name
		// that ever had a transition.
		if len(d.events) > max(2*int(d.reg.count.Load()), 64) {
			for name := range d.events {
				if _, ok := d.reg.entries.Load(name); !ok && name != tr.Name {
					delete(d.events, name)
				}
			}
		}
	}
	ring.add(event{id: d.evID, at: at, tr: tr})
	d.evMu.Unlock()
	d.dirty.Store(true)
}

// dashData is the answer to ?part=data. A page passes back instance,
// since and event, and receives the history points and transitions it
// does not have yet; Reset tells it to drop what it has (its first poll,
// or the server's dashboard is another one).
type dashData struct {
	Instance  string        `json:"instance"`
	Reset     bool          `json:"reset"`
	Now       int64         `json:"now"`
	RefreshMS int64         `json:"refresh_ms"`
	HistoryMS int64         `json:"history_ms"`
	Since     int64         `json:"since"`
	Event     uint64        `json:"event"`
	Health    Health        `json:"health"`
	Breakers  []dashBreaker `json:"breakers"`
}

type dashBreaker struct {
	Name                 string      `json:"name"`
	State                cb.State    `json:"state"`
	Forced               bool        `json:"forced"`
	Rank                 int         `json:"rank"`
	Calls                uint64      `json:"calls"`
	Failures             uint64      `json:"failures"`
	SlowCalls            uint64      `json:"slow_calls"`
	FailureRate          float64     `json:"failure_rate"`
	SlowCallRate         float64     `json:"slow_call_rate"`
	ConsecutiveFailures  uint64      `json:"consecutive_failures"`
	CallsPerSecond       *float64    `json:"calls_per_second"`
	RejectedPerSecond    *float64    `json:"rejected_per_second"`
	StateSinceSeconds    float64     `json:"state_since_seconds"`
	RetryAfterSeconds    float64     `json:"retry_after_seconds"`
	HalfOpenInFlight     int         `json:"half_open_in_flight"`
	Trips                uint64      `json:"trips"`
	TotalCalls           uint64      `json:"total_calls"`
	TotalRejected        uint64      `json:"total_rejected"`
	Thresholds           thresholds  `json:"thresholds"`
	History              []point     `json:"history,omitempty"`
	Transitions          []eventJSON `json:"transitions,omitempty"`
	ConsecutiveSuccesses uint64      `json:"consecutive_successes"`
}

type eventJSON struct {
	ID         uint64   `json:"id"`
	At         int64    `json:"at"`
	From       cb.State `json:"from"`
	To         cb.State `json:"to"`
	Reason     string   `json:"reason"`
	Generation uint64   `json:"generation"`
}

// data answers a poll: the current reading, with the history and
// transitions newer than what the page has.
func (d *Dashboard) data(instance, sinceParam, eventParam string) ([]byte, error) {
	d.mu.Lock()
	now := d.now() // under mu, so that readings and points go forward in time
	since, _ := strconv.ParseInt(sinceParam, 10, 64)
	evSince, _ := strconv.ParseUint(eventParam, 10, 64)
	reset := instance != d.instance
	if reset {
		since, evSince = 0, 0
	}
	out := dashData{
		Instance:  d.instance,
		Reset:     reset,
		Now:       now.UnixMilli(),
		RefreshMS: d.set.refresh.Milliseconds(),
		HistoryMS: d.set.history.Milliseconds(),
		Since:     since,
		Event:     evSince,
	}
	from := now.Add(-d.set.history).UnixMilli()

	d.read(now)
	out.Health = d.health
	out.Breakers = make([]dashBreaker, len(d.current))
	for i := range d.current {
		r := &d.current[i]
		m := &r.m
		b := dashBreaker{
			Name: m.Name, State: m.State, Forced: m.Forced, Rank: r.rank,
			Calls: m.Calls, Failures: m.Failures, SlowCalls: m.SlowCalls,
			FailureRate: m.FailureRate, SlowCallRate: m.SlowCallRate,
			ConsecutiveFailures: m.ConsecutiveFailures, ConsecutiveSuccesses: m.ConsecutiveSuccesses,
			StateSinceSeconds: m.StateSince.Seconds(), RetryAfterSeconds: m.RetryAfter.Seconds(),
			HalfOpenInFlight: m.HalfOpenInFlight, Trips: m.Transitions.To(cb.Open),
			TotalCalls: m.TotalCalls, TotalRejected: m.TotalRejected,
			Thresholds: r.th,
		}
		if s := d.history[m.Name]; s != nil {
			b.History = s.since(since, from)
			if p, ok := s.newest(); ok && p.at == d.pointAt.UnixMilli() {
				b.CallsPerSecond, b.RejectedPerSecond = known(p.calls), known(p.rejected)
			}
		}
		out.Breakers[i] = b
	}
	if !d.pointAt.IsZero() {
		out.Since = d.pointAt.UnixMilli()
	}

	d.evMu.Lock()
	out.Event = d.evID
	for i := range out.Breakers {
		if ring := d.events[out.Breakers[i].Name]; ring != nil {
			out.Breakers[i].Transitions = ring.after(evSince)
		}
	}
	// A breaker made after the reading has transitions but no row yet:
	// the page must not move its cursor past them, or it would never
	// receive them. It receives the others again, and skips those it has.
	for name, ring := range d.events {
		if !d.scratch[name] {
			for _, ev := range ring.after(evSince) {
				out.Event = min(out.Event, ev.ID-1)
			}
		}
	}
	d.evMu.Unlock()
	d.mu.Unlock()
	return json.Marshal(out)
}

func known(f float32) *float64 {
	if math.IsNaN(float64(f)) {
		return nil
	}
	v := float64(f)
	return &v
}
