// Package registry keeps a process's circuit breakers by name, whatever
// their result types, so that code far from where a breaker was made can
// share it, and operators can see all of them at once.
//
//	users, err := registry.Get[*User](registry.Default(), "users-db", presets.Database())
//	http.Handle("/debug/breakers", registry.Default().Handler())
//
// # Model
//
// A Registry maps a name to one *cb.Breaker[T]. Get returns the breaker of
// a name, making it on first use; Wrap does the same for a function and
// returns it guarded by that breaker (the decorator). The rest of the
// methods see each breaker as a cb.Circuit, the part of a breaker that does
// not depend on T: Lookup, Names, Remove, ResetAll, Reconfigure,
// AllMetrics, OpenCircuits and Health, and, for monitoring, Report,
// Handler (JSON over HTTP), Dashboard (a live web page) and Var (the same
// JSON through expvar).
//
// The zero Registry is empty, unbounded and ready to use; New with no
// options is the same thing as a pointer. A Registry must not be copied
// after first use. Default is the process-wide one, for code that has no
// better place to keep a registry; libraries should take a *Registry from
// their caller instead, so that tests and separate subsystems do not share
// names.
//
// # Bounded registries
//
// A registry whose names come from outside (hosts, tenants, routes taken
// from requests) would otherwise grow with every new name a client can
// make up, by a few KiB per breaker. New (or NewChecked, for bounds read
// from configuration) takes options that bound it:
//
//	reg := registry.New(registry.WithMaxBreakers(4096), registry.WithIdleTimeout(10*time.Minute))
//
// WithMaxBreakers caps the number of breakers. WithIdleTimeout lets a full
// registry evict a breaker that has been idle for at least that long and
// is healthy; without it the cap is hard, and only Remove makes room.
// WithClock sets the clock that times idleness (the real monotonic clock
// by default; tests pass a cbtest.Clock).
//
//   - Healthy means closed (not open, half-open or forced open), with no
//     failure and no slow call in its current window and no failure
//     streak under way. Evicting anything else would let whoever can mint
//     names wipe a failing dependency's history and send it traffic a
//     fresh breaker would let through; such breakers stay until they
//     recover or are Removed.
//   - Idle means that since the registry last saw the breaker in use, no
//     Get or Wrap has returned it and none of its lifetime totals
//     (TotalCalls, TotalRejected, TotalIgnored, TotalStale) has moved: a
//     call through a breaker held outside the registry counts as use. The
//     registry looks at breakers only when it sweeps, so the idle time of
//     a breaker starts when it was made or at the sweep that last saw it
//     in use, whichever is later. Lookup, Remove and the reports are not
//     use.
//   - Sweeps run only when a Get or Wrap of a new name finds the registry
//     full, and at most once every IdleTimeout/16 of its clock: a sweep
//     reads every breaker, and the rate limit shares that cost among all
//     the Gets of the interval, which fail at once. A sweep evicts every
//     breaker that is idle and healthy, not just one, so that the next new
//     names find room without sweeping.
//   - When the sweep frees nothing (or is not due), Get fails with an
//     error matching ErrFull and makes nothing: the registry never grows
//     past its bound. Health counts the breakers Evicted and the Gets
//     Refused over the registry's life; a growing Refused says the bound
//     is too small or the registry is full of failing breakers.
//   - Eviction is Remove: a breaker held outside the registry (Wrap's
//     function holds one) keeps working but leaves the reports, and the
//     next Get of its name makes a fresh one. So a bounded registry suits
//     code that gets its breaker by name for each use, as cbhttp.Transport
//     does; a breaker held for long and left unused past IdleTimeout is
//     better kept in an unbounded registry. A Get racing the sweep that
//     evicts its name may receive the evicted breaker.
//
// # Dashboard
//
// Registry.Dashboard returns a Dashboard, an http.Handler serving a live
// page of every breaker, for operators:
//
//	http.Handle("/debug/breakers/ui/", reg.Dashboard())
//
// What it shows and how:
//
//   - What it shows: per breaker, the state (in words, with an icon whose
//     shape and colour differ by state), the window's failure and
//     slow-call rates against the thresholds, calls and rejections per
//     second, time in the state and until a probe, the forced flag, the
//     last transitions with their reasons, and a sparkline of the last
//     minutes; the unhealthy first, with a filter by name.
//   - Thresholds: cb does not report a breaker's policy, so the dashboard
//     applies cb's documented defaults to the Config the registry made the
//     breaker with (a test holds the two together).
//   - Polling, not a stream: the page asks for ?part=data every refresh.
//     A poll is an ordinary short request, so no goroutine waits per open
//     page, server write timeouts and proxies need no care, and a page
//     holds none of the browser's few connections per host. Polls within
//     half a refresh share one reading of the breakers whatever the number
//     of pages, and a transition makes the next poll read again, so a trip
//     shows within a refresh. A poll returns only the history points and
//     transitions the page does not have yet.
//   - History: the dashboard keeps no goroutine either, so it samples the
//     sparklines when a page polls: they cover the time someone has had it
//     open, within WithDashboardHistory. Transitions are recorded from the
//     dashboard's making, the last few per breaker; both are forgotten with
//     the breaker when it leaves the registry.
//   - Safety: read-only (GET and HEAD; 405 with Allow otherwise; no action
//     on the breakers). The page, its script, style and icon are embedded
//     in the program and served by the handler itself, under a
//     Content-Security-Policy that allows nothing else: no other origin,
//     no inline script or style, no framing, and Trusted Types, so that
//     the script cannot write HTML from data even by mistake. Names and
//     the title are escaped by html/template in the page and set as text
//     by the script. It works offline.
//   - Mounting: the page asks for its parts by query on its own URL
//     (?part=script, style, icon, data), so it works on an exact or a
//     subtree pattern and behind http.StripPrefix alike.
//
// # Decisions
//
//   - One name, one result type. A Get or Wrap of an existing name with
//     another T fails with an error matching ErrTypeMismatch that names the
//     name and both types, rather than handing out a second breaker that
//     operators could not tell apart from the first.
//   - A later Get never silently changes a breaker's policy; Reconfigure
//     changes it on purpose. A zero cb.Config means "the breaker of this
//     name, whatever its config", so code that only uses a breaker made
//     elsewhere can pass cb.Config{}. In any other Config the value fields
//     (durations, counts, rates and Shadow: Window, Buckets, WindowCalls,
//     MinimumCalls, FailureRateThreshold, ConsecutiveFailures,
//     SlowCallDuration, SlowCallRateThreshold, OpenTimeout,
//     MaxOpenTimeout, SuccessThreshold, HalfOpenMaxCalls, HalfOpenTimeout,
//     Shadow) must equal those of the breaker's config in force (the one
//     it was made with, or given by the last Reconfigure), or Get fails
//     with an error matching ErrConfigConflict that names the differing
//     fields. They are compared as written, before defaults apply: a
//     field left zero differs from one set to its default value. So after
//     a Reconfigure, a Get with the old values conflicts: code that passes
//     its own Config on every Get (cbhttp.Transport does) must be given
//     the new one too, or pass a zero Config.
//   - IsFailure, IsIgnored, TripRule, OnStateChange and Clock are not
//     compared: the breaker keeps those it was made with (until a
//     Reconfigure), and a later Get's are unused.
//     Go cannot compare funcs, nor every Clock (== panics on a struct
//     holding a func), and what it can tell of a func, its code address,
//     changes with what the compiler inlines: a conflict must not depend
//     on the build, and a caller that passes one Config on every Get (as
//     cbhttp.Transport does) must never conflict with itself. Options
//     (such as cb.WithClassifier) likewise apply only when the breaker is
//     made.
//   - Names are non-empty valid UTF-8; Get of any other fails with an
//     error matching ErrInvalidName. The reports key breakers by name in
//     JSON, which turns every invalid byte into U+FFFD: two such names
//     would show as one key. Refusing them keeps one key per breaker, and
//     every valid name reads back from the JSON as itself. Wrap of ""
//     takes fn's own name, as runtime.FuncForPC spells it (package path
//     and function, "pkg.(*Client).Fetch" for a method value, whatever its
//     receiver: the method values of two clients share one breaker unless
//     named apart). Function literals get compiler-made names such as
//     "pkg.main.func1": name those explicitly.
//   - Remove takes a breaker out of the registry, not out of service: whoever
//     holds it keeps using it, and its figures leave every report. A later
//     Get of the name makes a fresh breaker with fresh figures.
//   - OpenCircuits and Health.Open count Open only. A half-open breaker is
//     already letting probes through to find out whether its dependency is
//     back, so it is reported apart (Health.HalfOpen) and counts as healthy
//     in HealthyPercent. An open breaker whose open timeout has elapsed
//     reads half-open: reading a breaker's state performs that transition
//     (see package cb), so these reports, and sweeps, may call
//     OnStateChange listeners.
//   - Nothing is published on import. expvar.Publish panics on a reused
//     name, so Var returns an expvar.Var for the program to publish once,
//     under a name of its choosing.
//
// # Concurrency
//
// Every method and function is safe for concurrent use. Breakers are kept
// in a sync.Map: Get, Wrap and Lookup of an existing name take no lock at
// all (in a registry that evicts, Get also marks the name used, a store
// made only when the mark was clear). Making a breaker takes the registry's
// mutex, so when many goroutines Get a new name at once exactly one
// breaker is made and all of them receive it; Remove needs no lock. A
// sweep runs under a lock of its own, not that mutex, so that listeners it
// runs may Get; a Get that finds another goroutine sweeping does not wait
// for it. The reports (Names, AllMetrics, Health, Report...) walk the map
// without stopping it: a breaker added or removed meanwhile may or may not
// be included, and each breaker's figures are read at a slightly different
// moment. Report reads every breaker once, so its health summary always
// agrees with its circuits.
package registry
