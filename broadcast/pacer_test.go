package broadcast_test

import (
	"github.com/weblogd/weblogd/record"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/weblogd/weblogd/broadcast"
)

// The rule: every record at once while that costs at most 2W writes a
// second, else flushes n/W s apart, at most the tick.
func TestIntervalTable(t *testing.T) {
	const tick = 50 * time.Millisecond
	for _, c := range []struct {
		n    int
		r    float64
		tick time.Duration
		want time.Duration
	}{
		{1, 100, tick, 0},                     // 1x100
		{100, 100, tick, 0},                   // 100x100: 10,000 writes/s
		{100, 2 * broadcast.W / 100, tick, 0}, // at 2W exactly
		{100, 2*broadcast.W/100 + 1, tick, 100 * time.Second / broadcast.W}, // just past it
		{100, 1000, tick, 100 * time.Second / broadcast.W},                  // 100x1000: 15.4 ms
		{1000, 100, tick, tick},  // 1000x100: the tick caps it
		{1000, 1000, tick, tick}, // 1000x1000
		{10000, 100, tick, tick}, // 10000x100
		{1000, 1000, 0, 0},       // --tick 0
		{1000, 1000, 5 * time.Millisecond, 5 * time.Millisecond},
		{0, 1e6, tick, 0},                         // nobody to write to
		{1, 1e6, tick, time.Second / broadcast.W}, // one subscriber, a burst
	} {
		if got := broadcast.Interval(c.n, c.r, c.tick); got != c.want {
			t.Errorf("interval(%d subscribers, %v/s, tick %v)=%v, want %v", c.n, c.r, c.tick, got, c.want)
		}
	}
}

// paced is a hub with n subscribers, fed a record at a time, that logs
// when each flush happened and how long each record waited for it.
type paced struct {
	h       *broadcast.Hub
	mu      sync.Mutex
	pub     map[uint64]time.Time // when each record was published
	flushes []time.Time          // when each flush that offered records happened
	sizes   []int                // how many records each offered
	waits   []time.Duration      // each record's, from Publish to its flush
	gathers []time.Time          // when Gather was called
	bring   int                  // records the next Gathers append, one each
}

func newPaced(t *testing.T, n, ring int, tick time.Duration) *paced {
	p := &paced{pub: map[uint64]time.Time{}}
	var next uint64 = 1
	r := broadcast.NewRing(ring, 0)
	p.h, _ = startHub(t, broadcast.HubConfig{Ring: r, Tick: tick,
		OnFlush: func(_ time.Duration, k int) {
			p.mu.Lock()
			defer p.mu.Unlock()
			now := time.Now()
			p.flushes, p.sizes = append(p.flushes, now), append(p.sizes, k)
			for range k {
				at, ok := p.pub[next]
				if !ok {
					at = now // gathered: it waited for nothing
				}
				p.waits = append(p.waits, now.Sub(at))
				next++
			}
		},
		Gather: func() {
			p.mu.Lock()
			defer p.mu.Unlock()
			p.gathers = append(p.gathers, time.Now())
			if p.bring > 0 {
				p.bring--
				r.Append(&record.Record{}) // no Publish: nothing wakes the loop
			}
		}})
	for range n {
		mustSubscribe(t, p.h, broadcast.SubscribeOptions{})
	}
	return p
}

// run publishes a record every every for d.
func (p *paced) run(every, d time.Duration) {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(every) {
		p.mu.Lock()
		p.pub[p.h.Ring().Last()+1] = time.Now()
		p.mu.Unlock()
		p.h.Publish(&record.Record{})
	}
	synctest.Wait()
}

// since returns the flushes and the waits logged from the flush i on.
func (p *paced) since(i int) (flushes []time.Time, waits []time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, k := range p.sizes[:i] {
		n += k
	}
	return slices.Clone(p.flushes[i:]), slices.Clone(p.waits[n:])
}

func (p *paced) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.flushes)
}

// Spaced flushes go in parts when one flush's writes would take more than
// 2.5 ms at 10 µs a write, never parts less than 1 ms apart.
func TestPartsTable(t *testing.T) {
	const tick = 50 * time.Millisecond
	for _, c := range []struct {
		n        int
		interval time.Duration
		want     int
	}{
		{1000, 0, 1}, // at once: all together
		{100, 14 * time.Millisecond, 1},
		{250, tick, 1}, // 2.5 ms of writes
		{251, tick, 2},
		{1000, tick, 4}, // 1000x1000: four parts of 2.5 ms
		{10000, tick, 40},
		{100000, tick, 50}, // at most one a millisecond
		{1000, 2 * time.Millisecond, 2},
	} {
		if got := broadcast.Parts(c.n, c.interval); got != c.want {
			t.Errorf("parts(%d subscribers, %v)=%d, want %d", c.n, c.interval, got, c.want)
		}
	}
}

// One subscriber of a log of 100 lines a second: every record is flushed
// as it is published, with no wait, and Gather is never called.
func TestPacerOneSubscriberAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPaced(t, 1, 1000, 50*time.Millisecond)
		p.run(10*time.Millisecond, 2*time.Second)
		flushes, waits := p.since(0)
		if len(flushes) != 200 || slices.Max(waits) != 0 {
			t.Fatalf("%d flushes for 200 records, longest wait %v; want one each, no wait", len(flushes), slices.Max(waits))
		}
	})
}

// 100 subscribers × 100 lines a second is 10,000 writes a second, within
// twice the budget: still every record at once.
func TestPacer100x100AtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPaced(t, 100, 1000, 50*time.Millisecond)
		p.run(10*time.Millisecond, 2*time.Second)
		if _, waits := p.since(0); slices.Max(waits) != 0 {
			t.Fatalf("a record waited %v, want none", slices.Max(waits))
		}
	})
}

// 100 subscribers × 1,000 lines a second would be 100,000 writes a second
// at once: once the rate is known, flushes go n/W = 15.4 ms apart, which
// holds the writes to the budget, and no record waits longer.
func TestPacerBatchesWhenDear(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 100
		iv := n * time.Second / broadcast.W
		p := newPaced(t, n, 10000, 50*time.Millisecond)
		p.run(time.Millisecond, 500*time.Millisecond) // the rate estimate settles
		from := p.count()
		p.run(time.Millisecond, 1500*time.Millisecond)
		flushes, waits := p.since(from)
		for i := 1; i < len(flushes); i++ {
			if d := flushes[i].Sub(flushes[i-1]); d < iv-time.Millisecond || d > iv+time.Millisecond {
				t.Fatalf("flushes %v apart, want %v ± 1ms", d, iv)
			}
		}
		if w := float64(len(flushes)*n) / 1.5; w > broadcast.W*1.05 {
			t.Fatalf("%.0f writes a second, want at most %.0f", w, broadcast.W*1.05)
		}
		if m := slices.Max(waits); m > iv {
			t.Fatalf("a record waited %v, want at most %v", m, iv)
		}
	})
}

// 1,000 subscribers × 1,000 lines a second: the interval n/W would be
// 143 ms, and the tick (50 ms) caps it. A flush's writes to all of them
// would take about 10 ms, so they are flushed in four parts, a quarter of
// a tick apart: each subscriber is offered records a tick apart, and no
// record waits longer than the tick for any of them.
func TestPacerTickBounds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const tick = 50 * time.Millisecond
		p := newPaced(t, 1000-8, 10000, tick) // and 8 to watch
		var mu sync.Mutex
		offers := make([][]time.Time, 8)
		for i := range offers {
			mustSubscribe(t, p.h, broadcast.SubscribeOptions{Notify: func() {
				mu.Lock()
				defer mu.Unlock()
				offers[i] = append(offers[i], time.Now())
			}})
		}
		p.run(time.Millisecond, 200*time.Millisecond)
		from := p.count()
		mu.Lock()
		for i := range offers {
			offers[i] = offers[i][:0]
		}
		mu.Unlock()
		p.run(time.Millisecond, time.Second)
		flushes, waits := p.since(from)
		for i := 1; i < len(flushes); i++ {
			if d := flushes[i].Sub(flushes[i-1]); d != tick/4 {
				t.Fatalf("flushes %v apart, want a quarter of the tick, %v", d, tick/4)
			}
		}
		if m := slices.Max(waits); m > tick/4 {
			t.Fatalf("a record waited %v for its first part, want at most %v", m, tick/4)
		}
		mu.Lock()
		defer mu.Unlock()
		phases := map[time.Duration]bool{}
		for i, o := range offers {
			if len(o) < 15 {
				t.Fatalf("subscriber %d was offered records %d times in a second, want about 20", i, len(o))
			}
			for j := 1; j < len(o); j++ {
				if d := o[j].Sub(o[j-1]); d != tick {
					t.Fatalf("subscriber %d offered records %v apart, want the tick", i, d)
				}
			}
			phases[time.Duration(o[0].UnixNano()%int64(tick))] = true
		}
		if len(phases) != 4 {
			t.Fatalf("the subscribers were offered records at %d phases of the tick, want 4", len(phases))
		}
	})
}

// The rate estimate decays while the log is quiet: right after a busy
// second, records 10 ms apart still wait for the spaced flushes; after a
// quiet spell they go at once again.
func TestPacerRateDecays(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPaced(t, 100, 10000, 50*time.Millisecond)
		p.run(time.Millisecond, time.Second)
		from := p.count()
		p.run(10*time.Millisecond, 100*time.Millisecond)
		if _, waits := p.since(from); slices.Max(waits) == 0 {
			t.Fatal("right after the busy second no record waited: the rate was forgotten at once")
		}
		time.Sleep(3 * time.Second)
		from = p.count()
		p.run(10*time.Millisecond, 200*time.Millisecond)
		if _, waits := p.since(from); slices.Max(waits) != 0 {
			t.Fatalf("after a quiet spell a record waited %v, want none", slices.Max(waits))
		}
	})
}

// However the flushes are spaced, limit pending records (half the ring
// here) are flushed at once, and the producer does not wait for the
// interval.
func TestPacerPendingFlushesNow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPaced(t, 100, 20, 50*time.Millisecond)
		p.run(time.Millisecond, time.Second) // spaced by now
		synctest.Wait()
		from, start := p.count(), time.Now()
		for range 10 {
			p.h.Publish(&record.Record{})
		}
		synctest.Wait()
		if d := time.Since(start); d != 0 {
			t.Fatalf("the producer waited %v, want 0", d)
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if got := p.sizes[from:]; len(got) != 1 || got[0] != 10 || !p.flushes[from].Equal(start) {
			t.Fatalf("flushed %v at %v, want the 10 at once", got, p.flushes[from:])
		}
	})
}

// The tick set at run time bounds the spacing from the next flush on, and
// a tick of zero flushes every record at once.
func TestPacerSetTick(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPaced(t, 100, 10000, 50*time.Millisecond)
		p.run(time.Millisecond, 500*time.Millisecond)
		p.h.SetTick(5 * time.Millisecond)
		p.run(time.Millisecond, 100*time.Millisecond)
		from := p.count()
		p.run(time.Millisecond, 100*time.Millisecond)
		flushes, _ := p.since(from)
		for i := 1; i < len(flushes); i++ {
			if d := flushes[i].Sub(flushes[i-1]); d != 5*time.Millisecond {
				t.Fatalf("with a 5ms tick, flushes %v apart", d)
			}
		}
		p.h.SetTick(0)
		p.run(time.Millisecond, 100*time.Millisecond)
		from = p.count()
		p.run(time.Millisecond, 100*time.Millisecond)
		if _, waits := p.since(from); slices.Max(waits) != 0 {
			t.Fatalf("with tick 0 a record waited %v, want none", slices.Max(waits))
		}
	})
}
