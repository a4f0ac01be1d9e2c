package transports_test

import (
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/weblogd/weblogd/transports"
)

func TestLimiter(t *testing.T) {
	l := transports.NewLimiter(3, 2)
	acquire := func(addr string, want error) func() {
		t.Helper()
		release, err := l.Acquire(addr)
		if !errors.Is(err, want) {
			t.Fatalf("Acquire(%s)=%v, want %v", addr, err, want)
		}
		return release
	}
	a1 := acquire("192.0.2.1:1000", nil)
	acquire("192.0.2.1:1001", nil)
	// The port does not matter, nor how the same IPv4 address is written.
	acquire("192.0.2.1:1002", transports.ErrTooManyFromAddress)
	acquire("[::ffff:192.0.2.1]:1003", transports.ErrTooManyFromAddress)
	b := acquire("[2001:db8::1]:1000", nil)
	acquire("198.51.100.7:1000", transports.ErrTooManySubscribers) // 3 in all
	if n := l.Subscribers(); n != 3 {
		t.Fatalf("Subscribers()=%d, want 3", n)
	}
	a1()
	a1() // a second release gives nothing back twice
	if n := l.Subscribers(); n != 2 {
		t.Fatalf("Subscribers() after a double release=%d, want 2", n)
	}
	acquire("192.0.2.1:1004", nil)
	b()
	acquire("[2001:db8::1%eth0]:1000", nil) // a zone is the same address
}

func TestLimiterUnlimitedAndNil(t *testing.T) {
	for _, l := range []*transports.Limiter{transports.NewLimiter(0, -1), nil} {
		for i := 0; i < 1000; i++ {
			if _, err := l.Acquire("192.0.2.1:1"); err != nil {
				t.Fatalf("Acquire #%d on %v: %v, want no limit", i, l, err)
			}
		}
	}
}

func TestLimiterConcurrent(t *testing.T) {
	l := transports.NewLimiter(50, 0)
	var wg sync.WaitGroup
	var mu sync.Mutex
	granted := 0
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := l.Acquire("192.0.2.1:1"); err == nil {
				mu.Lock()
				granted++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if granted != 50 {
		t.Fatalf("%d granted of 200 concurrent Acquires, want exactly 50", granted)
	}
}

// A Drain cuts a write already blocked on a peer that does not read, and
// keeps every later deadline from going past its end.
func TestDrainBoundsPendingAndLaterWrites(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	peer, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close() // never reads
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	d := new(transports.Drain)
	dl := d.Track(c.SetWriteDeadline)
	defer dl.Release()
	if err := dl.Set(time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, 1<<20)
		for {
			if _, err := c.Write(buf); err != nil {
				done <- err
				return
			}
		}
	}()
	time.Sleep(100 * time.Millisecond) // the writer fills the buffers and blocks
	start := time.Now()
	d.Start(time.Now().Add(200 * time.Millisecond))
	select {
	case err := <-done:
		if !transports.IsTimeout(err) {
			t.Fatalf("write ended with %v, want a timeout", err)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Fatalf("the pending write ended %v after Start, want about 200ms", took)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a write blocked with a 1-minute deadline outlived the drain")
	}
	// Later deadlines cannot go past the drain's end, and a later Start
	// cannot move it later.
	d.Start(time.Now().Add(time.Hour))
	var got time.Time
	probe := d.Track(func(t time.Time) error { got = t; return nil })
	defer probe.Release()
	probe.Set(time.Now().Add(time.Minute))
	if time.Until(got) > time.Second {
		t.Fatalf("deadline set after Start is %v away, want bounded by the drain", time.Until(got))
	}
	probe.Set(time.Time{})
	if got.IsZero() {
		t.Fatal("no deadline after Start: a zero deadline must be bounded too")
	}
	if n := d.Live(); n != 2 {
		t.Fatalf("Live()=%d, want 2", n)
	}
}

func TestDrainNil(t *testing.T) {
	var d *transports.Drain
	var got time.Time
	dl := d.Track(func(t time.Time) error { got = t; return nil })
	want := time.Now().Add(time.Minute)
	dl.Set(want)
	d.Start(time.Now())
	dl.Release()
	if !got.Equal(want) {
		t.Fatalf("nil Drain: deadline %v, want %v untouched", got, want)
	}
}
