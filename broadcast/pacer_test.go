package broadcast_test

import (
	"testing"
	"time"

	"github.com/weblogd/weblogd/broadcast"
)

// The rule: every record at once while that costs at most 2 × 7,000 writes
// a second, else flushes n/7,000 s apart, at most the tick.
func TestIntervalTable(t *testing.T) {
	const tick = 50 * time.Millisecond
	for _, c := range []struct {
		n    int
		r    float64
		tick time.Duration
		want time.Duration
	}{
		{1, 100, tick, 0},                           // 1x100
		{100, 100, tick, 0},                         // 100x100: 10,000 writes/s
		{100, 140, tick, 0},                         // at 2W exactly
		{100, 141, tick, 100 * time.Second / 7000},  // just past it
		{100, 1000, tick, 100 * time.Second / 7000}, // 100x1000: 14.3 ms
		{1000, 100, tick, tick},                     // 1000x100: the tick caps it
		{1000, 1000, tick, tick},                    // 1000x1000
		{10000, 100, tick, tick},                    // 10000x100
		{1000, 1000, 0, 0},                          // --tick 0
		{1000, 1000, 5 * time.Millisecond, 5 * time.Millisecond},
		{0, 1e6, tick, 0},                  // nobody to write to
		{1, 1e6, tick, time.Second / 7000}, // one subscriber, a burst
	} {
		if got := broadcast.Interval(c.n, c.r, c.tick); got != c.want {
			t.Errorf("interval(%d subscribers, %v/s, tick %v)=%v, want %v", c.n, c.r, c.tick, got, c.want)
		}
	}
}
