package broadcast_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
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

// The tick bounds how long a record waits, and within it the pacer makes
// records wait only while batching pays: ten subscribers of a log of 4,000
// lines a second get flushes n/W = 1.5 ms apart, and with a 1 ms tick,
// 1 ms apart.
func TestHubTick(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPaced(t, 10, 10000, 50*time.Millisecond)
		spacing := func(want time.Duration) {
			t.Helper()
			p.run(250*time.Microsecond, 500*time.Millisecond)
			from := p.count()
			p.run(250*time.Microsecond, 100*time.Millisecond)
			flushes, waits := p.since(from)
			for i := 1; i < len(flushes); i++ {
				if d := flushes[i].Sub(flushes[i-1]); d != want {
					t.Fatalf("flushes %v apart, want %v", d, want)
				}
			}
			if m := slices.Max(waits); m > want {
				t.Fatalf("a record waited %v, want at most %v", m, want)
			}
		}
		spacing(10 * time.Second / broadcast.W)
		p.h.SetTick(time.Millisecond)
		spacing(time.Millisecond)
	})
}

// Gather brings records in without waking the loop, and only where
// flushes are spaced: it is called just before each timed flush, never
// while every record goes at once. While what it brings keeps coming, each
// timed flush arms the next; a Gather that brings nothing ends it.
func TestHubGather(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPaced(t, 100, 10000, 50*time.Millisecond)
		gathers := func() []time.Time {
			p.mu.Lock()
			defer p.mu.Unlock()
			return slices.Clone(p.gathers)
		}
		p.run(10*time.Millisecond, 500*time.Millisecond)
		if g := gathers(); len(g) != 0 {
			t.Fatalf("Gather called %d times while every record went at once, want none", len(g))
		}
		p.run(time.Millisecond, 500*time.Millisecond)
		if len(gathers()) == 0 {
			t.Fatal("Gather never called while flushes were spaced")
		}

		// The producer stops; three Gathers bring a record each.
		p.mu.Lock()
		p.bring, p.pub = 3, nil
		p.mu.Unlock()
		g0, f0 := len(gathers()), p.count()
		time.Sleep(time.Second)
		synctest.Wait()
		g := gathers()[g0:]
		iv := 100 * time.Second / broadcast.W
		if len(g) != 4 {
			t.Fatalf("after the producer stopped, Gather called %d times, want 4: three that bring a record, one that brings none", len(g))
		}
		for i := 1; i < len(g); i++ {
			if d := g[i].Sub(g[i-1]); d != iv {
				t.Fatalf("Gathers %v apart, want the spacing, %v", d, iv)
			}
		}
		if got := p.h.Flushed(); got != p.h.Ring().Last() {
			t.Fatalf("Flushed()=%d, want all %d", got, p.h.Ring().Last())
		}
		if n := p.count() - f0; n != 3 {
			t.Fatalf("%d flushes after the producer stopped, want 3", n)
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
		publish(h, 1)
		synctest.Wait()
		h.Ring().Append(&record.Record{}) // not published: they wait for a
		h.Ring().Append(&record.Record{}) // flush, which shutdown makes
		// One that joins now is given nothing: only the end signals it.
		other := mustSubscribe(t, h, broadcast.SubscribeOptions{})
		stop()
		select {
		case <-other.Ready():
		default:
			t.Fatal("Ready not signalled at the end")
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

// A producer much faster than the loop loses nothing for subscribers that
// keep up when they are many: all are flushed when Publish waits.
func TestHubBackPressureLosesNothingForMany(t *testing.T) {
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
						<-s.Ready()
						over := s.Reason() != ""
						if s.Take(); over {
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
// after them: records waiting for a flush are not counted twice, nor
// offered again as live.
func TestHubBacklogCountsUnflushedRecords(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, stop := startHub(t, broadcast.HubConfig{Ring: broadcast.NewRing(100, 0), Tick: time.Hour})
		publish(h, 1)
		synctest.Wait()
		for range 4 {
			h.Ring().Append(&record.Record{}) // not published: they wait for a flush
		}
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
				// The shutdown's final flush offers 2..5, all of which it
				// had.
				if got := describe(s.Take()); len(got) != 0 {
					t.Errorf("%s: live %v, want nothing", c.name, got)
				}
			}()
		}
		stop()
	})
}
