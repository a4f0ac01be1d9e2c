package transports

import (
	"bufio"
	"net"
	"net/http"
	"sync"
	"time"
)

// Drain bounds how long the streams may take to end. At shutdown Start
// moves the write deadline of every live stream, the writes already under
// way included, to one point in time, and keeps every later deadline from
// going past it: a client that stopped reading holds neither its goodbye
// nor the shutdown beyond that point, whatever the write timeout.
// Transports Track each connection's write deadline. The zero value is
// ready; a nil Drain bounds nothing. It is safe for concurrent use.
type Drain struct {
	mu    sync.Mutex
	until time.Time // zero until Start
	live  map[*Deadline]struct{}
}

// Deadline is one connection's write deadline under a Drain.
type Deadline struct {
	d   *Drain
	set func(time.Time) error // sets the connection's write deadline; called under d.mu
	at  time.Time             // the deadline in force, zero for none; guarded by d.mu
}

// Track registers a connection whose write deadline set sets. set must
// not block and must be safe to call from another goroutine than the
// writer's (net.Conn.SetWriteDeadline is; so is an HTTP/1 or HTTP/2
// http.ResponseController's until its handler returns). Release the
// Deadline before the connection is reused or closed.
func (d *Drain) Track(set func(time.Time) error) *Deadline {
	dl := &Deadline{d: d, set: set}
	if d == nil {
		return dl
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.live == nil {
		d.live = map[*Deadline]struct{}{}
	}
	d.live[dl] = struct{}{}
	if !d.until.IsZero() {
		dl.at = d.until
		set(d.until)
	}
	return dl
}

// Set sets the write deadline to t (zero: none), or to the drain's end if
// it has started and ends sooner. Holding the drain's lock while setting
// makes it atomic with Start: no deadline set after Start can undo it.
func (dl *Deadline) Set(t time.Time) error {
	if dl.d == nil {
		return dl.set(t)
	}
	dl.d.mu.Lock()
	defer dl.d.mu.Unlock()
	if u := dl.d.until; !u.IsZero() && (t.IsZero() || t.After(u)) {
		t = u
	}
	dl.at = t
	return dl.set(t)
}

// Release forgets the connection: Start will not touch it any more.
func (dl *Deadline) Release() {
	if dl.d == nil {
		return
	}
	dl.d.mu.Lock()
	defer dl.d.mu.Unlock()
	delete(dl.d.live, dl)
}

// Start bounds every write deadline, in force and to come, by until. A
// second Start can only move the bound earlier.
func (d *Drain) Start(until time.Time) {
	if d == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.until.IsZero() && d.until.Before(until) {
		return
	}
	d.until = until
	for dl := range d.live {
		if dl.at.IsZero() || dl.at.After(until) {
			dl.at = until
			dl.set(until)
		}
	}
}

// Live returns how many connections are tracked.
func (d *Drain) Live() int {
	if d == nil {
		return 0
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.live)
}

// HijackWith returns w whose Hijack hands out the connection as wrap
// returns it: how a WebSocket handler gets hold of the connection its
// upgrader hijacks, to put its write deadline under a Drain.
func HijackWith(w http.ResponseWriter, wrap func(net.Conn) net.Conn) http.ResponseWriter {
	return &hijacker{ResponseWriter: w, wrap: wrap}
}

type hijacker struct {
	http.ResponseWriter
	wrap func(net.Conn) net.Conn
}

func (h *hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	return h.wrap(c), brw, nil
}

func (h *hijacker) Unwrap() http.ResponseWriter { return h.ResponseWriter }
