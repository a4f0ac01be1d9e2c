package stats_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/weblogd/weblogd/format"
	"github.com/weblogd/weblogd/record"
	"github.com/weblogd/weblogd/stats"
)

// A million records over a day, every path, client, agent and referer
// distinct and long, must not take more than MemoryBound says.
func TestMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("a million records")
	}
	const n = 1_000_000
	start := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	clk := newClock(start)
	cfg := stats.Config{
		Now:      clk.Now,
		Classify: func(a string) (string, string) { return "Browser " + a[len(a)-6:], "OS " + a[len(a)-3:] },
		Country:  func(h string) string { return h[len(h)-2:] },
	}
	pad := strings.Repeat("x", 300) // longer than any value is kept
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	s := stats.New(cfg)
	for i := 0; i < n; i++ {
		at := start.Add(time.Duration(i) * (24 * time.Hour / n))
		line := fmt.Sprintf(`2001:db8::%x:%x - - [%s] "GET /p/%d/%s HTTP/1.1" %d %d "https://site%d.example/%d/%s" "Agent/%d (%s) %06d"`,
			i>>16, i&0xffff, at.Format("02/Jan/2006:15:04:05 -0700"), i, pad, []int{200, 404, 500, 302}[i%4], i%5000, i, i, pad, i, pad, i)
		r := format.Parse(line)
		if !r.Parsed {
			t.Fatalf("line did not parse: %s", line)
		}
		r.Source = fmt.Sprintf("log%d", i)
		r.Duration = record.Took(time.Duration(i%100000) * time.Microsecond)
		clk.Set(at)
		s.Add(&r)
		if i%(1<<16) == 0 {
			if _, err := s.Query(stats.Query{Window: time.Minute}); err != nil {
				t.Fatal(err)
			}
		}
	}
	clk.Set(start.Add((n - 1) * (24 * time.Hour / n))) // the window starts at start
	res, err := s.Query(stats.Query{Window: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != n {
		t.Errorf("requests %d, want %d", res.Requests, n)
	}
	if res.TopExact {
		t.Error("top lists exact over a million distinct values")
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	grew := int64(after.HeapInuse) - int64(before.HeapInuse)
	bound := int64(float64(stats.MemoryBound(cfg)) * raceSlack)
	t.Logf("heap in use grew %d MiB; the bound is %d MiB", grew>>20, bound>>20)
	if grew > bound {
		t.Errorf("heap in use grew %d MiB, more than the bound of %d MiB", grew>>20, bound>>20)
	}
	runtime.KeepAlive(s)
}
