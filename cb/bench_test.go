package cb_test

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tripswitch/tripswitch/cb"
)

func benchSuccess(b *testing.B, cfg cb.Config) {
	br := cb.MustNew[int]("b", cfg)
	fn := func() (int, error) { return 1, nil }
	b.ReportAllocs()
	b.Run("single", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, r := br.Execute(fn); r.Outcome != cb.Success {
				b.Fatal(r.Outcome)
			}
		}
	})
	b.Run("parallel8", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, r := br.Execute(fn); r.Outcome != cb.Success {
					b.Fatal(r.Outcome)
				}
			}
		})
	})
}

func BenchmarkExecuteDefault(b *testing.B) { benchSuccess(b, cb.Config{}) }

func BenchmarkExecuteHot(b *testing.B) {
	clk, _ := cb.NewCoarseClock(time.Millisecond)
	defer clk.Stop()
	benchSuccess(b, cb.Config{Clock: clk, SlowCallDuration: cb.Off})
}

func BenchmarkExecuteHalfFail(b *testing.B) {
	clk, _ := cb.NewCoarseClock(time.Millisecond)
	defer clk.Stop()
	br := cb.MustNew[int]("b", cb.Config{Clock: clk, SlowCallDuration: cb.Off, ConsecutiveFailures: cb.Off, MinimumCalls: 100})
	boom := errors.New("x")
	i := 0
	fn := func() (int, error) {
		i++
		if i&1 == 0 {
			return 0, boom
		}
		return 1, nil
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, r := br.Execute(fn); r.Outcome == cb.Rejected {
			b.Fatal(r.Outcome)
		}
	}
}

func BenchmarkReject(b *testing.B) {
	for _, hot := range []bool{false, true} {
		cfg := cb.Config{}
		if hot {
			clk, _ := cb.NewCoarseClock(time.Millisecond)
			defer clk.Stop()
			cfg = cb.Config{Clock: clk, SlowCallDuration: cb.Off}
		}
		br := cb.MustNew[int]("b", cfg)
		br.ForceOpen()
		fn := func() (int, error) { return 1, nil }
		b.Run(map[bool]string{false: "default", true: "hot"}[hot], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, r := br.Execute(fn); r.Outcome != cb.Rejected {
					b.Fatal(r.Outcome)
				}
			}
		})
	}
}

func BenchmarkAtomicAdd(b *testing.B) {
	var n atomicCounter
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n.v.Add(1)
		}
	})
}

type atomicCounter struct{ v atomic.Uint64 }
