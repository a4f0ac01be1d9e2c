package stats_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weblogd/weblogd/record"
	"github.com/weblogd/weblogd/stats"
)

// atomicClock is a fake clock cheap enough for benchmarks.
type atomicClock struct{ ns atomic.Int64 }

func (c *atomicClock) Now() time.Time { return time.Unix(0, c.ns.Load()).UTC() }

// benchPool is a quarter million records made from the real log, to be
// given new times as a benchmark goes.
func benchPool(b *testing.B) []*record.Record {
	b.Helper()
	tpl := readLog(b, apacheLog)
	pool := make([]*record.Record, 1<<18)
	for i := range pool {
		r := *tpl[i%len(tpl)]
		pool[i] = &r
	}
	return pool
}

// BenchmarkAdd measures Add and the folding of what it queued, on one
// goroutine, at 20 records a second of simulated time.
func BenchmarkAdd(b *testing.B) {
	pool := benchPool(b)
	clk := &atomicClock{}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	clk.ns.Store(base)
	s := stats.New(stats.Config{Now: clk.Now, Classify: func(string) (string, string) { return "Chrome", "Mac OS X" }, Country: func(string) string { return "FR" }})
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	for i := 0; i < b.N; i++ {
		t := base + int64(i)*int64(50*time.Millisecond)
		r := pool[i%len(pool)]
		r.Time = time.Unix(0, t).UTC() // folded long ago: the pool is four times the fold interval
		clk.ns.Store(t)
		s.Add(r)
		if i%(1<<16) == 1<<16-1 {
			if _, err := s.Query(stats.Query{Window: time.Minute}); err != nil {
				b.Fatal(err)
			}
		}
	}
	if _, err := s.Query(stats.Query{Window: time.Minute}); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	reportCPU(b, cpu)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/record")
}

var (
	dayOnce  sync.Once
	dayStats *stats.Stats
)

// fullDay returns statistics holding a day at 20 records a second: 1.7
// million records, built once.
func fullDay(b *testing.B) *stats.Stats {
	dayOnce.Do(func() {
		tpl := readLog(b, apacheLog)
		clk := &atomicClock{}
		end := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
		start := end.Add(-24 * time.Hour)
		clk.ns.Store(start.UnixNano())
		s := stats.New(stats.Config{Now: clk.Now, Classify: func(a string) (string, string) { return a[:min(len(a), 8)], "Linux" }, Country: func(string) string { return "FR" }})
		n := int(24 * time.Hour / (50 * time.Millisecond))
		for i := 0; i < n; i++ {
			r := *tpl[i%len(tpl)]
			r.Time = start.Add(time.Duration(i) * 50 * time.Millisecond)
			r.Duration = record.Took(time.Duration(i%997) * time.Millisecond)
			clk.ns.Store(r.Time.UnixNano())
			s.Add(&r)
		}
		clk.ns.Store(end.UnixNano())
		if _, err := s.Query(stats.Query{Window: time.Minute}); err != nil { // folds the day
			b.Fatal(err)
		}
		dayStats = s
	})
	return dayStats
}

func BenchmarkQuery24h(b *testing.B) {
	s := fullDay(b)
	b.ResetTimer()
	b.Run("all", func(b *testing.B) {
		defer reportCPU(b, cpuTime())
		for i := 0; i < b.N; i++ {
			if _, err := s.Query(stats.Query{Window: 24 * time.Hour}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("filtered", func(b *testing.B) {
		defer reportCPU(b, cpuTime())
		for i := 0; i < b.N; i++ {
			if _, err := s.Query(stats.Query{Window: 24 * time.Hour, Match: func(r *record.Record) bool { return r.Status == 404 }}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("1h", func(b *testing.B) {
		defer reportCPU(b, cpuTime())
		for i := 0; i < b.N; i++ {
			if _, err := s.Query(stats.Query{Window: time.Hour}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
