//go:build !linux

package transports

import (
	"sync"
	"syscall"
)

// poller is Idle without epoll: a parked connection waits in a goroutine
// of its own, on the runtime's poller, without reading. Closing the
// connection ends the wait too, so Wake has nothing to do.
type poller struct {
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

// Parked is one connection's registration in an Idle.
type Parked struct {
	p     *poller
	rc    syscall.RawConn
	ready func()
	woken chan struct{} // closed by Wake; set while WaitHangup waits, guarded by p.mu
}

func newPoller() (*poller, error) { return &poller{}, nil }

func (p *poller) add(rc syscall.RawConn, ready func()) *Parked {
	return &Parked{p: p, rc: rc, ready: ready}
}

// Wait parks the connection: ready is called once it is readable or
// closed.
func (k *Parked) Wait() error {
	p := k.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrEnded
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		waited := false
		// Returning false asks the runtime to wait until the descriptor
		// is readable and call again; nothing is read.
		k.rc.Read(func(uintptr) bool {
			if waited {
				return true
			}
			waited = true
			return false
		})
		k.ready()
	}()
	return nil
}

// WaitHangup parks a connection whose peer has ended its input: ready
// is called once it is woken (its owner closed it, a write having
// failed), never for input, which would be reported at once for good.
func (k *Parked) WaitHangup() error {
	p := k.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrEnded
	}
	woken := make(chan struct{})
	k.woken = woken
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		<-woken
		k.ready()
	}()
	return nil
}

// Wake ends the wait of WaitHangup and reports whether there was one; a
// connection parked by Wait ends its own wait when it is closed.
func (k *Parked) Wake() bool {
	p := k.p
	p.mu.Lock()
	woken := k.woken
	k.woken = nil
	p.mu.Unlock()
	if woken == nil {
		return false
	}
	close(woken)
	return true
}

// Remove does nothing here.
func (k *Parked) Remove() {}

// close waits for the parked connections, which their owners close.
func (p *poller) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.wg.Wait()
}
