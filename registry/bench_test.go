package registry_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cb/cbtest"
	"github.com/tripswitch/tripswitch/registry"
)

// BenchmarkHandler measures a request to the report endpoint, which reads
// and encodes every breaker, per breaker: what an operator's dashboard
// polling a large registry costs the service.
func BenchmarkHandler(b *testing.B) {
	for _, n := range []int{10, 100, 1000, 10000} {
		b.Run("breakers="+strconv.Itoa(n), func(b *testing.B) {
			r := registry.New()
			cfg := cb.Config{Clock: cbtest.NewClock()}
			for i := range n {
				br, err := registry.Get[int](r, "dependency-"+strconv.Itoa(i), cfg)
				if err != nil {
					b.Fatal(err)
				}
				br.Execute(ok)
			}
			h := r.Handler()
			req := httptest.NewRequest(http.MethodGet, "/debug/breakers", http.NoBody)
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d", w.Code)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/breaker")
		})
	}
}
