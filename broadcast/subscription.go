package broadcast

import (
	"sync"
	"sync/atomic"
)

// Reason says why a subscription ended. Reasons double as metric labels.
type Reason string

const (
	ReasonClosed   Reason = "closed"   // the subscriber closed it
	ReasonShutdown Reason = "shutdown" // the hub stopped
)

// DefaultQueue is the --queue default: how many records a subscriber may
// fall behind before its oldest undelivered records are dropped. At 4096 a
// subscriber survives a stall of several seconds of a busy server.
const DefaultQueue = 4096

// historyPage bounds how many history records one Take reads from the ring,
// so a resume from far back is written in pieces the writer can flush.
const historyPage = 1000

// SubscribeOptions says where a subscription starts. The zero value is the
// live feed only: records flushed after the subscription joined.
type SubscribeOptions struct {
	// Backlog asks for the newest Backlog records still in the ring (those
	// that Match) before the live feed.
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
}

// Subscription is one subscriber's view of the feed: the history it asked
// for, then every flushed batch, in seq order, each once, with gaps where
// records were lost to it. One goroutine drains it with Ready and Take.
type Subscription struct {
	hub   *Hub
	opts  SubscribeOptions
	limit int

	// Set by the hub loop when the subscription joins, read-only after.
	joined chan struct{}
	after  uint64 // live records with seq ≤ after are not delivered

	// History still to read, touched only by the draining goroutine.
	histNext, histTo uint64 // (histNext, histTo] is left to read
	histDone         bool

	ready chan struct{} // capacity 1: "something changed, call Take"
	done  chan struct{} // closed when the hub ends the subscription

	mu     sync.Mutex
	lead   Gap    // records dropped from the front of the queue
	queue  []Item // live items after lead
	queued int    // records in queue
	ended  bool
	reason Reason

	dropped atomic.Uint64 // records dropped because the queue overflowed
	close   sync.Once
}

// Ready is signalled when Take has something new, and when the subscription
// ends. After a signal, call Take until it returns nothing.
func (s *Subscription) Ready() <-chan struct{} { return s.ready }

// Done is closed when the hub has ended the subscription (see Reason).
// Whatever is still queued can be taken after that: a writer drains it and
// then says goodbye.
func (s *Subscription) Done() <-chan struct{} { return s.done }

// Reason says why the subscription ended; empty while it lives.
func (s *Subscription) Reason() Reason {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reason
}

// Dropped returns how many records were dropped from this subscriber's
// queue because it fell behind.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Start returns the seq after which the live feed of this subscription
// begins: the history it asked for ends there.
func (s *Subscription) Start() uint64 { return s.after }

// Take returns what is ready, in order: first the history asked for (read
// from the ring a page at a time), then the live queue. An empty result
// means nothing is ready: wait on Ready. Only one goroutine may call it.
func (s *Subscription) Take() []Item {
	if !s.histDone {
		if items := s.takeHistory(); len(items) > 0 {
			return items
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
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
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.ended, s.reason = true, r
	s.mu.Unlock()
	close(s.done)
	s.signal()
}

func (s *Subscription) signal() {
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

// offer queues an item without ever waiting for the subscriber: when the
// queue goes over its limit, the oldest records are dropped and become the
// lead gap. Only the hub loop calls it.
func (s *Subscription) offer(it Item) {
	if it.Batch != nil {
		if it.Batch = it.Batch.since(s.after); it.Batch == nil {
			return
		}
	} else if it.Gap.To <= s.after {
		return
	} else if it.Gap.From <= s.after {
		it.Gap.From = s.after + 1
	}
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.queue = append(s.queue, it)
	if it.Batch != nil {
		s.queued += len(it.Batch.Records)
	}
	for s.queued > s.limit {
		s.dropOldest(s.queued - s.limit)
	}
	s.mu.Unlock()
	s.signal()
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
		s.dropped.Add(uint64(len(recs)))
		return
	}
	// Cut the batch: its shared encoding is lost for this subscriber only.
	s.extendLead(Gap{From: recs[0].Seq, To: recs[n-1].Seq})
	s.queue[0] = Item{Batch: NewBatch(recs[n:])}
	s.queued -= n
	s.dropped.Add(uint64(n))
}

func (s *Subscription) extendLead(g Gap) {
	if s.lead.To == 0 {
		s.lead.From = g.From
	}
	s.lead.To = g.To
}
