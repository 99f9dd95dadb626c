package cbprom_test

import (
	"errors"
	"fmt"
	"runtime"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cb/cbtest"
	"github.com/tripswitch/tripswitch/cbprom"
	"github.com/tripswitch/tripswitch/registry"
)

// BenchmarkCollect measures one Collect, the work of a scrape that is the
// collector's own (the registry's encoding comes on top), at 10, 1,000 and
// 10,000 breakers. ns/breaker and allocs/breaker stay flat as the count
// grows: the cost is linear in the number of breakers.
//
//	go test -run '^$' -bench Collect -benchmem ./cbprom/
func BenchmarkCollect(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		b.Run(fmt.Sprintf("breakers=%d", n), func(b *testing.B) {
			reg := registry.New()
			clock := cbtest.NewClock()
			errDown := errors.New("down")
			for i := range n {
				br, err := registry.Get[int](reg, fmt.Sprintf("dependency-%05d", i), cb.Config{Clock: clock})
				if err != nil {
					b.Fatal(err)
				}
				br.Execute(func() (int, error) { return 1, nil })
				br.Execute(func() (int, error) { return 0, errDown })
			}
			c := cbprom.New(reg)
			// A channel that holds a whole collection, drained after each:
			// the benchmark times Collect, not a consumer.
			ch := make(chan prometheus.Metric, 32*n)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				c.Collect(ch)
				for len(ch) > 0 {
					<-ch
				}
			}
			b.StopTimer()
			runtime.ReadMemStats(&after)
			per := float64(b.N) * float64(n)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/per, "ns/breaker")
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/per, "allocs/breaker")
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/per, "B/breaker")
		})
	}
}
