package broadcast

import (
	"sync"
	"sync/atomic"
	"time"
)

// Reason says why a subscription ended. Reasons double as metric labels.
type Reason string

const (
	ReasonClosed   Reason = "closed"   // the subscriber closed it
	ReasonShutdown Reason = "shutdown" // the hub stopped
	ReasonSlow     Reason = "slow"     // it stayed behind longer than the hub's SlowTimeout
	ReasonKicked   Reason = "kicked"   // an operator disconnected it (Hub.Disconnect)
	ReasonRevoked  Reason = "revoked"  // its credentials were revoked (Hub.End)
)

// DefaultQueue is the --queue default: how many records a subscriber may
// fall behind before its oldest undelivered records are dropped. At 4096 a
// subscriber survives a stall of several seconds of a busy server.
const DefaultQueue = 4096

// DefaultSlowTimeout is how long a subscriber may stay behind (see
// HubConfig.SlowTimeout) before it is ended with ReasonSlow. Thirty seconds
// of continuous loss is no burst any more: the client cannot keep up with
// this feed, and ending it frees its queue and tells it so, while a
// dashboard that hiccups for a few seconds is left alone.
const DefaultSlowTimeout = 30 * time.Second

// historyPage bounds how many history records one Take reads from the ring,
// so a resume from far back is written in pieces the writer can flush.
const historyPage = 1000

// SubscribeOptions says where a subscription starts. The zero value is the
// live feed only: records the ring gains after the subscription joined.
type SubscribeOptions struct {
	// Backlog asks for the newest Backlog records in the ring as the
	// subscription joins (those that Match), before the live feed.
	Backlog int
	// Resume asks for every record after Since still in the ring, then the
	// live feed, with a gap for any that already left the ring. It wins over
	// Backlog. A Since beyond the newest record ever numbered (the server
	// restarted without its checkpoint) starts live.
	Resume bool
	Since  uint64
	// Match selects the Backlog records; nil selects all. Filtering the
	// live feed is the subscriber's own business.
	Match func(*Record) bool
	// Queue bounds this subscriber's queue in records; zero means the
	// hub's.
	Queue int
	// DropCounter, if set, has every record dropped from this queue added
	// to it by the hub as it drops it: live metrics, which a count read by
	// the subscriber's writer could not be while the writer is stuck.
	DropCounter *atomic.Uint64
	// Notify, if set, is called instead of signalling Ready (which is then
	// nil) when Take has something new and when the subscription ends: a
	// connection can start a writer only when there is something to
	// write, instead of keeping one waiting on Ready. It is called from
	// the hub loop (or Hub.Disconnect's caller) and must not block.
	Notify func()
	// Meta describes the subscriber for listings (Hub.List): the hub only
	// hands it back. Transports set a *transports.Peer.
	Meta any
}

// Subscription is one subscriber's view of the feed: the history it asked
// for, then every flushed batch, in seq order, each once, with gaps where
// records were lost to it. One goroutine drains it with Ready and Take.
type Subscription struct {
	hub   *Hub
	opts  SubscribeOptions
	limit int
	id    uint64 // the hub's number for it, for listings and Disconnect
	since int64  // when it subscribed, Unix ns

	// Set by the hub loop when the subscription joins, read-only after.
	after uint64 // live records with seq ≤ after are not delivered
	// offered is the seq of the newest record offered to it; the loop's.
	offered uint64

	// History still to read, touched only by the draining goroutine.
	histNext, histTo uint64 // (histNext, histTo] is left to read
	histDone         bool

	ready chan struct{} // capacity 1: "something changed, call Take"
	// reason is why the subscription ended; nil while it lives. It is
	// set under mu, before the signal that tells the writer.
	reason atomic.Pointer[Reason]

	mu     sync.Mutex
	lead   Gap    // records dropped from the front of the queue
	queue  []Item // live items after lead
	queued int    // records in queue
	// behindSince is when the subscriber fell behind: an offer overflowed
	// its queue while it still held items the subscriber had not taken.
	// Zero while it keeps up. overflowed says that happened since the
	// last Take: a Take with no overflow since the one before means the
	// subscriber caught up.
	behindSince int64 // Unix ns; 0: not behind
	overflowed  bool
	polling     bool // takes only when its client asks: never ended for being slow

	// held says a burst waits for it to take its queue (pacer.go), so
	// that Take need not lock to find out; lastTake is when Take last
	// took from the queue, Unix ns.
	held     atomic.Bool
	lastTake atomic.Int64

	dropped atomic.Uint64 // records dropped because the queue overflowed
	discard atomic.Bool   // ended for being slow: nothing more is delivered
	close   sync.Once
}

// Ready is signalled when Take has something new, and when the subscription
// ends. After a signal, read Reason, then call Take until it returns
// nothing: if Reason was set, the stream is over once that is written. It
// is nil when SubscribeOptions.Notify is set (Notify is called instead).
func (s *Subscription) Ready() <-chan struct{} { return s.ready }

// Reason says why the subscription ended; empty while it lives. Whatever
// was queued before the end can still be taken: a writer drains it and
// then says goodbye. It takes no lock: a writer asks at every write.
func (s *Subscription) Reason() Reason {
	if r := s.reason.Load(); r != nil {
		return *r
	}
	return ""
}

// ID returns the hub's number for the subscription: unique in the hub,
// never reused.
func (s *Subscription) ID() uint64 { return s.id }

// Dropped returns how many records were dropped from this subscriber's
// queue because it fell behind.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// SetPolling marks a subscription whose items are taken only when its
// client asks for them (the raw stream's NEW? polling), or unmarks it.
// Between two polls such a subscriber is expected to fall behind, so the
// hub never ends it for being slow; its queue still bounds its memory and
// its next answer starts with a gap.
func (s *Subscription) SetPolling(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.polling = on
	s.behindSince, s.overflowed = 0, false
}

// Start returns the seq after which the live feed of this subscription
// begins: the history it asked for ends there.
func (s *Subscription) Start() uint64 { return s.after }

// Take returns what is ready, in order: first the history asked for (read
// from the ring a page at a time), then the live queue. An empty result
// means nothing is ready: wait on Ready. Only one goroutine may call it.
func (s *Subscription) Take() []Item {
	if s.discard.Load() {
		// Ended for being slow: what it missed is not worth writing to a
		// client that cannot keep up; its writer only says goodbye.
		return nil
	}
	if !s.histDone {
		if items := s.takeHistory(); len(items) > 0 {
			return items
		}
	}
	if s.held.Load() {
		defer s.hub.release(s) // after the queue is taken, outside s.mu
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) > 0 || s.lead.To != 0 {
		// A writer that takes something is working. (Its last Take of a
		// write finds nothing: not worth a clock read.)
		s.lastTake.Store(time.Now().UnixNano())
	}
	if !s.overflowed {
		s.behindSince = 0 // nothing lost since the last Take: caught up
	}
	s.overflowed = false
	var items []Item
	if s.lead.To != 0 {
		items = append(items, Item{Gap: s.lead})
		s.lead = Gap{}
	}
	if len(s.queue) > 0 {
		items = append(items, s.queue...)
		s.queue = s.queue[:0:0]
		s.queued = 0
	}
	return items
}

func (s *Subscription) takeHistory() []Item {
	ring := s.hub.ring
	if !s.opts.Resume {
		s.histDone = true
		recs := ring.Tail(s.opts.Backlog, s.histTo, s.opts.Match)
		if len(recs) == 0 {
			return nil
		}
		return []Item{{Batch: NewBatch(recs)}}
	}
	var items []Item
	if s.histNext < s.histTo {
		recs, first := ring.After(s.histNext, s.histTo, historyPage)
		if first > s.histNext+1 {
			to := min(first-1, s.histTo)
			items = append(items, Item{Gap: Gap{From: s.histNext + 1, To: to}})
			s.histNext = to
		}
		if len(recs) > 0 {
			b := NewBatch(recs)
			items = append(items, Item{Batch: b})
			s.histNext = b.Last()
		}
	}
	if s.histNext >= s.histTo {
		s.histDone = true
	}
	return items
}

// Close ends the subscription from the subscriber's side. It is safe to
// call more than once and from any goroutine.
func (s *Subscription) Close() {
	s.close.Do(func() {
		s.hub.unregister(s)
		s.end(ReasonClosed)
		select {
		case s.hub.leave <- s:
		case <-s.hub.done:
		}
	})
}

// end marks the subscription ended; the hub calls it at shutdown.
func (s *Subscription) end(r Reason) {
	s.mu.Lock()
	ok := s.endLocked(r)
	s.mu.Unlock()
	if ok {
		s.signalEnd()
	}
}

// endLocked marks the subscription ended with s.mu held and reports
// whether it was not already; the caller then calls signalEnd without the
// lock. A slow subscriber's queue is released at once: its writer may sit
// in a write to a stalled peer until the write deadline, and the memory
// must not wait for it. A revoked one's too: what is queued was offered
// under credentials that are no longer good, and is not delivered.
func (s *Subscription) endLocked(r Reason) bool {
	if s.reason.Load() != nil {
		return false
	}
	s.reason.Store(&r)
	if r == ReasonSlow || r == ReasonRevoked {
		s.discard.Store(true)
		s.queue, s.queued, s.lead = nil, 0, Gap{}
	}
	return true
}

// signalEnd tells the writer that the subscription ended: the signal after
// Reason is set.
func (s *Subscription) signalEnd() {
	if s.held.Load() {
		s.hub.release(s)
	}
	s.signal()
}

func (s *Subscription) signal() {
	if s.opts.Notify != nil {
		s.opts.Notify()
		return
	}
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

// offer queues items (a batch, or a gap and a batch) without ever waiting
// for the subscriber: when the queue goes over its limit, the oldest
// records are dropped and become the lead gap. It ends the subscription
// with ReasonSlow, and reports so, when the subscriber has been behind for
// longer than slow (never when slow is zero). Only the hub loop calls it;
// now is the time of its flush. items is shared with other subscribers:
// it is not modified.
func (s *Subscription) offer(items []Item, now time.Time, slow time.Duration) (endedSlow bool) {
	var mine [2]Item
	keep := mine[:0]
	for _, it := range items {
		if it.Batch != nil {
			if it.Batch = it.Batch.since(s.after); it.Batch == nil {
				continue
			}
		} else if it.Gap.To <= s.after {
			continue
		} else if it.Gap.From <= s.after {
			it.Gap.From = s.after + 1
		}
		keep = append(keep, it)
	}
	if len(keep) == 0 {
		return false
	}
	s.mu.Lock()
	if s.reason.Load() != nil {
		s.mu.Unlock()
		return false
	}
	// Only an overflow of items the subscriber left untaken is its fault:
	// one batch bigger than the whole queue, offered to a subscriber that
	// has taken everything, overflows however fast it is.
	untaken := len(s.queue) > 0
	s.queue = append(s.queue, keep...)
	for _, it := range keep {
		if it.Batch != nil {
			s.queued += len(it.Batch.Records)
		}
	}
	overflow := false
	for s.queued > s.limit {
		s.dropOldest(s.queued - s.limit)
		overflow = true
	}
	half := s.queued > s.limit/2 && !s.polling
	ended := false
	if overflow && untaken && !s.polling {
		s.overflowed = true
		if s.behindSince == 0 {
			s.behindSince = now.UnixNano()
		}
		if slow > 0 && now.UnixNano()-s.behindSince >= int64(slow) {
			ended = s.endLocked(ReasonSlow)
		}
	}
	s.mu.Unlock()
	if ended {
		s.signalEnd()
		return true
	}
	if half {
		s.hub.hold(s, now)
	}
	s.signal()
	return false
}

// dropOldest drops up to n records from the front of the queue into the
// lead gap. Seqs in the queue are contiguous, so the gap stays one range.
func (s *Subscription) dropOldest(n int) {
	first := s.queue[0]
	if first.Batch == nil {
		s.extendLead(first.Gap)
		s.queue = s.queue[1:]
		return
	}
	recs := first.Batch.Records
	if n >= len(recs) {
		s.extendLead(Gap{From: recs[0].Seq, To: recs[len(recs)-1].Seq})
		s.queue = s.queue[1:]
		s.queued -= len(recs)
		s.countDropped(len(recs))
		return
	}
	// Cut the batch: its shared encoding is lost for this subscriber only.
	s.extendLead(Gap{From: recs[0].Seq, To: recs[n-1].Seq})
	s.queue[0] = Item{Batch: NewBatch(recs[n:])}
	s.queued -= n
	s.countDropped(n)
}

func (s *Subscription) countDropped(n int) {
	s.dropped.Add(uint64(n))
	if c := s.opts.DropCounter; c != nil {
		c.Add(uint64(n))
	}
}

func (s *Subscription) extendLead(g Gap) {
	if s.lead.To == 0 {
		s.lead.From = g.From
	}
	s.lead.To = g.To
}
