package broadcast_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/weblogd/weblogd/broadcast"
	"github.com/weblogd/weblogd/record"
)

// every publishes per records every period, n times, calling after each
// flush (after the bubble has settled).
func every(h *broadcast.Hub, period time.Duration, n, per int, after func(i int)) {
	for i := 0; i < n; i++ {
		time.Sleep(period)
		// Straight into the ring, then one Publish to wake the loop: each
		// step is exactly one batch, whatever the scheduling.
		for j := 1; j < per; j++ {
			h.Ring().Append(&record.Record{})
		}
		publish(h, 1)
		synctest.Wait()
		if after != nil {
			after(i)
		}
	}
}

func ended(s *broadcast.Subscription) bool { return s.Reason() != "" }

// A subscriber that takes nothing while the feed overflows its queue is
// ended with ReasonSlow at the first flush SlowTimeout after it fell
// behind; its queue is released, and the others lose nothing.
func TestHubEndsStalledSubscriber(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, _ := startHub(t, broadcast.HubConfig{Ring: broadcast.NewRing(1000, 0), Queue: 10, SlowTimeout: time.Second})
		stalled := mustSubscribe(t, h, broadcast.SubscribeOptions{})
		fast := mustSubscribe(t, h, broadcast.SubscribeOptions{})
		var got []broadcast.Item
		start := time.Now()
		var endedAt time.Duration
		// 5 records every 100 ms: the stalled queue holds 10 after the
		// second flush and overflows at the third (t=300ms).
		every(h, 100*time.Millisecond, 20, 5, func(i int) {
			got = append(got, fast.Take()...)
			if endedAt == 0 && ended(stalled) {
				endedAt = time.Since(start)
			}
		})
		if want := 1300 * time.Millisecond; endedAt != want {
			t.Fatalf("stalled subscriber ended at %v, want %v (behind from 300ms, plus 1s)", endedAt, want)
		}
		if r := stalled.Reason(); r != broadcast.ReasonSlow {
			t.Fatalf("Reason()=%q, want %q", r, broadcast.ReasonSlow)
		}
		if items := stalled.Take(); len(items) != 0 {
			t.Fatalf("Take() after a slow end=%v, want nothing: its queue is released", describe(items))
		}
		if n := h.Subscribers(); n != 1 {
			t.Fatalf("Subscribers()=%d, want 1 (the fast one)", n)
		}
		if !same(merged(got), []string{"1-100"}) {
			t.Fatalf("fast subscriber got %v, want 1-100", merged(got))
		}
		stalled.Close() // the writer's Close after a slow end must not block
		if ended(fast) {
			t.Fatal("the fast subscriber was ended")
		}
	})
}

// A subscriber that takes regularly but never fast enough loses records
// between every two takes: it stays behind and is ended too.
func TestHubEndsSlowReader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, _ := startHub(t, broadcast.HubConfig{Ring: broadcast.NewRing(1000, 0), Queue: 10, SlowTimeout: time.Second})
		slow := mustSubscribe(t, h, broadcast.SubscribeOptions{})
		gaps := 0
		every(h, 100*time.Millisecond, 30, 5, func(i int) {
			if i%3 == 2 { // takes every 300 ms: 15 records arrived, 10 fit
				for _, it := range slow.Take() {
					if it.Batch == nil {
						gaps++
					}
				}
			}
		})
		if !ended(slow) || slow.Reason() != broadcast.ReasonSlow {
			t.Fatalf("a reader that loses records at every take: ended %v reason %q, want ended slow", ended(slow), slow.Reason())
		}
		if gaps == 0 {
			t.Fatal("it never got a gap: the test proves nothing")
		}
	})
}

// A subscriber that falls behind in a burst, then catches up, is forgiven:
// being behind is measured from the start of the current episode only.
func TestHubForgivesBurst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, _ := startHub(t, broadcast.HubConfig{Ring: broadcast.NewRing(1000, 0), Queue: 10, SlowTimeout: time.Second})
		s := mustSubscribe(t, h, broadcast.SubscribeOptions{})
		// 800 ms behind: overflows from the third flush on, no take.
		every(h, 100*time.Millisecond, 8, 5, nil)
		if ended(s) {
			t.Fatal("ended after 500ms behind, want alive (SlowTimeout 1s)")
		}
		s.Take() // catches up (with a gap)
		// Keeps up from now on, well past a second after it first fell behind.
		var got []broadcast.Item
		every(h, 100*time.Millisecond, 30, 5, func(int) { got = append(got, s.Take()...) })
		if ended(s) {
			t.Fatalf("ended with reason %q after it caught up", s.Reason())
		}
		if !same(merged(got), []string{"41-190"}) {
			t.Fatalf("after catching up got %v, want 41-190", merged(got))
		}
		// And a second burst starts a new episode: forgiven again.
		every(h, 100*time.Millisecond, 8, 5, nil)
		if ended(s) {
			t.Fatal("a second short burst ended it: the first episode was not forgotten")
		}
	})
}

// A batch bigger than the whole queue overflows even a subscriber that
// takes everything at once; that is no sign of slowness.
func TestHubBigBatchesAreNotSlowness(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, _ := startHub(t, broadcast.HubConfig{Ring: broadcast.NewRing(1000, 0), Queue: 10, SlowTimeout: time.Second})
		s := mustSubscribe(t, h, broadcast.SubscribeOptions{})
		gaps := 0
		every(h, 100*time.Millisecond, 30, 25, func(int) {
			for _, it := range s.Take() {
				if it.Batch == nil {
					gaps++
				}
			}
		})
		if ended(s) {
			t.Fatalf("a subscriber that takes every batch was ended (%q)", s.Reason())
		}
		if gaps != 30 {
			t.Fatalf("%d gaps, want 30 (each batch cut to the queue)", gaps)
		}
	})
}

// A negative SlowTimeout never ends anyone; zero means the default.
func TestHubSlowTimeoutOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, _ := startHub(t, broadcast.HubConfig{Ring: broadcast.NewRing(1000, 0), Queue: 10, SlowTimeout: -1})
		s := mustSubscribe(t, h, broadcast.SubscribeOptions{})
		every(h, time.Second, 100, 5, nil)
		if ended(s) {
			t.Fatal("ended with SlowTimeout < 0")
		}
		if s.Dropped() == 0 {
			t.Fatal("nothing dropped: the test proves nothing")
		}
	})
	synctest.Test(t, func(t *testing.T) {
		h, _ := startHub(t, broadcast.HubConfig{Ring: broadcast.NewRing(1000, 0), Queue: 10})
		s := mustSubscribe(t, h, broadcast.SubscribeOptions{})
		every(h, time.Second, int(broadcast.DefaultSlowTimeout/time.Second), 5, nil)
		if ended(s) {
			t.Fatal("ended before DefaultSlowTimeout")
		}
		every(h, time.Second, 3, 5, nil)
		if !ended(s) || s.Reason() != broadcast.ReasonSlow {
			t.Fatalf("not ended slow %v after DefaultSlowTimeout behind", s.Reason())
		}
	})
}

// A polling subscriber takes only when its client asks: it falls behind
// between polls by design and is never ended for it.
func TestHubPollingIsNotSlowness(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, _ := startHub(t, broadcast.HubConfig{Ring: broadcast.NewRing(1000, 0), Queue: 10, SlowTimeout: time.Second})
		s := mustSubscribe(t, h, broadcast.SubscribeOptions{})
		s.SetPolling(true)
		every(h, 100*time.Millisecond, 50, 5, func(i int) {
			if i%20 == 19 { // polls every 2 s
				s.Take()
			}
		})
		if ended(s) {
			t.Fatalf("a poller was ended (%q)", s.Reason())
		}
		s.SetPolling(false) // pushed again: the clock starts afresh
		every(h, 100*time.Millisecond, 5, 5, nil)
		if ended(s) {
			t.Fatal("ended 500ms after it stopped polling, want the full SlowTimeout")
		}
		every(h, 100*time.Millisecond, 10, 5, nil)
		if !ended(s) || s.Reason() != broadcast.ReasonSlow {
			t.Fatalf("a pushed subscriber that takes nothing for 1.5s: ended %v %q, want slow", ended(s), s.Reason())
		}
	})
}
