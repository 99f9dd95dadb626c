package cb_test

// Benchmarks of the entry points on the hot paths: closed successes,
// half-failing calls, rejections, Allow/Done and Call, against the floors
// of a plain call and a shared atomic add.

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tripswitch/tripswitch/cb"
)

// The configs benchmarked: the default, and the hot config (a CoarseClock,
// slow-call tracking off) with a time window and with a count window.
func benchConfigs(b *testing.B) map[string]cb.Config {
	clk, err := cb.NewCoarseClock(time.Millisecond)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(clk.Stop)
	return map[string]cb.Config{
		"default":   {},
		"hot":       {Clock: clk, SlowCallDuration: cb.Off},
		"hot-count": {Clock: clk, SlowCallDuration: cb.Off, WindowCalls: 100},
	}
}

// alternating returns a protected function that succeeds and fails in
// turn, success first.
func alternating() func() (int, error) {
	i := 0
	return func() (int, error) {
		i++
		if i&1 == 0 {
			return 0, errBoom
		}
		return 1, nil
	}
}

func BenchmarkExecuteSuccess(b *testing.B) {
	for name, cfg := range benchConfigs(b) {
		br := cb.MustNew[int]("bench", cfg)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, r := br.Execute(fnOK); r.Outcome != cb.Success {
					b.Fatal(r.Outcome)
				}
			}
		})
		b.Run(name+"/parallel8", func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(8)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, r := br.Execute(fnOK); r.Outcome != cb.Success {
						b.Error(r.Outcome)
						return
					}
				}
			})
		})
	}
}

// Half the calls fail, below a 0.6 failure-rate threshold, so the breaker
// stays closed while every other call takes the failure path.
func BenchmarkExecuteHalfFailing(b *testing.B) {
	for name, cfg := range benchConfigs(b) {
		cfg.ConsecutiveFailures = cb.Off
		cfg.FailureRateThreshold = 0.6
		br := cb.MustNew[int]("bench", cfg)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			fn := alternating()
			for b.Loop() {
				if _, r := br.Execute(fn); r.Outcome == cb.Rejected {
					b.Fatal("rejected while closed")
				}
			}
		})
	}
}

func BenchmarkExecuteRejected(b *testing.B) {
	for name, cfg := range benchConfigs(b) {
		for _, forced := range []bool{false, true} {
			cfg.ConsecutiveFailures = 1
			cfg.OpenTimeout = time.Hour
			br := cb.MustNew[int]("bench", cfg)
			br.Execute(fnFail)
			sub := name + "/timed"
			if forced {
				br.ForceOpen()
				sub = name + "/forced"
			}
			b.Run(sub, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, r := br.Execute(fnOK); r.Outcome != cb.Rejected {
						b.Fatal("admitted while open")
					}
				}
			})
		}
	}
}

func BenchmarkAllowDone(b *testing.B) {
	for name, cfg := range benchConfigs(b) {
		br := cb.MustNew[int]("bench", cfg)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p, err := br.Allow()
				if err != nil {
					b.Fatal(err)
				}
				p.Done(1, nil)
			}
		})
	}
}

// Floors: the protected function called directly, and one atomic add on a
// counter every goroutine shares.
func BenchmarkFloorPlainCall(b *testing.B) {
	fn := fnOK
	for b.Loop() {
		if _, err := fn(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFloorSharedAtomicAdd(b *testing.B) {
	var n atomic.Uint64
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n.Add(1)
		}
	})
}

func BenchmarkCallSuccess(b *testing.B) {
	for name, cfg := range benchConfigs(b) {
		br := cb.MustNew[int]("bench", cfg)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := br.Call(fnOK); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/parallel8", func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(8)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := br.Call(fnOK); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// The failure and rejection paths through Call, whose (T, error) comes
// back in registers.
func BenchmarkCallHalfFailing(b *testing.B) {
	for name, cfg := range benchConfigs(b) {
		cfg.ConsecutiveFailures = cb.Off
		cfg.FailureRateThreshold = 0.6
		br := cb.MustNew[int]("bench", cfg)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			fn := alternating()
			for b.Loop() {
				if _, err := br.Call(fn); errors.Is(err, cb.ErrOpen) {
					b.Fatal("rejected while closed")
				}
			}
		})
	}
}

func BenchmarkCallRejected(b *testing.B) {
	for name, cfg := range benchConfigs(b) {
		cfg.ConsecutiveFailures = 1
		cfg.OpenTimeout = time.Hour
		br := cb.MustNew[int]("bench", cfg)
		_, _ = br.Call(fnFail)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := br.Call(fnOK); err == nil {
					b.Fatal("admitted while open")
				}
			}
		})
	}
}
