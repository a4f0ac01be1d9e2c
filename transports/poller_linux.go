//go:build linux

package transports

import (
	"crypto/tls"
	"fmt"
	"os"
	"sync"
	"syscall"
)

// platformPoller is the Poller on Linux: one epoll instance for every
// waiting connection, and one goroutine that collects its events. The
// goroutine does not block in epoll_wait: that would hold the scheduler's
// P until sysmon took it back (up to 10 ms), and on a server with one P
// nothing else would run meanwhile. The epoll descriptor is itself
// pollable, so the goroutine waits on the runtime's poller for it to be
// readable, and collects with a zero timeout. Connections are registered
// EPOLLONESHOT: an event disarms them until they wait again.
type platformPoller struct {
	epfd int
	file *os.File      // epfd, on the runtime's poller; closing it ends run
	done chan struct{} // closed when the goroutine has returned

	mu     sync.Mutex
	next   uint64
	conns  map[uint64]*Waiting // every registered connection
	closed bool
}

// Waiting is one connection's registration in a Poller.
type Waiting struct {
	p     *platformPoller
	rc    syscall.RawConn
	tls   *tls.Conn // nil for a plain connection
	id    uint64
	ready func()
	added bool // in the epoll set; guarded by p.mu
	armed bool // waiting for an event; guarded by p.mu
}

const (
	inputEvents = syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT
	// hangupEvents leave out input: a peer that has ended its input
	// keeps its connection readable for good. EPOLLERR and EPOLLHUP are
	// reported whether asked or not, but an entry that asks for nothing
	// else is taken for a disarmed one and reports nothing.
	hangupEvents = syscall.EPOLLERR | syscall.EPOLLHUP | syscall.EPOLLONESHOT
)

func newPlatformPoller() (*platformPoller, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("create epoll instance: %w", err)
	}
	if err := syscall.SetNonblock(epfd, true); err != nil {
		syscall.Close(epfd)
		return nil, fmt.Errorf("create epoll instance: %w", err)
	}
	p := &platformPoller{epfd: epfd, file: os.NewFile(uintptr(epfd), "epoll"), done: make(chan struct{}), next: 1,
		conns: map[uint64]*Waiting{}}
	rc, err := p.file.SyscallConn()
	if err != nil {
		p.file.Close()
		return nil, fmt.Errorf("create epoll instance: %w", err)
	}
	go p.run(rc)
	return p, nil
}

func (p *platformPoller) run(rc syscall.RawConn) {
	defer close(p.done)
	var (
		events [128]syscall.EpollEvent
		n      int
		werr   error
	)
	for {
		err := rc.Read(func(fd uintptr) bool {
			for {
				n, werr = syscall.EpollWait(int(fd), events[:], 0)
				if werr != syscall.EINTR {
					break
				}
			}
			// Nothing yet: the runtime waits for the descriptor to be
			// readable (an event pending) and calls again.
			return n > 0 || werr != nil
		})
		if err != nil {
			return // Close
		}
		if werr != nil {
			p.wakeAll() // not expected: let every connection look for itself
			return
		}
		for _, ev := range events[:n] {
			id := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			p.mu.Lock()
			k := p.conns[id]
			fire := k != nil && k.armed
			if fire {
				k.armed = false
			}
			p.mu.Unlock()
			if fire {
				k.ready()
			}
		}
	}
}

func (p *platformPoller) add(rc syscall.RawConn, tc *tls.Conn, ready func()) *Waiting {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := &Waiting{p: p, rc: rc, tls: tc, id: p.next, ready: ready}
	p.next++
	p.conns[k.id] = k
	return k
}

// WaitInput makes the connection wait: ready is called once it is
// readable, or woken. It fails if the connection is closed (its owner then
// ends it) or the Poller is; when ready has been called meanwhile it does
// not fail: the reader ready started ends the connection.
func (k *Waiting) WaitInput() error { return k.wait(inputEvents) }

// WaitHangup is WaitInput for a connection whose peer has ended its input
// (a read found the end of the stream) but may still read: ready is called
// once the connection is over (the peer reset it, which a write to a peer
// that went away brings about) or woken, never for input.
func (k *Waiting) WaitHangup() error { return k.wait(hangupEvents) }

func (k *Waiting) wait(events uint32) error {
	p := k.p
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrEnded
	}
	k.armed = true
	op := syscall.EPOLL_CTL_MOD
	if !k.added {
		op, k.added = syscall.EPOLL_CTL_ADD, true
	}
	p.mu.Unlock()
	ev := syscall.EpollEvent{Events: events, Fd: int32(uint32(k.id)), Pad: int32(uint32(k.id >> 32))}
	var err error
	cerr := k.rc.Control(func(fd uintptr) {
		// Under Control the descriptor cannot be closed and reused.
		err = syscall.EpollCtl(p.epfd, op, int(fd), &ev)
	})
	if cerr == nil {
		cerr = err
	}
	if cerr != nil {
		p.mu.Lock()
		woken := !k.armed
		k.armed = false
		p.mu.Unlock()
		if woken {
			// Wake (or an event) came first and has called ready: the
			// reader it started ends the connection, not this caller.
			return nil
		}
	}
	return cerr
}

// Wake calls ready now if the connection is waiting, and reports whether it
// was: its owner closed the connection, which epoll will never report.
func (k *Waiting) Wake() bool {
	p := k.p
	p.mu.Lock()
	fire := k.armed
	k.armed = false
	p.mu.Unlock()
	if fire {
		k.ready()
	}
	return fire
}

// Remove forgets the connection; call it once, when it is done with.
func (k *Waiting) Remove() {
	p := k.p
	p.mu.Lock()
	delete(p.conns, k.id)
	k.armed = false
	added := k.added
	p.mu.Unlock()
	if added {
		// A closed descriptor has left the set already; Control fails then.
		k.rc.Control(func(fd uintptr) { syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, int(fd), nil) })
	}
}

// wakeAll fires every waiting connection.
func (p *platformPoller) wakeAll() {
	p.mu.Lock()
	var fire []*Waiting
	for _, k := range p.conns {
		if k.armed {
			k.armed = false
			fire = append(fire, k)
		}
	}
	p.mu.Unlock()
	for _, k := range fire {
		k.ready()
	}
}

func (p *platformPoller) close() {
	p.mu.Lock()
	first := !p.closed
	p.closed = true
	p.mu.Unlock()
	if first {
		p.file.Close() // ends run's wait
	}
	<-p.done
	p.wakeAll()
}
