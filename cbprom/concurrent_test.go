package cbprom_test

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cb/cbtest"
	"github.com/tripswitch/tripswitch/cbprom"
	"github.com/tripswitch/tripswitch/internal/exporttest"
	"github.com/tripswitch/tripswitch/registry"
)

// Scrapes run concurrently with calls through the breakers, with breakers
// made and removed, under the race detector: every scrape parses, shows
// exactly one state per breaker and ratios within 0..1, and no counter of
// a breaker that stays goes back between two scrapes of one scraper.
func TestConcurrentScrapesDuringTraffic(t *testing.T) {
	// Each worker makes at least calls calls, and goes on until the
	// scrapers have made minScrapes scrapes (or 20 times as many calls),
	// so that scrapes and traffic overlap however fast either runs here.
	calls, minScrapes, maxScrapes := 20000, 40, 400
	if testing.Short() {
		calls, minScrapes, maxScrapes = 3000, 10, 100
	}
	var scrapes atomic.Int64
	reg := registry.New()
	clock := cbtest.NewClock()
	pr := prometheus.NewPedanticRegistry()
	require.NoError(t, pr.Register(cbprom.New(reg)))
	e := serve(t, pr)
	done := exporttest.Traffic(reg, clock, calls, func() bool { return scrapes.Load() >= int64(minScrapes) })

	var scrapers sync.WaitGroup
	for range 2 {
		scrapers.Go(func() {
			last := map[string]float64{}
			for n := 0; n < maxScrapes; n++ {
				select {
				case <-done:
					if n > 0 {
						return
					}
				default:
				}
				got, err := e.scrapeText()
				if !assert.NoError(t, err) {
					return
				}
				scrapes.Add(1)
				checkLive(t, got, last)
			}
		})
	}
	scrapers.Wait()
	<-done
	assert.Positive(t, scrapes.Load())
	var trips uint64
	for _, m := range reg.AllMetrics() {
		trips += m.Transitions.To(cb.Open)
	}
	t.Logf("%d scrapes during the traffic, %d trips", scrapes.Load(), trips)

	// After the traffic, a last scrape agrees with the breakers exactly.
	got, err := e.scrapeText()
	require.NoError(t, err)
	checkScrape(t, got, expect(t, reg.AllMetrics()))
}

// checkLive checks one scrape taken during traffic, and that the stable
// breakers' counters did not go back since last (which it updates).
func checkLive(t *testing.T, got map[string]*dto.MetricFamily, last map[string]float64) {
	for breaker, states := range series(got["tripswitch_circuit_state"]) {
		var sum float64
		for _, m := range states {
			sum += valueOf(m)
		}
		assert.InDelta(t, 1, sum, 0, "%s is in exactly one state", breaker)
	}
	for _, fam := range []string{"tripswitch_window_failure_ratio", "tripswitch_window_slow_call_ratio"} {
		for breaker, s := range series(got[fam]) {
			v := valueOf(s[""])
			assert.True(t, v >= 0 && v <= 1, "%s{name=%q} = %v", fam, breaker, v)
		}
	}
	for _, fam := range []string{"tripswitch_calls_total", "tripswitch_transitions_total", "tripswitch_slow_calls_total"} {
		for breaker, s := range series(got[fam]) {
			if !exporttest.Stable(breaker) {
				continue // churned breakers start over: that is a new counter
			}
			for labels, m := range s {
				key := fam + breaker + labels
				v := valueOf(m)
				assert.GreaterOrEqual(t, v, last[key], "%s{name=%q,%s} went back", fam, breaker, labels)
				last[key] = v
			}
		}
	}
}
