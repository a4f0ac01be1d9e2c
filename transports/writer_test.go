package transports_test

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/weblogd/weblogd/transports"
)

// recorder is a Writer's flush and end: it counts, checks that no two
// writes ever flush at once, and can be made to block.
type recorder struct {
	flushes, beats, ends atomic.Int32
	inside               atomic.Int32 // flushes under way right now
	overlap              atomic.Bool
	gate                 chan struct{} // when set, each flush waits for a receive
	fail                 error         // returned by every flush once set
	mu                   sync.Mutex
}

func (r *recorder) flush(beat bool) (bool, error) {
	if r.inside.Add(1) > 1 {
		r.overlap.Store(true)
	}
	defer r.inside.Add(-1)
	r.flushes.Add(1)
	if beat {
		r.beats.Add(1)
	}
	r.mu.Lock()
	gate, fail := r.gate, r.fail
	r.mu.Unlock()
	if gate != nil {
		<-gate
	}
	return fail != nil, fail
}

func (r *recorder) end() { r.ends.Add(1) }

// Every case runs on a WriterPool of its own.
func TestWriter(t *testing.T) {
	t.Run("NotifyBeforeStartWaitsForIt", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var r recorder
			w := newWriter(t, r.flush, r.end, 0)
			w.Notify()
			w.Notify()
			synctest.Wait()
			if n := r.flushes.Load(); n != 0 {
				t.Fatalf("%d flushes before Start, want 0", n)
			}
			w.Start()
			synctest.Wait()
			if n := r.flushes.Load(); n != 1 {
				t.Fatalf("%d flushes after Start, want 1", n)
			}
			w.Stop(nil)
		})
	})

	// Notifies while a write is under way become one more flush, not one each:
	// what queued up meanwhile goes out in one write.
	t.Run("NotifiesCoalesce", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := recorder{gate: make(chan struct{})}
			w := newWriter(t, r.flush, r.end, 0)
			w.Start() // first flush, blocked at the gate
			synctest.Wait()
			for range 100 {
				w.Notify()
			}
			r.gate <- struct{}{} // the first ends; the notifies make one more
			r.gate <- struct{}{}
			synctest.Wait()
			if n := r.flushes.Load(); n != 2 {
				t.Fatalf("%d flushes for a Start and 100 notifies during it, want 2", n)
			}
			r.mu.Lock()
			r.gate = nil
			r.mu.Unlock()
			w.Notify() // the write is over: a new one
			synctest.Wait()
			if n := r.flushes.Load(); n != 3 {
				t.Fatalf("%d flushes after a later notify, want 3", n)
			}
			if err := w.Stop(errors.New("peer went")); err == nil || err.Error() != "peer went" {
				t.Fatalf("Stop()=%v, want the cause", err)
			}
			if r.overlap.Load() {
				t.Fatal("two flushes overlapped")
			}
		})
	})

	t.Run("Heartbeat", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var r recorder
			w := newWriter(t, r.flush, r.end, time.Second)
			w.Start()
			time.Sleep(3500 * time.Millisecond)
			synctest.Wait()
			if n := r.beats.Load(); n != 3 {
				t.Fatalf("%d heartbeats in 3.5 s at one a second, want 3", n)
			}
			w.Stop(nil)
			time.Sleep(5 * time.Second)
			synctest.Wait()
			if n := r.beats.Load(); n != 3 {
				t.Fatalf("%d heartbeats, want none after Stop", n)
			}
		})
	})

	// Do waits for the write under way, runs alone, and writes what is
	// pending before it lets go.
	t.Run("DoWaitsForTheWrite", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := recorder{gate: make(chan struct{})}
			w := newWriter(t, r.flush, r.end, 0)
			w.Start()
			synctest.Wait() // a write is in flush, at the gate
			ran := make(chan bool, 1)
			go func() {
				err := w.Do(func() error {
					ran <- r.inside.Load() == 0 // nobody else is writing
					return nil
				})
				if err != nil {
					t.Errorf("Do()=%v", err)
				}
			}()
			synctest.Wait()
			select {
			case <-ran:
				t.Fatal("Do ran during a write")
			default:
			}
			r.gate <- struct{}{} // the write ends; Do runs, then flushes
			if alone := <-ran; !alone {
				t.Fatal("Do's function ran while a flush was under way")
			}
			r.gate <- struct{}{}
			synctest.Wait()
			if n := r.flushes.Load(); n != 2 {
				t.Fatalf("%d flushes, want 2: the write's and Do's", n)
			}
			w.Stop(nil)
		})
	})

	// A failed write ends the stream: end is called once, nothing more is
	// written, Do refuses, and Stop reports the write's error.
	t.Run("ErrorEndsTheStream", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			broken := errors.New("write: broken pipe")
			r := recorder{fail: broken}
			w := newWriter(t, r.flush, r.end, time.Second)
			w.Start()
			synctest.Wait()
			w.Notify()
			time.Sleep(3 * time.Second) // no heartbeats either
			synctest.Wait()
			if n := r.flushes.Load(); n != 1 {
				t.Fatalf("%d flushes, want 1: nothing after the error", n)
			}
			if n := r.ends.Load(); n != 1 {
				t.Fatalf("end called %d times, want 1", n)
			}
			if err := w.Do(func() error { t.Error("Do ran after the end"); return nil }); !errors.Is(err, transports.ErrEnded) {
				t.Fatalf("Do()=%v, want ErrEnded", err)
			}
			if err := w.Stop(errors.New("peer went")); err != broken {
				t.Fatalf("Stop()=%v, want the write's error", err)
			}
		})
	})

	// Stop waits for the write under way, and no write starts after it.
	t.Run("StopWaitsForTheWrite", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := recorder{gate: make(chan struct{})}
			w := newWriter(t, r.flush, r.end, 0)
			w.Start()
			synctest.Wait()
			stopped := make(chan struct{})
			go func() {
				w.Stop(nil)
				close(stopped)
			}()
			synctest.Wait()
			select {
			case <-stopped:
				t.Fatal("Stop returned while a flush was under way")
			default:
			}
			r.gate <- struct{}{}
			<-stopped
			w.Notify()
			synctest.Wait()
			if n := r.flushes.Load(); n != 1 {
				t.Fatalf("%d flushes, want 1: none after Stop", n)
			}
			if n := r.ends.Load(); n != 0 {
				t.Fatalf("end called %d times after Stop, want 0: the owner closes", n)
			}
		})
	})
}

// newWriter makes a Writer on a WriterPool of its own, closed when the
// test ends.
func newWriter(t *testing.T, flush func(bool) (bool, error), end func(), heartbeat time.Duration) *transports.Writer {
	pool := new(transports.WriterPool)
	t.Cleanup(pool.Close)
	return transports.NewWriter(flush, end, heartbeat, pool)
}

// A WriterPool takes the writes of many writers with few goroutines (one
// left waiting when all is written), a write that waits on its peer holds
// up nobody, and Close waits for every goroutine.
func TestWriterPool(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pool := new(transports.WriterPool)
		rs := make([]*recorder, 100)
		ws := make([]*transports.Writer, 100)
		for i := range ws {
			rs[i] = new(recorder)
			ws[i] = transports.NewWriter(rs[i].flush, rs[i].end, 0, pool)
			ws[i].Start()
		}
		synctest.Wait()
		for i, r := range rs {
			if n := r.flushes.Load(); n != 1 {
				t.Fatalf("writer %d: %d flushes after Start, want 1", i, n)
			}
		}
		if n := pool.Live(); n > 1 {
			t.Fatalf("%d goroutines left for 100 writers that never wait, want at most 1", n)
		}

		// The first writer's next write waits on its peer; the others' go on.
		rs[0].mu.Lock()
		rs[0].gate = make(chan struct{})
		rs[0].mu.Unlock()
		for _, w := range ws {
			w.Notify()
		}
		synctest.Wait()
		for i, r := range rs[1:] {
			if n := r.flushes.Load(); n != 2 {
				t.Fatalf("writer %d: %d flushes while writer 0 waits, want 2", i+1, n)
			}
		}
		rs[0].gate <- struct{}{}

		for _, w := range ws {
			w.Stop(nil)
		}
		pool.Close()
		if n := pool.Live(); n != 0 {
			t.Fatalf("%d goroutines after Close, want 0", n)
		}
		// A write after Close (a last goodbye) still runs.
		var r recorder
		w := transports.NewWriter(r.flush, r.end, 0, pool)
		w.Start()
		synctest.Wait()
		if n := r.flushes.Load(); n != 1 {
			t.Fatalf("%d flushes after Close, want 1", n)
		}
		w.Stop(nil)
	})
}
