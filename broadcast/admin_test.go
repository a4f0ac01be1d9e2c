package broadcast_test

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/weblogd/weblogd/broadcast"
)

// List sees every live subscription with what it was given, and
// Disconnect ends one with ReasonKicked after what it had queued.
func TestHubListAndDisconnect(t *testing.T) {
	h, _ := startHub(t, broadcast.HubConfig{Ring: broadcast.NewRing(100, 0)})
	a := mustSubscribe(t, h, broadcast.SubscribeOptions{Meta: "a"})
	b := mustSubscribe(t, h, broadcast.SubscribeOptions{Meta: "b"})
	list := h.List()
	if len(list) != 2 || list[0].ID != a.ID() || list[0].Meta != "a" || list[1].Meta != "b" || list[0].Since.IsZero() {
		t.Fatalf("List()=%+v, want a then b", list)
	}
	publish(h, 3)
	<-a.Ready()
	waitFor := time.Now().Add(5 * time.Second)
	for h.List()[0].Queued != 3 && time.Now().Before(waitFor) {
		time.Sleep(time.Millisecond)
	}
	if q := h.List()[0].Queued; q != 3 {
		t.Fatalf("Queued=%d, want 3", q)
	}
	if !h.Disconnect(a.ID()) {
		t.Fatal("Disconnect(a)=false")
	}
	for a.Reason() == "" {
		<-a.Ready()
	}
	if r := a.Reason(); r != broadcast.ReasonKicked {
		t.Fatalf("Reason()=%q, want %q", r, broadcast.ReasonKicked)
	}
	// With no tick the loop may flush the three in one batch or more.
	if got := merged(a.Take()); !same(got, []string{"1-3"}) {
		t.Fatalf("after Disconnect, Take()=%v, want what was queued: 1-3", got)
	}
	a.Close()
	if list := h.List(); len(list) != 1 || list[0].ID != b.ID() {
		t.Fatalf("after Close, List()=%+v, want b alone", list)
	}
	if h.Disconnect(a.ID()) {
		t.Fatal("Disconnect of a closed subscription: true")
	}
	b.Close()
}

// The settings change while the loop runs: race-free (run with -race),
// and in force from the next flush.
func TestHubSettingsAtRunTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, stop := startHub(t, broadcast.HubConfig{Ring: broadcast.NewRing(100, 0), Tick: time.Second})
		s := mustSubscribe(t, h, broadcast.SubscribeOptions{})
		var wg sync.WaitGroup
		wg.Go(func() {
			for i := range 100 {
				h.SetTick(time.Duration(i) * time.Millisecond)
				h.SetSlowTimeout(time.Duration(i) * time.Second)
				_ = h.List()
			}
		})
		publish(h, 1)
		wg.Wait()
		h.SetTick(100 * time.Millisecond)
		if h.Tick() != 100*time.Millisecond || h.SlowTimeout() != 99*time.Second {
			t.Fatalf("Tick()=%v SlowTimeout()=%v", h.Tick(), h.SlowTimeout())
		}
		h.SetTick(-1)
		h.SetSlowTimeout(-1)
		if h.Tick() != 0 || h.SlowTimeout() != 0 {
			t.Fatalf("negative settings: Tick()=%v SlowTimeout()=%v, want 0 and 0", h.Tick(), h.SlowTimeout())
		}
		h.SetTick(100 * time.Millisecond)
		synctest.Wait()
		s.Take()
		s.Close()
		stop()
	})
}
