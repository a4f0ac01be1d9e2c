//go:build !linux

package transports

import (
	"crypto/tls"
	"sync"
	"syscall"
)

// platformPoller is the Poller without epoll: a waiting connection waits
// in a goroutine of its own, on the runtime's poller, without reading.
// Closing the connection ends the wait too, so Wake has nothing to do.
type platformPoller struct {
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

// Waiting is one connection's registration in a Poller.
type Waiting struct {
	p     *platformPoller
	rc    syscall.RawConn
	tls   *tls.Conn // nil for a plain connection
	ready func()
	woken chan struct{} // closed by Wake; set while WaitHangup waits, guarded by p.mu
}

func newPlatformPoller() (*platformPoller, error) { return &platformPoller{}, nil }

func (p *platformPoller) add(rc syscall.RawConn, tc *tls.Conn, ready func()) *Waiting {
	return &Waiting{p: p, rc: rc, tls: tc, ready: ready}
}

// WaitInput makes the connection wait: ready is called once it is
// readable or closed.
func (k *Waiting) WaitInput() error {
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

// WaitHangup waits for the hang-up of a connection whose peer has ended
// its input: ready is called once it is woken (its owner closed it, a
// write having failed), never for input, which would be reported at once
// for good.
func (k *Waiting) WaitHangup() error {
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
// connection waiting in WaitInput ends its wait when it is closed.
func (k *Waiting) Wake() bool {
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
func (k *Waiting) Remove() {}

// close waits for the waiting connections, which their owners close.
func (p *platformPoller) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.wg.Wait()
}
