package broadcast_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/weblogd/weblogd/broadcast"
	"github.com/weblogd/weblogd/record"
)

// startHub runs a hub in the test's bubble or goroutine and returns it with
// a stop function that cancels it and waits for Run to return.
func startHub(t *testing.T, c broadcast.HubConfig) (*broadcast.Hub, func()) {
	t.Helper()
	h := broadcast.NewHub(c)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	<-h.Running()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run()=%v, want nil", err)
			}
		})
	}
	t.Cleanup(stop)
	return h, stop
}

func mustSubscribe(t *testing.T, h *broadcast.Hub, o broadcast.SubscribeOptions) *broadcast.Subscription {
	t.Helper()
	s, err := h.Subscribe(context.Background(), o)
	if err != nil {
		t.Fatalf("Subscribe()=%v", err)
	}
	return s
}

func publish(h *broadcast.Hub, n int) {
	for i := 0; i < n; i++ {
		h.Publish(&record.Record{})
	}
}

// describe renders items compactly: "1-3" for a batch of seqs 1..3 (or
// "1,3,5" when not consecutive), "gap 4-9" for a gap.
func describe(items []broadcast.Item) []string {
	var out []string
	for _, it := range items {
		if it.Batch == nil {
			out = append(out, fmt.Sprintf("gap %d-%d", it.Gap.From, it.Gap.To))
			continue
		}
		s := seqs(it.Batch.Records)
		if equal(s, span(s[0], s[len(s)-1])) {
			out = append(out, fmt.Sprintf("%d-%d", s[0], s[len(s)-1]))
		} else {
			out = append(out, fmt.Sprint(s))
		}
	}
	return out
}

// merged is describe with consecutive batches joined, for tests where the
// batch boundaries depend on scheduling.
func merged(items []broadcast.Item) []string {
	var out []string
	var from, to uint64
	emit := func() {
		if from != 0 {
			out = append(out, fmt.Sprintf("%d-%d", from, to))
			from = 0
		}
	}
	for _, it := range items {
		if it.Batch == nil {
			emit()
			out = append(out, fmt.Sprintf("gap %d-%d", it.Gap.From, it.Gap.To))
			continue
		}
		for _, r := range it.Batch.Records {
			if from != 0 && r.Seq != to+1 {
				emit()
			}
			if from == 0 {
				from = r.Seq
			}
			to = r.Seq
		}
	}
	emit()
	return out
}

func same(a, b []string) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

func TestHubTick(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, _ := startHub(t, broadcast.HubConfig{Ring: broadcast.NewRing(100, 0), Tick: 50 * time.Millisecond})
		s := mustSubscribe(t, h, broadcast.SubscribeOptions{})

		// After a quiet period the first record goes out at once.
		time.Sleep(time.Second)
		publish(h, 1)
		synctest.Wait()
		if got := describe(s.Take()); !same(got, []string{"1-1"}) {
			t.Fatalf("leading edge: Take()=%v, want [1-1]", got)
		}
		// More within the same tick wait for its end, and go as one batch.
		time.Sleep(10 * time.Millisecond)
		publish(h, 3)
		synctest.Wait()
		if got := s.Take(); len(got) != 0 {
			t.Fatalf("within the tick: Take()=%v, want nothing yet", describe(got))
		}
		time.Sleep(39 * time.Millisecond)
		synctest.Wait()
		if got := s.Take(); len(got) != 0 {
			t.Fatalf("1ms before the tick: Take()=%v, want nothing yet", describe(got))
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if got := describe(s.Take()); !same(got, []string{"2-4"}) {
			t.Fatalf("at the tick: Take()=%v, want [2-4]", got)
		}
		if got := h.Flushes(); got != 2 {
			t.Fatalf("Flushes()=%d, want 2", got)
		}
	})
}

// A Gather brings records in without waking the loop: the loop calls it
// at the end of every tick after one that flushed records, and what it
// appends is in that tick's flush. A tick whose Gather brings nothing ends
// the gathering until a publisher wakes the loop again.
func TestHubGather(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ring := broadcast.NewRing(100, 0)
		var (
			calls []time.Duration // when Gather was called, since start
			bring = 3             // records the next Gathers append, one each
		)
		start := time.Now()
		h, _ := startHub(t, broadcast.HubConfig{Ring: ring, Tick: 50 * time.Millisecond, Gather: func() {
			calls = append(calls, time.Since(start))
			if bring > 0 {
				bring--
				ring.Append(&record.Record{}) // no Publish: nothing wakes the loop
			}
		}})
		s := mustSubscribe(t, h, broadcast.SubscribeOptions{})

		publish(h, 1) // leading edge: flushed at once
		synctest.Wait()
		if got := describe(s.Take()); !same(got, []string{"1-1"}) {
			t.Fatalf("leading edge: Take()=%v, want [1-1]", got)
		}
		var got []string
		for i := 0; i < 6; i++ {
			time.Sleep(50 * time.Millisecond)
			synctest.Wait()
			got = append(got, describe(s.Take())...)
		}
		if !same(got, []string{"2-2", "3-3", "4-4"}) {
			t.Fatalf("gathered: Take()=%v, want [2-2 3-3 4-4], one a tick", got)
		}
		want := []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 150 * time.Millisecond, 200 * time.Millisecond}
		if fmt.Sprint(calls) != fmt.Sprint(want) {
			t.Fatalf("Gather called at %v, want %v: every tick while it brings records, and once more", calls, want)
		}

		// Quiet again: the next record goes out at once, and gathering resumes.
		publish(h, 1)
		synctest.Wait()
		if got := describe(s.Take()); !same(got, []string{"5-5"}) {
			t.Fatalf("after the gathering: Take()=%v, want [5-5]", got)
		}
		time.Sleep(50 * time.Millisecond)
		synctest.Wait()
		if len(calls) != 5 {
			t.Fatalf("Gather called %d times, want 5: once a tick after a flush", len(calls))
		}
	})
}

func TestHubTickZeroFlushesEveryRecord(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, _ := startHub(t, broadcast.HubConfig{Ring: broadcast.NewRing(100, 0)})
		s := mustSubscribe(t, h, broadcast.SubscribeOptions{})
		for i := 0; i < 3; i++ {
			publish(h, 1)
			synctest.Wait()
		}
		if got := describe(s.Take()); !same(got, []string{"1-1", "2-2", "3-3"}) {
			t.Fatalf("Take()=%v, want three batches of one", got)
		}
	})
}

func TestHubSlowSubscriberGetsExactGap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, _ := startHub(t, broadcast.HubConfig{Ring: broadcast.NewRing(100, 0), Queue: 10})
		slow := mustSubscribe(t, h, broadcast.SubscribeOptions{})
		fast := mustSubscribe(t, h, broadcast.SubscribeOptions{})
		var got []string
		for i := 0; i < 5; i++ {
			publish(h, 5)
			synctest.Wait()
			got = append(got, merged(fast.Take())...)
		}
		if !same(got, []string{"1-5", "6-10", "11-15", "16-20", "21-25"}) {
			t.Fatalf("fast subscriber got %v", got)
		}
		if got := merged(slow.Take()); !same(got, []string{"gap 1-15", "16-25"}) {
			t.Fatalf("slow subscriber Take()=%v, want [gap 1-15 16-25]", got)
		}
		if got := slow.Dropped(); got != 15 {
			t.Fatalf("Dropped()=%d, want 15", got)
		}
		// A batch larger than the whole queue is cut to its newest records.
		publish(h, 25)
		synctest.Wait()
		if got := merged(slow.Take()); !same(got, []string{"gap 26-40", "41-50"}) {
			t.Fatalf("after a burst of 25, Take()=%v, want [gap 26-40 41-50]", got)
		}
		// Once it keeps up, nothing more is missed.
		publish(h, 3)
		synctest.Wait()
		if got := merged(slow.Take()); !same(got, []string{"51-53"}) {
			t.Fatalf("caught up: Take()=%v, want [51-53]", got)
		}
	})
}

func TestHubHistory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cases := []struct {
			name string
			opts broadcast.SubscribeOptions
			want []string
		}{
			{"live only", broadcast.SubscribeOptions{}, nil},
			{"backlog", broadcast.SubscribeOptions{Backlog: 3}, []string{"28-30"}},
			{"backlog beyond the ring", broadcast.SubscribeOptions{Backlog: 50}, []string{"21-30"}},
			{"backlog of a filter", broadcast.SubscribeOptions{Backlog: 2, Match: func(r *record.Record) bool { return r.Seq%2 == 1 }}, []string{"[27 29]"}},
			{"resume within the ring", broadcast.SubscribeOptions{Resume: true, Since: 25}, []string{"26-30"}},
			{"resume from before the ring", broadcast.SubscribeOptions{Resume: true, Since: 5}, []string{"gap 6-20", "21-30"}},
			{"resume from zero", broadcast.SubscribeOptions{Resume: true}, []string{"gap 1-20", "21-30"}},
			{"resume at the newest", broadcast.SubscribeOptions{Resume: true, Since: 30}, nil},
		}
		for _, c := range cases {
			h, stop := startHub(t, broadcast.HubConfig{Ring: broadcast.NewRing(10, 0)})
			publish(h, 30) // the ring keeps 21..30
			synctest.Wait()
			s := mustSubscribe(t, h, c.opts)
			var got []string
			for items := s.Take(); len(items) > 0; items = s.Take() {
				got = append(got, describe(items)...)
			}
			if !same(got, c.want) {
				t.Errorf("%s: history %v, want %v", c.name, got, c.want)
			}
			publish(h, 1)
			synctest.Wait()
			want := fmt.Sprintf("%d-%d", h.Flushed(), h.Flushed())
			if got := describe(s.Take()); !same(got, []string{want}) {
				t.Errorf("%s: live after history %v, want [%s]", c.name, got, want)
			}
			s.Close()
			stop()
		}
	})
}

// A since beyond any seq the server gave out means it restarted without its
// checkpoint: the subscriber starts live rather than waiting for the
// numbering to catch up.
func TestHubResumeAheadStartsLive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, _ := startHub(t, broadcast.HubConfig{Ring: broadcast.NewRing(10, 0)})
		publish(h, 2)
		synctest.Wait()
		s := mustSubscribe(t, h, broadcast.SubscribeOptions{Resume: true, Since: 5000})
		publish(h, 4)
		synctest.Wait()
		if got := merged(s.Take()); !same(got, []string{"3-6"}) {
			t.Fatalf("Take()=%v, want [3-6]", got)
		}
	})
}

func TestHubShutdownDrains(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, stop := startHub(t, broadcast.HubConfig{Ring: broadcast.NewRing(10, 0), Tick: time.Second})
		s := mustSubscribe(t, h, broadcast.SubscribeOptions{})
		publish(h, 1) // leading edge
		synctest.Wait()
		publish(h, 2) // waits for the tick, which shutdown pre-empts
		synctest.Wait()
		stop()
		select {
		case <-s.Done():
		default:
			t.Fatal("Done() not closed after the hub stopped")
		}
		if got := s.Reason(); got != broadcast.ReasonShutdown {
			t.Fatalf("Reason()=%q, want %q", got, broadcast.ReasonShutdown)
		}
		if got := describe(s.Take()); !same(got, []string{"1-1", "2-3"}) {
			t.Fatalf("Take() after shutdown=%v, want [1-1 2-3]", got)
		}
		if _, err := h.Subscribe(context.Background(), broadcast.SubscribeOptions{}); !errors.Is(err, broadcast.ErrClosed) {
			t.Fatalf("Subscribe() after stop = %v, want ErrClosed", err)
		}
		s.Close() // must not block after the hub stopped
	})
}

func TestHubCloseLeaves(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, _ := startHub(t, broadcast.HubConfig{Ring: broadcast.NewRing(10, 0)})
		s := mustSubscribe(t, h, broadcast.SubscribeOptions{})
		if got := h.Subscribers(); got != 1 {
			t.Fatalf("Subscribers()=%d, want 1", got)
		}
		s.Close()
		s.Close()
		synctest.Wait()
		if got := h.Subscribers(); got != 0 {
			t.Fatalf("Subscribers() after Close=%d, want 0", got)
		}
		if got := s.Reason(); got != broadcast.ReasonClosed {
			t.Fatalf("Reason()=%q, want %q", got, broadcast.ReasonClosed)
		}
	})
}

// A producer much faster than the loop never pushes unflushed records out
// of the ring: Publish waits, and a subscriber that keeps up loses nothing.
func TestHubBackPressureLosesNothing(t *testing.T) {
	h, _ := startHub(t, broadcast.HubConfig{Ring: broadcast.NewRing(8, 0), Tick: 20 * time.Millisecond, Queue: 100000})
	s := mustSubscribe(t, h, broadcast.SubscribeOptions{})
	const n = 20000
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			publish(h, n/4)
		}()
	}
	var next uint64 = 1
	deadline := time.After(20 * time.Second)
	for next <= n {
		select {
		case <-s.Ready():
		case <-deadline:
			t.Fatalf("received up to %d of %d", next-1, n)
		}
		for _, it := range s.Take() {
			if it.Batch == nil {
				t.Fatalf("gap %d-%d, want none", it.Gap.From, it.Gap.To)
			}
			for _, r := range it.Batch.Records {
				if r.Seq != next {
					t.Fatalf("got seq %d, want %d", r.Seq, next)
				}
				next++
			}
		}
	}
	wg.Wait()
}

func BenchmarkHubFanout(b *testing.B) {
	for _, subs := range []int{1, 100, 1000, 10000} {
		b.Run(fmt.Sprintf("subs=%d", subs), func(b *testing.B) {
			h := broadcast.NewHub(broadcast.HubConfig{Ring: broadcast.NewRing(broadcast.DefaultRingSize, 0)})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { h.Run(ctx); close(done) }()
			var wg sync.WaitGroup
			for i := 0; i < subs; i++ {
				s, _ := h.Subscribe(ctx, broadcast.SubscribeOptions{})
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						select {
						case <-s.Ready():
							s.Take()
						case <-s.Done():
							return
						}
					}
				}()
			}
			b.ReportAllocs()
			for b.Loop() {
				h.Publish(&record.Record{})
			}
			cancel()
			<-done
			wg.Wait()
		})
	}
}

// With Notify, the hub calls it instead of signalling Ready: for each
// flush that has something for the subscriber, and when it ends.
func TestHubNotify(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, stop := startHub(t, broadcast.HubConfig{Ring: broadcast.NewRing(100, 0)})
		var calls int
		var mu sync.Mutex
		s := mustSubscribe(t, h, broadcast.SubscribeOptions{Notify: func() {
			mu.Lock()
			calls++
			mu.Unlock()
		}})
		if s.Ready() != nil {
			t.Fatal("Ready() is not nil with Notify")
		}
		publish(h, 1)
		synctest.Wait()
		publish(h, 1)
		synctest.Wait()
		if got := describe(s.Take()); !same(got, []string{"1-1", "2-2"}) {
			t.Fatalf("Take()=%v, want [1-1 2-2]", got)
		}
		stop()
		mu.Lock()
		defer mu.Unlock()
		if calls != 3 {
			t.Fatalf("Notify called %d times, want 3: two flushes and the end", calls)
		}
	})
}

// A backlog is the newest records in the ring as the subscriber joins,
// whether or not the hub has flushed them yet, and the live feed starts
// after them: records waiting for the end of the tick are not counted
// twice, nor offered again as live.
func TestHubBacklogCountsUnflushedRecords(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, stop := startHub(t, broadcast.HubConfig{Ring: broadcast.NewRing(100, 0), Tick: time.Hour})
		publish(h, 1) // a leading edge: flushed at once
		synctest.Wait()
		publish(h, 4) // within the tick: they wait for its end
		synctest.Wait()
		if f, last := h.Flushed(), h.Ring().Last(); f != 1 || last != 5 {
			t.Fatalf("Flushed()=%d, Ring().Last()=%d, want 1 and 5", f, last)
		}
		for _, c := range []struct {
			name string
			opts broadcast.SubscribeOptions
			want []string
		}{
			{"backlog=2", broadcast.SubscribeOptions{Backlog: 2}, []string{"4-5"}},
			{"backlog=1", broadcast.SubscribeOptions{Backlog: 1}, []string{"5-5"}},
			{"since=2", broadcast.SubscribeOptions{Resume: true, Since: 2}, []string{"3-5"}},
			{"live only", broadcast.SubscribeOptions{}, nil},
		} {
			s := mustSubscribe(t, h, c.opts)
			var got []string
			for items := s.Take(); len(items) > 0; items = s.Take() {
				got = append(got, describe(items)...)
			}
			if !same(got, c.want) {
				t.Errorf("%s: history %v, want %v", c.name, got, c.want)
			}
			t.Cleanup(s.Close)
			defer func() {
				// The end of the tick (here, the shutdown's final flush)
				// offers 2..5, all of which it had.
				if got := describe(s.Take()); len(got) != 0 {
					t.Errorf("%s: live %v, want nothing", c.name, got)
				}
			}()
		}
		stop()
	})
}
