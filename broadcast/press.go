package broadcast

import (
	"sync"
	"time"
)

// Pressing is how a burst is absorbed without loss by subscribers that
// keep up. A producer reading a big backlog (a log that grew by a million
// lines while nobody read it) is faster than any writer, and on a small
// server it also takes the CPU the writers need: batches then pile into
// the queue of a subscriber whose writer simply has not had its turn, and
// it loses records although its peer reads as fast as anyone could.
//
// So when Publish has to wait for a flush (half a queue is pending: the
// producer is reading a backlog, never at a live log's pace), it also
// waits, after the flush, for the subscribers that are pressing: those
// whose queue is more than half full while their writer is working (it
// took something within pressWait). The wait ends when they take their
// queue, or when a subscriber's credit runs out. The credit is pressWait
// and refills at pressRefill of the time that passes, so a subscriber
// whose peer is merely slow holds a burst back by at most 1/pressRefill
// of its length, and one whose writer is stuck on a peer that does not
// read (no take for pressWait) holds nothing back: it falls behind and
// gets a gap, as before. At a live log's pace Publish never waits, and
// nobody presses.
const (
	pressWait   = 50 * time.Millisecond
	pressRefill = 20
)

// pressing is the hub's set of pressing subscribers, and each one's state.
type pressing struct {
	mu   sync.Mutex
	subs map[*Subscription]struct{}
	sig  chan struct{} // closed and replaced when one stops pressing
}

// pressState is one subscriber's; guarded by pressing.mu.
type pressState struct {
	since  time.Time     // when it started pressing; zero when not
	credit time.Duration // how much longer it may press
	at     time.Time     // when credit was last refilled
}

// refill adds the credit earned since the last refill.
func (p *pressState) refill(now time.Time) {
	if p.at.IsZero() {
		p.credit = pressWait
	} else {
		p.credit = min(pressWait, p.credit+now.Sub(p.at)/pressRefill)
	}
	p.at = now
}

// stop ends a press at now, spending the credit it used.
func (p *pressState) stop(now time.Time) {
	p.credit = max(0, p.credit-now.Sub(p.since))
	p.since = time.Time{}
}

// press marks s as pressing if its writer is working and it has credit.
// The hub loop calls it after offering to s a batch that left its queue
// more than half full.
func (h *Hub) press(s *Subscription, now time.Time) {
	if now.UnixNano()-s.lastTake.Load() > int64(pressWait) {
		return // its writer waits on its peer: holding the producer back would not help
	}
	p := &h.pressing
	p.mu.Lock()
	defer p.mu.Unlock()
	if s.press == nil {
		s.press = new(pressState)
	}
	if !s.press.since.IsZero() {
		return
	}
	s.press.refill(now)
	if s.press.credit <= 0 {
		return
	}
	s.press.since = now
	s.pressed.Store(true)
	if p.subs == nil {
		p.subs = make(map[*Subscription]struct{})
		p.sig = make(chan struct{})
	}
	p.subs[s] = struct{}{}
	h.npress.Store(int32(len(p.subs)))
}

// unpress ends s's press: it took its queue, or it ended.
func (h *Hub) unpress(s *Subscription) {
	p := &h.pressing
	p.mu.Lock()
	defer p.mu.Unlock()
	s.pressed.Store(false)
	if _, ok := p.subs[s]; !ok {
		return
	}
	now := time.Now()
	s.press.refill(now)
	s.press.stop(now)
	delete(p.subs, s)
	h.npress.Store(int32(len(p.subs)))
	close(p.sig)
	p.sig = make(chan struct{})
}

// awaitPressing waits until a pressing subscriber stops pressing or the
// first one's credit runs out, and reports whether it waited (false: nobody
// presses any more, or the hub stopped).
func (h *Hub) awaitPressing() bool {
	p := &h.pressing
	p.mu.Lock()
	now := time.Now()
	next := time.Duration(-1)
	for s := range p.subs {
		s.press.refill(now)
		left := s.press.credit - now.Sub(s.press.since)
		if left <= 0 {
			s.press.stop(now)
			s.pressed.Store(false)
			delete(p.subs, s)
			continue
		}
		if next < 0 || left < next {
			next = left
		}
	}
	h.npress.Store(int32(len(p.subs)))
	sig := p.sig
	p.mu.Unlock()
	if next < 0 {
		return false
	}
	t := time.NewTimer(next)
	defer t.Stop()
	select {
	case <-sig:
	case <-t.C:
	case <-h.done:
		return false
	}
	return true
}
