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
// not depend on T: Lookup, Names, Remove, ResetAll, AllMetrics,
// OpenCircuits and Health, and, for monitoring, Report, Handler (JSON over
// HTTP) and Var (the same JSON through expvar).
//
// The zero Registry is empty and ready to use; New is the same thing as a
// pointer. A Registry must not be copied after first use. Default is the
// process-wide one, for code that has no better place to keep a registry;
// libraries should take a *Registry from their caller instead, so that
// tests and separate subsystems do not share names.
//
// # Decisions where the design leaves room
//
//   - One name, one result type. A Get or Wrap of an existing name with
//     another T fails with an error matching ErrTypeMismatch that names the
//     name and both types, rather than handing out a second breaker that
//     operators could not tell apart from the first.
//   - A later Get never silently drops its Config. A zero cb.Config means
//     "the breaker of this name, whatever its config", so code that only
//     uses a breaker made elsewhere can pass cb.Config{}. Any other Config
//     must equal the one the breaker was made with, or Get fails with an
//     error matching ErrConfigConflict that names the differing fields.
//     Configs are compared field by field as written, before defaults
//     apply: a field left zero differs from one set to its default value.
//     Function fields compare by code identity, as reflect's Pointer gives
//     it: Go cannot compare what closures capture, so closures made by one
//     function literal, such as those a Get in a handler makes anew on each
//     request, are equal. (Where the compiler has inlined the function
//     holding the literal, each inlined copy has its own code: from a second
//     call site, pass the same function value or a zero Config.) Clock
//     compares with ==, by identity when its dynamic type is a func, map or
//     slice, and as different when == cannot compare it. Options (such as
//     cb.WithClassifier) apply only when the breaker is made and are not
//     compared: each call makes them anew.
//   - Names are non-empty; Get of "" fails, and Wrap of "" takes fn's own
//     name, as runtime.FuncForPC spells it (package path and function,
//     "pkg.(*Client).Fetch" for a method value, whatever its receiver: the
//     method values of two clients share one breaker unless named apart).
//     Function literals get compiler-made names such as "pkg.main.func1":
//     name those explicitly.
//   - Remove takes a breaker out of the registry, not out of service: whoever
//     holds it keeps using it, and its figures leave every report. A later
//     Get of the name makes a fresh breaker with fresh figures.
//   - OpenCircuits and Health.Open count Open only. A half-open breaker is
//     already letting probes through to find out whether its dependency is
//     back, so it is reported apart (Health.HalfOpen) and counts as healthy
//     in HealthyPercent. An open breaker whose open timeout has elapsed
//     reads half-open: reading a breaker's state performs that transition
//     (see package cb), so these reports may call OnStateChange listeners.
//   - Nothing is published on import. expvar.Publish panics on a reused
//     name, so Var returns an expvar.Var for the program to publish once,
//     under a name of its choosing.
//
// # Concurrency
//
// Every method and function is safe for concurrent use. Breakers are kept
// in a sync.Map: Get, Wrap and Lookup of an existing name take no lock at
// all. Making a breaker takes the registry's mutex, so when many goroutines
// Get a new name at once exactly one breaker is made and all of them
// receive it; Remove needs no lock. The reports (Names, AllMetrics, Health,
// Report...) walk the map without stopping it: a breaker added or removed
// meanwhile may or may not be included, and each breaker's figures are read
// at a slightly different moment. Report reads every breaker once, so its
// health summary always agrees with its circuits.
package registry
