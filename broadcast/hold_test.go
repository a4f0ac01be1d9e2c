package broadcast_test

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/weblogd/weblogd/broadcast"
	"github.com/weblogd/weblogd/record"
)

// drain takes s's items in a goroutine until s ends, pausing for work
// after every take that brought something, as a writer writing them would;
// the returned function waits for it and returns what it took.
func drain(s *broadcast.Subscription, work time.Duration) func() []broadcast.Item {
	var (
		got []broadcast.Item
		wg  sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			<-s.Ready()
			over := s.Reason() != ""
			for items := s.Take(); len(items) > 0; items = s.Take() {
				got = append(got, items...)
				time.Sleep(work)
			}
			if over {
				return
			}
		}
	}()
	return func() []broadcast.Item { wg.Wait(); return got }
}

// A producer far faster than the subscriber's writer (a backlog being
// read) waits for a subscriber that keeps taking, so its small queue never
// overflows: the burst arrives whole. Without the hold, batches would land
// on a queue the writer had not emptied yet.
func TestHubHoldAbsorbsBurst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, stop := startHub(t, broadcast.HubConfig{Ring: broadcast.NewRing(1000, 0), Tick: 50 * time.Millisecond, Queue: 8})
		s := mustSubscribe(t, h, broadcast.SubscribeOptions{})
		got := drain(s, time.Millisecond)
		publish(h, 1) // the writer is working: it has taken something
		synctest.Wait()
		publish(h, 299)
		time.Sleep(time.Second)
		stop()
		if m := merged(got()); !same(m, []string{"1-300"}) {
			t.Fatalf("got %v, want 1-300 with no gap", m)
		}
		if d := s.Dropped(); d != 0 {
			t.Fatalf("Dropped()=%d, want 0", d)
		}
	})
}

// A subscriber that never takes (its peer never read anything) holds the
// producer back not at all, and one whose writer stops taking holds it
// back once, for at most holdWait: then it falls behind and gets a gap, as
// any subscriber that does not keep up.
func TestHubHoldStalledWriter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, _ := startHub(t, broadcast.HubConfig{Ring: broadcast.NewRing(1000, 0), Tick: 50 * time.Millisecond, Queue: 8, SlowTimeout: -1})
		never := mustSubscribe(t, h, broadcast.SubscribeOptions{})
		start := time.Now()
		publish(h, 100)
		if d := time.Since(start); d != 0 {
			t.Fatalf("a subscriber that never took held the producer back %v, want 0", d)
		}
		if never.Dropped() == 0 {
			t.Fatal("the subscriber that never took lost nothing: the test did not overflow it")
		}

		once := mustSubscribe(t, h, broadcast.SubscribeOptions{})
		publish(h, 1)
		synctest.Wait()
		once.Take() // its writer then sticks
		start = time.Now()
		publish(h, 100)
		if d := time.Since(start); d > 50*time.Millisecond {
			t.Fatalf("a writer that stopped taking held the producer back %v, want at most 50ms", d)
		}
		synctest.Wait()
		if once.Dropped() == 0 {
			t.Fatal("the stuck subscriber lost nothing, want a gap")
		}
	})
}

// A subscriber that keeps taking, but slowly, holds a burst to its own
// pace and loses nothing; each wait ends when it takes, and none is longer
// than holdWait.
func TestHubHoldSlowReaderIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, stop := startHub(t, broadcast.HubConfig{Ring: broadcast.NewRing(10000, 0), Tick: 50 * time.Millisecond, Queue: 8, SlowTimeout: -1})
		s := mustSubscribe(t, h, broadcast.SubscribeOptions{})
		got := drain(s, 10*time.Millisecond)
		publish(h, 1)
		synctest.Wait()
		var longest time.Duration
		for range 1000 {
			start := time.Now()
			h.Publish(&record.Record{})
			longest = max(longest, time.Since(start))
		}
		stop()
		if m := merged(got()); !same(m, []string{"1-1001"}) {
			t.Fatalf("got %v, want 1-1001 with no gap", m)
		}
		if longest > 50*time.Millisecond || longest == 0 {
			t.Fatalf("the longest wait for the slow reader was %v, want some, at most 50ms", longest)
		}
	})
}
