package ring

import (
	"sync/atomic"
	"testing"
	"time"
)

func BenchmarkStripesAdd(b *testing.B) {
	b.Run("serial", func(b *testing.B) {
		s := NewStripes()
		b.ReportAllocs()
		for b.Loop() {
			s.Add(Success)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		s := NewStripes()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				s.Add(Success)
			}
		})
	})
}

func BenchmarkStripesSum(b *testing.B) {
	s := NewStripes()
	for i := range 1000 {
		s.Add(allKinds[i%4])
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		var sink Counts
		for b.Loop() {
			sink = s.Sum()
		}
		_ = sink
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			var sink Counts
			for pb.Next() {
				sink = s.Sum()
			}
			_ = sink
		})
	})
}

func BenchmarkTimeWindowRecord(b *testing.B) {
	const width = time.Second
	b.Run("serial", func(b *testing.B) {
		w := NewTimeWindow(NewStripes(), width, 10, 0)
		b.ReportAllocs()
		for b.Loop() {
			w.Record(sec(0.5), Success)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		w := NewTimeWindow(NewStripes(), width, 10, 0)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				w.Record(sec(0.5), Success)
			}
		})
	})
	// The reading moves a bucket every 1024 records: rotations included.
	b.Run("rotating", func(b *testing.B) {
		w := NewTimeWindow(NewStripes(), width, 10, 0)
		b.ReportAllocs()
		var now time.Duration
		for b.Loop() {
			now += width / 1024
			w.Record(now, Success)
		}
	})
	b.Run("rotating-parallel", func(b *testing.B) {
		w := NewTimeWindow(NewStripes(), width, 10, 0)
		var reading atomic.Int64
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				w.Record(time.Duration(reading.Add(int64(width/1024))), Success)
			}
		})
	})
}

func BenchmarkCountWindowRecord(b *testing.B) {
	b.Run("serial", func(b *testing.B) {
		w := NewCountWindow(NewStripes(), 100)
		b.ReportAllocs()
		for b.Loop() {
			w.Record(Success)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		w := NewCountWindow(NewStripes(), 100)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				w.Record(Success)
			}
		})
	})
}

func BenchmarkTimeWindowCounts(b *testing.B) {
	w := NewTimeWindow(NewStripes(), time.Second, 10, 0)
	for i := range 1000 {
		w.Record(time.Duration(i)*10*time.Millisecond, allKinds[i%4])
	}
	at := sec(9.5)
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		var sink Counts
		for b.Loop() {
			sink = w.Counts(at)
		}
		_ = sink
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			var sink Counts
			for pb.Next() {
				sink = w.Counts(at)
			}
			_ = sink
		})
	})
}

func BenchmarkCountWindowCounts(b *testing.B) {
	w := NewCountWindow(NewStripes(), 100)
	for i := range 1000 {
		w.Record(allKinds[i%4])
	}
	b.ReportAllocs()
	var sink Counts
	for b.Loop() {
		sink = w.Counts()
	}
	_ = sink
}
