// Command dashboard serves the registry dashboard of a few simulated
// dependencies, so that you can watch breakers trip, probe and recover in
// a browser.
//
// Each dependency is a function that fails or answers slowly on a
// schedule of its own, called by a few goroutines through a breaker kept
// in a registry: one is healthy, one goes down and stays down, one turns
// slow for a while, one fails a third of its calls, one is forced open for
// maintenance. The schedules repeat every minute.
//
// Usage, from the examples module's directory (examples/):
//
//	go run ./dashboard [-addr 127.0.0.1:8080]
//	go run ./dashboard -screenshot ../docs/dashboard.png [-warmup 40s]
//
// Without -screenshot it prints the dashboard's URL and serves until
// interrupted. With it, it runs the simulation for the warm-up, watching
// the dashboard meanwhile (its sparklines cover the time it is watched),
// then has headless Chromium ($CHROMIUM, or chromium on $PATH) write a
// screenshot of the page and exits.
package main
