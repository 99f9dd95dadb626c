package registry

import (
	"encoding/json"
	"expvar"
	"net/http"
	"strconv"

	"github.com/tripswitch/tripswitch/cb"
)

// Report is everything a registry shows operators: the health summary and
// every breaker's metrics by name. Handler and Var serve it as JSON,
// {"health": {...}, "circuits": {"name": {...}}}, with snake_case keys.
type Report struct {
	Health   Health                `json:"health"`
	Circuits map[string]cb.Metrics `json:"circuits"`
}

// Report reads every registered breaker once and summarises the same
// readings, so its Health always agrees with its Circuits (two separate
// calls to Health and AllMetrics may not, when a breaker changes state in
// between).
func (r *Registry) Report() Report {
	rep := Report{Circuits: make(map[string]cb.Metrics)}
	r.each(func(name string, c cb.Circuit) {
		m := c.Metrics()
		rep.Circuits[name] = m
		rep.Health.add(m.State)
	})
	r.finish(&rep.Health)
	return rep
}

// Handler returns an http.Handler serving the Report as JSON to GET and
// HEAD requests (HEAD gets the headers alone) and 405 Method Not Allowed,
// with an Allow header, to any other method. It reads the breakers anew on
// every request and is not cached by clients. Mount it where only
// operators can reach it: breaker names and figures describe the
// service's dependencies.
func (r *Registry) Handler() http.Handler {
	return http.HandlerFunc(r.serveHTTP)
}

const allowedMethods = "GET, HEAD"

func (r *Registry) serveHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		w.Header().Set("Allow", allowedMethods)
		http.Error(w, "method not allowed: use "+allowedMethods, http.StatusMethodNotAllowed)
		return
	}
	body, err := json.Marshal(r.Report())
	if err != nil {
		// Unreachable with cb's types (a State marshals unless it is out
		// of range); answered rather than panicking all the same.
		http.Error(w, "tripswitch: registry: "+err.Error(), http.StatusInternalServerError)
		return
	}
	body = append(body, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	// HEAD says how long the GET body would be.
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if req.Method == http.MethodHead {
		return
	}
	// An error here means the client has gone; there is no one to tell.
	_, _ = w.Write(body)
}

// Var returns an expvar.Var whose String is the Report as JSON, read anew
// each time expvar asks. Nothing is published until the program does so:
//
//	expvar.Publish("breakers", registry.Default().Var())
//
// expvar.Publish panics when a name is published twice, so publish once,
// from main or an init function, not from code that may run again.
func (r *Registry) Var() expvar.Var {
	return expvar.Func(func() any { return r.Report() })
}
