package broadcast

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// ErrClosed is returned by Subscribe once the hub has stopped.
var ErrClosed = errors.New("broadcast: hub closed")

// HubConfig configures a Hub.
type HubConfig struct {
	// Ring holds the records; required.
	Ring *Ring
	// Tick is the longest a record waits before it is flushed. Within
	// it, the pacer (pacer.go) makes a record wait only while batching
	// pays: with few subscribers or a slow log every record is flushed
	// at once. Zero flushes every record at once.
	Tick time.Duration
	// Queue bounds each subscriber's queue in records. Zero means
	// DefaultQueue.
	Queue int
	// SlowTimeout ends a subscriber that stays behind for longer than
	// this with ReasonSlow. A subscriber falls behind when a flush
	// overflows its queue while it still holds items the subscriber had
	// not taken; it has caught up when it takes its queue and nothing
	// overflowed since its previous take. The check runs at each flush,
	// so without new records nobody is ended (a stalled writer is the
	// write deadline's business). Zero means DefaultSlowTimeout; negative
	// never ends a subscriber for being slow.
	SlowTimeout time.Duration
	// Gather, if set, is called by the loop just before each spaced
	// flush, never while every record is flushed at once (Publish wakes
	// the loop then), to bring in the records on their way: the feed
	// reads its logs then (tailer.Tailer.Gather), and a tailer whose
	// gathered reads keep finding lines is no longer woken by each write.
	// It is kept for the CPU it saves many subscribers of a busy log
	// (weblogbench row 1000x1000, CPU). It must bound its own wait: the
	// loop waits for it.
	Gather func()
	// OnFlush, if set, is called by the loop after each flush with how
	// long it took and how many records it offered (for metrics). It must
	// not block.
	OnFlush func(took time.Duration, records int)
}

// Hub runs the loop that flushes what the ring gained to every subscriber.
// NewHub starts nothing; Run is the loop.
type Hub struct {
	ring *Ring
	// tick and slow are the settings that can change while the loop runs
	// (SetTick, SetSlowTimeout), hence atomic; the loop reads them at each
	// use. slow zero: never end a subscriber for being slow.
	tick    atomic.Int64 // time.Duration
	slow    atomic.Int64 // time.Duration
	queue   int
	onFlush func(time.Duration, int)
	gather  func()

	join    chan *Subscription
	joined  chan struct{} // unbuffered: the loop has added the subscription that Subscribe sent
	leave   chan *Subscription
	wake    chan struct{} // capacity 1: records were published
	running chan struct{} // closed when Run has taken the ring's position
	done    chan struct{} // closed when Run has returned

	pace    pacer
	flushed atomic.Uint64 // seq of the newest record offered to every subscriber
	newest  uint64        // seq of the newest record offered to any; the loop's
	part    int           // the part the next spaced flush offers to; the loop's
	holding holding       // subscribers a burst waits for (pacer.go)
	// The subscribers; they belong to the loop.
	subs  map[*Subscription]struct{}
	count atomic.Int64 // len(subs), readable outside the loop

	flushMu  sync.Mutex
	flushSig chan struct{} // closed and replaced after every flush

	flushes atomic.Uint64

	// The live subscriptions by ID, for List and Disconnect from outside
	// the loop: subs belongs to the loop, this to anyone holding regMu.
	nextID atomic.Uint64
	regMu  sync.Mutex
	reg    map[uint64]*Subscription
}

// NewHub returns a hub over c.Ring.
func NewHub(c HubConfig) *Hub {
	if c.Queue <= 0 {
		c.Queue = DefaultQueue
	}
	switch {
	case c.SlowTimeout == 0:
		c.SlowTimeout = DefaultSlowTimeout
	case c.SlowTimeout < 0:
		c.SlowTimeout = 0
	}
	h := &Hub{
		ring:     c.Ring,
		onFlush:  c.OnFlush,
		gather:   c.Gather,
		queue:    c.Queue,
		join:     make(chan *Subscription),
		joined:   make(chan struct{}),
		leave:    make(chan *Subscription),
		wake:     make(chan struct{}, 1),
		running:  make(chan struct{}),
		done:     make(chan struct{}),
		flushSig: make(chan struct{}),
		reg:      make(map[uint64]*Subscription),
		subs:     make(map[*Subscription]struct{}),
	}
	h.pace.limit = uint64(max(min(c.Ring.Size(), c.Queue)/2, 1))
	h.tick.Store(int64(max(c.Tick, 0)))
	h.slow.Store(int64(c.SlowTimeout))
	return h
}

// Tick returns the flush tick in force.
func (h *Hub) Tick() time.Duration { return time.Duration(h.tick.Load()) }

// SetTick changes the tick while the hub runs (an operator's setting);
// negative is taken as zero (flush as soon as records arrive). The loop
// uses it from its next flush on.
func (h *Hub) SetTick(d time.Duration) { h.tick.Store(int64(max(d, 0))) }

// SlowTimeout returns the slow-subscriber timeout in force; zero means
// never.
func (h *Hub) SlowTimeout() time.Duration { return time.Duration(h.slow.Load()) }

// SetSlowTimeout changes the slow-subscriber timeout while the hub runs;
// zero or negative never ends a subscriber for being slow. A subscriber
// already behind is judged by the new value at the next flush.
func (h *Hub) SetSlowTimeout(d time.Duration) { h.slow.Store(int64(max(d, 0))) }

// SubscriberInfo is one live subscription as List sees it.
type SubscriberInfo struct {
	ID      uint64
	Meta    any       // SubscribeOptions.Meta
	Since   time.Time // when it subscribed
	Queued  int       // records waiting in its queue
	Dropped uint64    // records dropped from its queue so far
}

// List returns the live subscriptions, oldest first.
func (h *Hub) List() []SubscriberInfo {
	h.regMu.Lock()
	subs := make([]*Subscription, 0, len(h.reg))
	for _, s := range h.reg {
		subs = append(subs, s)
	}
	h.regMu.Unlock()
	out := make([]SubscriberInfo, 0, len(subs))
	for _, s := range subs {
		s.mu.Lock()
		q := s.queued
		s.mu.Unlock()
		out = append(out, SubscriberInfo{ID: s.id, Meta: s.opts.Meta, Since: time.Unix(0, s.since), Queued: q, Dropped: s.dropped.Load()})
	}
	slices.SortFunc(out, func(a, b SubscriberInfo) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Disconnect ends the subscription id with ReasonKicked, as the hub ends
// every one at shutdown: its writer sends what is queued, then its
// transport's goodbye. It reports whether id was live.
func (h *Hub) Disconnect(id uint64) bool { return h.End(id, ReasonKicked) }

// End ends the subscription id for r (ReasonKicked, ReasonRevoked): its
// writer then says its transport's goodbye. It reports whether id was
// live.
func (h *Hub) End(id uint64, r Reason) bool {
	h.regMu.Lock()
	s := h.reg[id]
	h.regMu.Unlock()
	if s == nil {
		return false
	}
	s.end(r)
	return true
}

func (h *Hub) register(s *Subscription) {
	h.regMu.Lock()
	h.reg[s.id] = s
	h.regMu.Unlock()
}

func (h *Hub) unregister(s *Subscription) {
	h.regMu.Lock()
	delete(h.reg, s.id)
	h.regMu.Unlock()
}

// Ring returns the hub's ring.
func (h *Hub) Ring() *Ring { return h.ring }

// Running is closed once Run has started: records the ring held before then
// are history, records published after are news.
func (h *Hub) Running() <-chan struct{} { return h.running }

// Subscribers returns how many subscriptions are live.
func (h *Hub) Subscribers() int { return int(h.count.Load()) }

// Flushed returns the seq of the newest record offered to every subscriber.
func (h *Hub) Flushed() uint64 { return h.flushed.Load() }

// Flushes returns how many batches the hub has flushed.
func (h *Hub) Flushes() uint64 { return h.flushes.Load() }

// Publish appends rec to the ring and wakes the loop. It waits for the loop
// only when limit records are pending (half the ring or half a subscriber
// queue, pacer.go): a producer faster than the loop can then never push
// unflushed records out of the ring, nor make one batch so big that it
// overflows the queue of a subscriber that keeps up (the file it reads
// from is a better buffer). During a burst it also waits a little for the
// subscribers whose writers are busy draining a queue more than half full
// (holding, pacer.go): at a live log's pace it never waits for any.
func (h *Hub) Publish(rec *Record) uint64 {
	seq := h.ring.Append(rec)
	for {
		h.flushMu.Lock()
		sig := h.flushSig
		h.flushMu.Unlock()
		if f := h.flushed.Load(); f >= seq || seq-f < h.pace.limit {
			break
		}
		poke(h.wake) // the loop flushes at once: limit records are pending
		select {
		case <-sig:
		case <-h.done:
			return seq
		}
	}
	if !h.pace.due.Load() {
		poke(h.wake)
	}
	for h.holding.n.Load() > 0 && h.awaitHeld() {
	}
	return seq
}

func poke(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Subscribe joins the hub. It waits for the loop (or ctx), and fails with
// ErrClosed once the hub has stopped.
func (h *Hub) Subscribe(ctx context.Context, o SubscribeOptions) (*Subscription, error) {
	s := &Subscription{
		hub:   h,
		opts:  o,
		id:    h.nextID.Add(1),
		since: time.Now().UnixNano(),
		limit: h.queue,
	}
	if o.Notify == nil {
		s.ready = make(chan struct{}, 1)
	}
	if o.Queue > 0 {
		s.limit = o.Queue
	}
	select {
	case h.join <- s:
	case <-h.done:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	// The loop answers the join it took, and only Subscribe's caller
	// waits here: the answer is this subscription's. (A channel shared by
	// all costs an idle subscriber nothing; one of its own would.)
	<-h.joined
	h.register(s)
	return s, nil
}

// Run is the loop. It returns after ctx is done, once it has flushed what
// the ring holds and ended every subscription with ReasonShutdown.
func (h *Hub) Run(ctx context.Context) error {
	// What the ring holds now is history: nobody is offered it.
	h.flushed.Store(h.ring.Last())
	h.newest = h.ring.Last()
	close(h.running)
	defer close(h.done)

	var timer *time.Timer
	var timerC <-chan time.Time
	stopTimer := func() {
		if timer != nil {
			timer.Stop()
			timer, timerC = nil, nil
			h.pace.due.Store(false)
		}
	}
	defer stopTimer()
	arm := func(at time.Time) {
		timer = time.NewTimer(max(time.Until(at), 0))
		timerC = timer.C
		h.pace.due.Store(true)
	}
	// flush offers what is new to the part of the subscribers whose turn
	// it is (all, with nparts ≤ 1), and arms the next flush while they
	// are spaced and busy.
	flush := func(start time.Time, nparts int) {
		if nparts <= 1 {
			h.part, nparts = 0, 1
		}
		fresh := h.flush(start, h.part%nparts, nparts)
		h.part = (h.part + 1) % nparts
		h.pace.flushed(start, fresh)
		if fresh == 0 && h.flushed.Load() >= h.ring.Last() {
			return // quiet, and every part has all: the next record wakes the loop
		}
		switch at, n := h.pace.next(start, len(h.subs), 0, h.Tick()); {
		case n > 0:
			arm(at) // busy: the next flush is due anyway
		case h.flushed.Load() < h.ring.Last():
			arm(start) // no longer spaced: the parts still waiting get theirs now
		}
	}
	for {
		select {
		case <-ctx.Done():
			h.flush(time.Now(), 0, 1)
			for s := range h.subs {
				s.end(ReasonShutdown)
			}
			clear(h.subs)
			h.count.Store(0)
			return nil
		case s := <-h.join:
			h.add(s)
		case s := <-h.leave:
			h.remove(s)
		case <-h.wake:
			now := time.Now()
			k := int(h.ring.Last() - h.flushed.Load())
			if k == 0 || timerC != nil && uint64(k) < h.pace.limit {
				continue // nothing new, or the armed flush takes it
			}
			stopTimer()
			if at, n := h.pace.next(now, len(h.subs), k, h.Tick()); at.After(now) {
				arm(at)
			} else {
				flush(now, n)
			}
		case <-timerC:
			timer, timerC = nil, nil
			// Disarmed before the flush reads the ring: a record appended
			// after that read finds the loop disarmed and wakes it.
			h.pace.due.Store(false)
			if h.gather != nil {
				h.gather()
			}
			now := time.Now()
			_, n := h.pace.next(now, len(h.subs), 0, h.Tick())
			flush(now, n)
		}
	}
}

func (h *Hub) add(s *Subscription) {
	// History ends and live records start at the newest record in the
	// ring as the subscriber joins, flushed or not: one still waiting
	// for its flush is history like the rest, else a backlog of N would
	// end at the last flush and bring what came since as live records
	// on top. A flush offers the subscriber only what is newer
	// (Batch.since).
	start := h.ring.Last()
	s.after = start
	s.offered = start
	s.histTo = start
	if s.opts.Resume && s.opts.Since > h.ring.Last() {
		// A seq this server never gave out: it restarted without its
		// checkpoint and numbers from 1 again. Waiting for the numbering
		// to catch up would show nothing for a long time; start live.
		s.opts.Resume = false
		s.histDone = true
	} else if s.opts.Resume {
		s.histNext = s.opts.Since
		s.after = start
	} else {
		s.histDone = s.opts.Backlog <= 0
	}
	if s.opts.Resume && s.histNext >= s.histTo {
		s.histDone = true
	}
	if !s.histDone {
		s.signal()
	}
	h.subs[s] = struct{}{}
	h.count.Add(1)
	h.joined <- struct{}{} // the subscriber's goroutine owns the history fields from here
}

func (h *Hub) remove(s *Subscription) {
	if _, ok := h.subs[s]; ok {
		delete(h.subs, s)
		h.count.Add(-1)
	}
}

// flush offers the subscribers of part (of nparts, by ID) what the ring
// gained since their last flush, as one batch shared by all that had the
// same (encoded once per format), and returns how many records were new
// to every subscriber. If records left the ring unflushed (which
// Publish's back-pressure prevents, but an embedder appending to the ring
// directly could cause), the subscribers get a gap.
func (h *Hub) flush(start time.Time, part, nparts int) int {
	last := h.ring.Last()
	if last <= h.flushed.Load() {
		return 0
	}
	slow := h.SlowTimeout()
	low := last // what every subscriber has been offered, after this flush
	var shared map[uint64][]Item
	for s := range h.subs {
		if s.offered >= last || nparts > 1 && int(s.id%uint64(nparts)) != part {
			low = min(low, s.offered)
			continue
		}
		items, ok := shared[s.offered]
		if !ok {
			items = h.itemsAfter(s.offered, last)
			if shared == nil {
				shared = make(map[uint64][]Item, 1)
			}
			shared[s.offered] = items
		}
		s.offered = last
		if s.offer(items, start, slow) {
			h.remove(s) // ended for being slow: no more offers
		}
	}
	fresh := int(last - min(h.newest, last))
	h.newest = max(h.newest, last)
	h.flushes.Add(1)
	if h.onFlush != nil {
		h.onFlush(time.Since(start), fresh)
	}
	h.flushed.Store(low)
	h.flushMu.Lock()
	close(h.flushSig)
	h.flushSig = make(chan struct{})
	h.flushMu.Unlock()
	return fresh
}

// itemsAfter returns the records after seq after up to last as a batch,
// preceded by a gap for those of them that already left the ring.
func (h *Hub) itemsAfter(after, last uint64) []Item {
	recs, first := h.ring.After(after, last, 0)
	items := make([]Item, 0, 2)
	if first > after+1 {
		items = append(items, Item{Gap: Gap{From: after + 1, To: min(first-1, last)}})
	}
	if len(recs) > 0 {
		items = append(items, Item{Batch: NewBatch(recs)})
	}
	return items
}
