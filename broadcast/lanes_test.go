package broadcast_test

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/weblogd/weblogd/broadcast"
	"github.com/weblogd/weblogd/record"
)

// With many subscribers the hub flushes them in steps across the tick
// (lanes.go): every subscriber still gets every record, in order, once,
// none waits longer than the tick, each is written about once a tick, and
// the writes are spread over the tick instead of all falling at its end.
func TestHubLanesSpreadTheTick(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			tick = 50 * time.Millisecond
			n    = 1024 // 8 steps of 128
		)
		h, _ := startHub(t, broadcast.HubConfig{Ring: broadcast.NewRing(10000, 0), Tick: tick})
		subs := make([]*broadcast.Subscription, n)
		next := make([]uint64, n) // the seq each subscriber expects next
		writes := make([]int, n)  // Takes that brought something
		for i := range subs {
			subs[i] = mustSubscribe(t, h, broadcast.SubscribeOptions{})
			next[i] = 1
		}
		published := map[uint64]time.Time{}
		var (
			worst   time.Duration // longest any record waited to be offered
			busiest int           // most subscribers given something at one instant
		)
		take := func(timed bool) {
			now, got := time.Now(), 0
			for i, s := range subs {
				items := s.Take()
				if len(items) == 0 {
					continue
				}
				got++
				writes[i]++
				for _, it := range items {
					if it.Batch == nil {
						t.Fatalf("subscriber %d: gap %d-%d, want none", i, it.Gap.From, it.Gap.To)
					}
					for _, r := range it.Batch.Records {
						if r.Seq != next[i] {
							t.Fatalf("subscriber %d: seq %d, want %d", i, r.Seq, next[i])
						}
						next[i]++
						if timed {
							worst = max(worst, now.Sub(published[r.Seq]))
						}
					}
				}
			}
			busiest = max(busiest, got)
		}

		// 500 ms of a busy log: a record every millisecond.
		const ms = 500
		for i := 0; i < ms; i++ {
			published[h.Publish(&record.Record{})] = time.Now()
			time.Sleep(time.Millisecond)
			synctest.Wait()
			take(true)
		}
		time.Sleep(2 * tick)
		synctest.Wait()
		take(false) // the rest, not timed: taken late

		for i := range subs {
			if next[i] != ms+1 {
				t.Fatalf("subscriber %d got up to seq %d, want %d", i, next[i]-1, ms)
			}
			// One write a tick (10 in 500 ms), plus the leading edge and
			// the step that follows it.
			if writes[i] < ms/50 || writes[i] > ms/50+2 {
				t.Fatalf("subscriber %d written %d times, want %d to %d", i, writes[i], ms/50, ms/50+2)
			}
		}
		if worst > tick {
			t.Fatalf("a record waited %v to be offered, want at most the tick, %v", worst, tick)
		}
		// The leading edge goes to everyone at once; after it, a step
		// writes to an eighth of them.
		if busiest != n {
			t.Fatalf("at most %d subscribers given records at once, want %d at the leading edge", busiest, n)
		}
		busiest = 0
		published[h.Publish(&record.Record{})] = time.Now() // quiet since: a leading edge
		synctest.Wait()
		take(true)
		if busiest != n {
			t.Fatalf("after a quiet tick, %d subscribers got the record at once, want %d", busiest, n)
		}
		busiest = 0
		for i := 0; i < ms; i++ {
			published[h.Publish(&record.Record{})] = time.Now()
			time.Sleep(time.Millisecond)
			synctest.Wait()
			take(true)
		}
		if busiest > n/8 {
			t.Fatalf("%d subscribers given records at one instant, want at most %d (a step)", busiest, n/8)
		}
		if worst > tick {
			t.Fatalf("a record waited %v to be offered, want at most the tick, %v", worst, tick)
		}
	})
}

// With few subscribers nothing changes: one flush a tick for all.
func TestHubFewSubscribersOneStep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, _ := startHub(t, broadcast.HubConfig{Ring: broadcast.NewRing(1000, 0), Tick: 50 * time.Millisecond})
		subs := make([]*broadcast.Subscription, 100)
		for i := range subs {
			subs[i] = mustSubscribe(t, h, broadcast.SubscribeOptions{})
		}
		publish(h, 1) // leading edge
		synctest.Wait()
		time.Sleep(time.Millisecond / 2) // between ticks from here on
		for i := 0; i < 100; i++ {
			publish(h, 1)
			time.Sleep(time.Millisecond)
		}
		synctest.Wait()
		for i, s := range subs {
			if got := describe(s.Take()); !same(got, []string{"1-1", "2-51", "52-101"}) {
				t.Fatalf("subscriber %d: Take()=%v, want [1-1 2-51 52-101]", i, got)
			}
		}
	})
}

// A producer much faster than the loop loses nothing for subscribers that
// keep up when they are many: every lane is flushed when Publish waits.
func TestHubLanesBackPressureLosesNothing(t *testing.T) {
	h, _ := startHub(t, broadcast.HubConfig{Ring: broadcast.NewRing(64, 0), Tick: 20 * time.Millisecond, Queue: 100000})
	const (
		n    = 5000
		nsub = 512
	)
	subs := make([]*broadcast.Subscription, nsub)
	for i := range subs {
		subs[i] = mustSubscribe(t, h, broadcast.SubscribeOptions{})
	}
	go publish(h, n)
	var wg sync.WaitGroup
	errs := make(chan string, nsub)
	for _, s := range subs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var next uint64 = 1
			deadline := time.After(30 * time.Second)
			for next <= n {
				select {
				case <-s.Ready():
				case <-deadline:
					errs <- "timed out"
					return
				}
				for _, it := range s.Take() {
					if it.Batch == nil {
						errs <- "a gap"
						return
					}
					for _, r := range it.Batch.Records {
						if r.Seq != next {
							errs <- "out of order"
							return
						}
						next++
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatalf("a subscriber: %s", e)
	}
}
