// Package exporttest holds what the tests of the exporter modules (cbprom,
// cbotel) share: Script, which drives breakers through a sequence that
// visits every state and outcome, so that both check the same figures, and
// BuildREADME, which builds the setup each module's README shows.
//
// It lives in the root module, under internal/, because those modules
// share nothing else they could keep it in; the library's own packages do
// not import it. Script runs on a cbtest.Clock, so the figures it leaves
// are exact and stay put until a test moves the clock.
package exporttest
