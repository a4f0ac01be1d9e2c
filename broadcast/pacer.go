package broadcast

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// The pacer decides when the hub flushes. A flush costs a write to every
// subscriber that gets something, about ten microseconds of the server's
// core each. While writing every record to every subscriber at once costs
// little (n subscribers × r records a second ≤ batchGain × writeBudget),
// every record is flushed as it arrives: latency is free. Beyond that,
// flushes are spaced n/writeBudget apart, so the writes stay near the
// budget, and never further apart than the tick, the longest a record may
// wait. Whatever the rate, so many pending records that a producer must
// wait (limit) are flushed at once.
const (
	// writeBudget is the writes a second the pacer aims at once it
	// batches: about 6.5% of a core at ten microseconds a write. It is
	// set by weblogbench row 100x1000, whose targets pull both ways: under
	// a tenth of a core wants fewer writes, a p99 under 20 ms wants
	// flushes at most n/writeBudget = 15 ms apart.
	writeBudget = 6500
	// batchGain is how much batching must cut the writes before a record
	// is made to wait for it: at most half as many as at once.
	batchGain = 2
	// rateWindow is the time constant of the rate estimate: long enough
	// to see through one quiet gap of a busy log, short enough that the
	// first records after a quiet spell go at once again.
	rateWindow = time.Second
	// writeCost is about what one write costs the server (the load
	// tool's floor measures 8.5–10 µs here), and partWrites the most
	// writes, in time, that one spaced flush puts ahead of a record.
	writeCost  = 10 * time.Microsecond
	partWrites = 2500 * time.Microsecond
)

// parts returns in how many parts the subscribers are flushed, one part
// after the other, interval/parts apart, when flushes are spaced interval
// apart: one while a flush's writes take at most partWrites, more for
// many subscribers. Each subscriber still gets a flush every interval,
// but the writes of a flush no longer queue behind those of every other
// subscriber: with 1,000 subscribers, 10 ms of writes become four parts
// of 2.5 ms. It is kept for the p99 of weblogbench rows 1000x100 and
// 1000x1000, which one flush of all puts above the floor's.
func parts(n int, interval time.Duration) int {
	if interval <= 0 {
		return 1
	}
	k := int((time.Duration(n)*writeCost + partWrites - 1) / partWrites)
	return max(1, min(k, int(interval/time.Millisecond)))
}

// pacer is the hub's flush schedule. The loop owns all of it but limit
// (set once) and due (read by Publish).
type pacer struct {
	// limit is how many pending records make Publish wait and the loop
	// flush at once: half the ring, so that a producer faster than the
	// loop never pushes unflushed records out of it, or half a queue, so
	// that one batch never overflows the queue of a subscriber that keeps
	// up.
	limit uint64
	// due is set while a flush is armed: Publish need not wake the loop
	// then, which on a busy log saves a wake-up per record.
	due atomic.Bool

	last   time.Time // when the last flush that offered records began
	rate   float64   // records a second, averaged over rateWindow
	rateAt time.Time // when rate was last brought up to date
}

// interval returns how far apart flushes go for n subscribers and r
// records a second: 0 while every record can be flushed at once for at
// most batchGain × writeBudget writes a second (or with no tick), else
// n/writeBudget, at most tick.
func interval(n int, r float64, tick time.Duration) time.Duration {
	if tick <= 0 || float64(n)*r <= batchGain*writeBudget {
		return 0
	}
	return min(tick, time.Duration(float64(n)*float64(time.Second)/writeBudget))
}

// estimate returns the rate at now had k more records come since rateAt:
// an exponential moving average, which decays while no records come.
func (p *pacer) estimate(now time.Time, k int) float64 {
	dt := now.Sub(p.rateAt).Seconds()
	w := rateWindow.Seconds()
	if dt <= 0 {
		return p.rate + float64(k)/w
	}
	return p.rate*math.Exp(-dt/w) + float64(k)*(-math.Expm1(-dt/w))/dt
}

// next returns when to flush k pending records for n subscribers and the
// tick in force (at or before now: at once), and in how many parts
// (0: flushes are not spaced, every record goes at once to all). While
// flushes are spaced each flush that offered records arms the next, so
// that producers need not wake the loop. limit pending records go at once
// to all.
func (p *pacer) next(now time.Time, n, k int, tick time.Duration) (at time.Time, nparts int) {
	iv := interval(n, p.estimate(now, k), tick)
	if iv <= 0 {
		return now, 0
	}
	if uint64(k) >= p.limit {
		return now, 1
	}
	nparts = parts(n, iv)
	return p.last.Add(iv / time.Duration(nparts)), nparts
}

// flushed counts a flush that began at start and offered k new records.
func (p *pacer) flushed(start time.Time, k int) {
	if k == 0 {
		return
	}
	p.rate, p.rateAt, p.last = p.estimate(start, k), start, start
}

// A burst (a log that grew by a million lines while nobody read it) is
// read faster than any writer writes, and on a one-core server its reader
// takes the CPU the writers need: batches then pile into the queue of a
// subscriber whose writer has not had its turn, and it loses records
// although its peer reads as fast as it can (75 to 80% of a burst of
// 1,000,000 lines to one such subscriber, weblogbench row burst). So
// Publish holds the producer for the subscribers whose queue an offer left
// more than half full while their writer is working (it took something
// within holdWait): until they take their queue, at most holdWait each
// time. One whose writer is stuck on a peer that does not read holds
// nothing back: it falls behind and gets a gap. A live log never fills
// half a queue within holdWait of a take, so it is never held.
const holdWait = 50 * time.Millisecond

// holding is the set of subscribers a burst waits for.
type holding struct {
	n    atomic.Int32 // len(subs), read by every Publish
	mu   sync.Mutex
	subs map[*Subscription]time.Time // held, since when
	sig  chan struct{}               // closed and replaced when one is let go
}

// hold makes Publish wait for s, whose queue an offer at now left more
// than half full, if its writer is working.
func (h *Hub) hold(s *Subscription, now time.Time) {
	if now.UnixNano()-s.lastTake.Load() >= int64(holdWait) {
		return // its writer waits on its peer: waiting for it would not help
	}
	hs := &h.holding
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if _, ok := hs.subs[s]; ok {
		return
	}
	if hs.subs == nil {
		hs.subs, hs.sig = make(map[*Subscription]time.Time), make(chan struct{})
	}
	hs.subs[s] = now
	s.held.Store(true)
	hs.n.Store(int32(len(hs.subs)))
}

// release lets s go: it took its queue, or it ended.
func (h *Hub) release(s *Subscription) {
	hs := &h.holding
	hs.mu.Lock()
	defer hs.mu.Unlock()
	s.held.Store(false)
	if _, ok := hs.subs[s]; !ok {
		return
	}
	delete(hs.subs, s)
	hs.n.Store(int32(len(hs.subs)))
	close(hs.sig)
	hs.sig = make(chan struct{})
}

// awaitHeld waits until a held subscriber is let go, letting go those held
// for holdWait, and reports whether it waited (false: nobody is held any
// more, or the hub stopped).
func (h *Hub) awaitHeld() bool {
	hs := &h.holding
	hs.mu.Lock()
	now := time.Now()
	next := time.Duration(-1)
	for s, since := range hs.subs {
		left := holdWait - now.Sub(since)
		if left <= 0 {
			s.held.Store(false)
			delete(hs.subs, s)
			continue
		}
		if next < 0 || left < next {
			next = left
		}
	}
	hs.n.Store(int32(len(hs.subs)))
	sig := hs.sig
	hs.mu.Unlock()
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
