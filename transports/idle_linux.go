//go:build linux

package transports

import (
	"fmt"
	"sync"
	"syscall"
)

// poller is Idle on Linux: one epoll instance and one goroutine blocked in
// epoll_wait for every parked connection. Connections are registered
// EPOLLONESHOT: an event disarms them until they park again.
type poller struct {
	epfd, evfd int
	done       chan struct{} // closed when the goroutine has returned

	mu     sync.Mutex
	next   uint64
	parked map[uint64]*Parked // every registered connection
	closed bool
}

// Parked is one connection's registration in an Idle.
type Parked struct {
	p     *poller
	rc    syscall.RawConn
	id    uint64
	ready func()
	added bool // in the epoll set; guarded by p.mu
	armed bool // waiting for an event; guarded by p.mu
}

const idleEvents = syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT

func newPoller() (*poller, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("create epoll instance: %w", err)
	}
	r, _, errno := syscall.Syscall(syscall.SYS_EVENTFD2, 0, syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
	if errno != 0 {
		syscall.Close(epfd)
		return nil, fmt.Errorf("create eventfd: %w", errno)
	}
	evfd := int(r)
	// The eventfd is event 0: writing to it wakes the goroutine to stop.
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, evfd, &syscall.EpollEvent{Events: syscall.EPOLLIN}); err != nil {
		syscall.Close(evfd)
		syscall.Close(epfd)
		return nil, fmt.Errorf("watch eventfd: %w", err)
	}
	p := &poller{epfd: epfd, evfd: evfd, done: make(chan struct{}), next: 1, parked: map[uint64]*Parked{}}
	go p.run()
	return p, nil
}

func (p *poller) run() {
	defer close(p.done)
	var events [128]syscall.EpollEvent
	for {
		n, err := syscall.EpollWait(p.epfd, events[:], -1)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			p.wakeAll() // not expected: let every connection look for itself
			return
		}
		for _, ev := range events[:n] {
			id := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			if id == 0 {
				return // Close
			}
			p.mu.Lock()
			k := p.parked[id]
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

func (p *poller) add(rc syscall.RawConn, ready func()) *Parked {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := &Parked{p: p, rc: rc, id: p.next, ready: ready}
	p.next++
	p.parked[k.id] = k
	return k
}

// Wait parks the connection: ready is called once it is readable, or woken.
// It fails if the connection is closed (its owner then ends it) or the
// Idle is; when ready has been called meanwhile it does not fail: the
// reader ready started ends the connection.
func (k *Parked) Wait() error {
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
	ev := syscall.EpollEvent{Events: idleEvents, Fd: int32(uint32(k.id)), Pad: int32(uint32(k.id >> 32))}
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

// Wake calls ready now if the connection is parked, and reports whether it
// was: its owner closed the connection, which epoll will never report.
func (k *Parked) Wake() bool {
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
func (k *Parked) Remove() {
	p := k.p
	p.mu.Lock()
	delete(p.parked, k.id)
	k.armed = false
	added := k.added
	p.mu.Unlock()
	if added {
		// A closed descriptor has left the set already; Control fails then.
		k.rc.Control(func(fd uintptr) { syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, int(fd), nil) })
	}
}

// wakeAll fires every parked connection.
func (p *poller) wakeAll() {
	p.mu.Lock()
	var fire []*Parked
	for _, k := range p.parked {
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

func (p *poller) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		<-p.done
		return
	}
	p.closed = true
	p.mu.Unlock()
	one := [8]byte{1}
	syscall.Write(p.evfd, one[:])
	<-p.done
	p.wakeAll()
	syscall.Close(p.evfd)
	syscall.Close(p.epfd)
}
