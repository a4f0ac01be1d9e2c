package transports

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/weblogd/weblogd/broadcast"
	"github.com/weblogd/weblogd/record"
)

// DefaultHeartbeat is how often an idle stream says it is alive: the 15 s
// docs/protocol.md promises, and well under the 60 s idle timeouts of
// common proxies and load balancers.
const DefaultHeartbeat = 15 * time.Second

// Counters are one transport's live numbers, read by the metrics and the
// status API. The zero value is ready; all fields are updated atomically.
type Counters struct {
	Subscribers atomic.Int64  // connected now
	Sent        atomic.Uint64 // records written
	Dropped     atomic.Uint64 // records dropped from queues of slow subscribers, as the hub drops them (SubscribeOptions.DropCounter)
	Gaps        atomic.Uint64 // gap markers written (slow subscribers and history gone from the ring)

	disconnects [len(disconnectReasons)]atomic.Uint64
	refused     [len(refuseReasons)]atomic.Uint64
}

// Disconnected counts a stream that ended for r.
func (c *Counters) Disconnected(r DisconnectReason) {
	c.disconnects[reasonIndex(disconnectReasons[:], r)].Add(1)
}

// Disconnects returns how many streams ended for r.
func (c *Counters) Disconnects(r DisconnectReason) uint64 {
	return c.disconnects[reasonIndex(disconnectReasons[:], r)].Load()
}

// Refused counts a subscriber turned away for r.
func (c *Counters) Refused(r RefuseReason) { c.refused[reasonIndex(refuseReasons[:], r)].Add(1) }

// Refusals returns how many subscribers were turned away for r.
func (c *Counters) Refusals(r RefuseReason) uint64 {
	return c.refused[reasonIndex(refuseReasons[:], r)].Load()
}

// reasonIndex finds r among the known reasons. Reasons are this package's
// constants, so an unknown one is a bug; it is counted under the first
// (closed, max_subscribers) rather than crash a server over a metric.
func reasonIndex[R comparable](known []R, r R) int {
	for i, k := range known {
		if k == r {
			return i
		}
	}
	return 0
}

// Sink is one subscriber's connection as Pump drives it. Every method
// writes with a deadline; an error ends the stream.
type Sink interface {
	// Send writes items (batches and gaps, in order) and flushes them.
	// It returns how many records it wrote (a filter may leave some out).
	Send(items []broadcast.Item) (records int, err error)
	// Heartbeat keeps a connection alive through proxies and finds dead
	// peers; Pump calls it every heartbeat period.
	Heartbeat() error
	// End says goodbye properly: the hub has ended the subscription for
	// reason (broadcast.ReasonShutdown, or ReasonSlow: tell the client it
	// was too slow where the wire has a way to).
	End(reason broadcast.Reason) error
}

// Pump moves a subscription's items to sink until the hub ends it (then it
// writes what is left and ends the sink), ctx is done (the client went, or
// the server cut it; a DisconnectError cause says why), or a write fails.
// It is the single writer of the connection; it returns the error that
// ended the stream, nil after End, and counts the disconnect by reason.
func Pump(ctx context.Context, sub *broadcast.Subscription, sink Sink, heartbeat time.Duration, c *Counters) (err error) {
	if heartbeat <= 0 {
		heartbeat = DefaultHeartbeat
	}
	c.Subscribers.Add(1)
	defer c.Subscribers.Add(-1)
	defer func() { c.Disconnected(ReasonOf(sub, err)) }()
	send := func() error { return Send(sub, sink, c) }
	// The heartbeat ticks whatever the traffic: WebSocket pings must reach
	// a busy peer too, and a comment or blank line more is harmless.
	beat := time.NewTicker(heartbeat)
	defer beat.Stop()
	for {
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-sub.Ready():
			// Ready is also the end's signal. Reason is read before
			// taking, so that what the hub offered before it ended sub
			// is written before the goodbye.
			why := sub.Reason()
			if err := send(); err != nil {
				return err
			}
			if why != "" {
				return sink.End(why)
			}
		case <-beat.C:
			if err := sink.Heartbeat(); err != nil {
				return err
			}
		}
	}
}

// Send takes everything sub has ready and writes it to sink, counting what
// it writes in c. History arrives a page per Take; each page is written as
// it comes, so that a long resume streams instead of piling up in memory.
func Send(sub *broadcast.Subscription, sink Sink, c *Counters) error {
	for items := sub.Take(); len(items) > 0; items = sub.Take() {
		for _, it := range items {
			if it.Batch == nil {
				c.Gaps.Add(1)
			}
		}
		n, err := sink.Send(items)
		c.Sent.Add(uint64(n))
		if err != nil {
			return err
		}
	}
	return nil
}

// Flush is what a Writer's holder does for a connection that writes
// through sink (see NewWriter): everything sub has, a heartbeat if one is
// due, and, once the hub has ended sub, the goodbye (the stream is then
// over). Reason is read before taking, so that what the hub offered
// before it ended sub is written before the goodbye.
func Flush(sub *broadcast.Subscription, sink Sink, c *Counters, beat bool) (over bool, err error) {
	why := sub.Reason()
	if err := Send(sub, sink, c); err != nil {
		return true, err
	}
	if beat {
		if err := sink.Heartbeat(); err != nil {
			return true, err
		}
	}
	if why != "" {
		return true, sink.End(why)
	}
	return false, nil
}

// Render returns the bytes of b for a subscriber with filter f, and how
// many records they hold. When every record passes (always without a
// filter) it is the batch's shared encoding, built once for all
// subscribers: do not modify it. Otherwise, a fresh encoding of the
// records that match.
func Render(b *broadcast.Batch, f *Filter, shared func(*broadcast.Batch) []byte, enc func([]byte, []*record.Record) []byte) ([]byte, int) {
	recs, all := Matching(b, f)
	switch {
	case all:
		return shared(b), len(b.Records)
	case len(recs) == 0:
		return nil, 0
	}
	return enc(nil, recs), len(recs)
}

// Matching returns the records of b that pass f, and whether that is all
// of them (always for a nil f): then recs is b.Records itself, and the
// caller can use the batch's shared encoding.
func Matching(b *broadcast.Batch, f *Filter) (recs []*record.Record, all bool) {
	if f == nil {
		return b.Records, true
	}
	for i, r := range b.Records {
		if f.Match(r) {
			if recs != nil {
				recs = append(recs, r)
			}
			continue
		}
		if recs == nil { // the first record left out: copy those before it
			recs = append(make([]*record.Record, 0, len(b.Records)), b.Records[:i]...)
		}
	}
	if recs == nil {
		return b.Records, true
	}
	return recs, false
}
