package fleet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/weblogd/weblogd/record"
)

// EdgeConfig says where an Edge takes records from. Only URL is required.
type EdgeConfig struct {
	// URL is the NATS server, as in PublisherConfig. Required.
	URL string
	// Options are extra NATS client options (credentials, TLS, see
	// Auth); they win over the Edge's own.
	Options []nats.Option
	// Node names this node: its durable consumer's default name is
	// DurablePrefix+Node. Zero means the host name.
	Node string
	// Prefix is the subject prefix. Zero means DefaultPrefix.
	Prefix string
	// Stream is the JetStream stream. Zero means DefaultStream. The Edge
	// waits for it to exist (a publisher creates it).
	Stream string
	// Durable names the durable consumer whose position survives a
	// restart. Each edge that must see every record needs its own name;
	// edges that share one share the records out between them. Zero
	// means DurablePrefix followed by Node (with white space, '.', '*',
	// '>', '/' and '\' made '_').
	Durable string
	// Batch is how many messages, each a batch of records, one pull asks
	// for. Zero means 32.
	Batch int
	// Logger: nil means nothing is logged.
	Logger *slog.Logger
}

// DurablePrefix starts the default name of an Edge's durable consumer.
const DurablePrefix = "weblogd-edge-"

// DefaultDurable is the name of the durable consumer of an edge on node.
func DefaultDurable(node string) string {
	return DurablePrefix + strings.Map(func(r rune) rune {
		if r <= ' ' || r == 0x7f || strings.ContainsRune(".*>/\\", r) {
			return '_'
		}
		return r
	}, node)
}

// fetchWait is how long one pull waits for records before the next: it
// bounds how long Run takes to notice ctx is done. Records are handed on
// as they arrive, not at the end of the pull.
const fetchWait = time.Second

// ackWait is the consumer's AckWait: a record not acknowledged that long
// is delivered again. It is long because the handler runs before the ack
// and may be slow; redelivered records the Edge has handled are skipped.
const ackWait = 30 * time.Second

// EdgeStats are an Edge's counters.
type EdgeStats struct {
	Handled    uint64 // records handed to the handler
	Skipped    uint64 // redeliveries of batches already handled
	BadRecords uint64 // messages that did not decode (acknowledged, dropped)
	Unknown    uint64 // records in batches of a wire format version this weblogd does not know (skipped)
	Errors     uint64 // failed pulls and acks (retried)
	StreamSeq  uint64 // stream sequence of the last batch handled
	Lag        uint64 // messages (batches) in the stream not yet delivered to this edge, as of the last pull
	Connected  bool
	Ready      bool   // connected, with its consumer
	LastError  string // the last error met (connection, consumer or pull), if any
}

// Edge takes records from the stream through a durable pull consumer and
// hands each to a handler, in stream order, acknowledging it after the
// handler returns.
type Edge struct {
	c        EdgeConfig
	handle   func(*record.Record)
	log      *slog.Logger
	link     link
	ready    atomic.Bool // has its consumer
	handled  atomic.Uint64
	skipped  atomic.Uint64
	bad      atomic.Uint64
	unknown  atomic.Uint64 // records skipped in batches of an unknown version
	versions atomic.Uint64 // the last unknown version logged
	errs     atomic.Uint64
	seq      atomic.Uint64
	lag      atomic.Uint64
}

// NewEdge checks c and fills in its defaults. handle receives each record
// with the publisher's Node, Source and Seq; it is called from Run's
// goroutine, one at a time. It starts nothing.
func NewEdge(c EdgeConfig, handle func(*record.Record)) (*Edge, error) {
	if err := CheckURL(c.URL); err != nil {
		return nil, fmt.Errorf("configure the NATS edge: %w", err)
	}
	if handle == nil {
		return nil, errors.New("fleet: edge needs a handler")
	}
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.Stream == "" {
		c.Stream = DefaultStream
	}
	node, err := defaultNode(c.Node)
	if err != nil {
		return nil, err
	}
	c.Node = node
	if c.Durable == "" {
		c.Durable = DefaultDurable(c.Node)
	}
	if !validName(c.Durable) {
		return nil, fmt.Errorf("configure the NATS edge: consumer name %q: no white space, '.', '*', '>', '/' or '\\'", c.Durable)
	}
	if !validName(c.Stream) {
		return nil, fmt.Errorf("configure the NATS edge: stream name %q: no white space, '.', '*', '>', '/' or '\\'", c.Stream)
	}
	if c.Batch <= 0 {
		c.Batch = 32
	}
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Edge{c: c, handle: handle, log: log}
	e.link.url = RedactURL(c.URL)
	return e, nil
}

// Durable is the name of the Edge's durable consumer.
func (e *Edge) Durable() string { return e.c.Durable }

// NotReady says in one line why the Edge is not taking records: not
// connected, or without its consumer (the stream does not exist yet, the
// account may not use JetStream, ...). Empty when it is taking them.
func (e *Edge) NotReady() string {
	if !e.link.connected() {
		return e.link.notConnected()
	}
	if !e.ready.Load() {
		why := "nats: waiting for consumer " + e.c.Durable + " on stream " + e.c.Stream
		if err := e.link.err(); err != "" {
			why += ": " + err
		}
		return why
	}
	return ""
}

// Stats returns the counters.
func (e *Edge) Stats() EdgeStats {
	connected := e.link.connected()
	return EdgeStats{
		Handled: e.handled.Load(), Skipped: e.skipped.Load(), BadRecords: e.bad.Load(), Unknown: e.unknown.Load(),
		Errors: e.errs.Load(), StreamSeq: e.seq.Load(), Lag: e.lag.Load(),
		Connected: connected, Ready: connected && e.ready.Load(), LastError: e.link.err(),
	}
}

// Run takes records until ctx is done, through outages of NATS, and
// returns nil then, after acknowledging every record it handed on. It
// returns an error only for a Config NATS refuses for good.
func (e *Edge) Run(ctx context.Context) error {
	nc, err := connect(&e.link, e.c.URL, "weblogd edge "+e.c.Durable, e.log, e.c.Options, nil)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("open jetstream: %w", err)
	}
	e.log.Info("taking records from NATS", "url", e.link.url, "stream", e.c.Stream, "durable", e.c.Durable)
	r := retrier{log: e.log}
	for ctx.Err() == nil {
		r.what = "cannot open the NATS consumer; retrying"
		cons, err := e.consumer(ctx, js)
		if err != nil {
			if !e.failed(ctx, &r, err) {
				return nil
			}
			continue
		}
		e.ready.Store(true)
		r.ok()
		r.what = "cannot take records from NATS; retrying"
		for ctx.Err() == nil {
			err := e.pull(ctx, nc, js, cons)
			if err == nil {
				r.ok()
				continue
			}
			if errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound) {
				// Someone deleted it: make it again, from where this
				// edge stands (fill takes what it missed).
				e.ready.Store(false)
			}
			if !e.failed(ctx, &r, err) {
				return nil
			}
			if !e.ready.Load() {
				break
			}
		}
	}
	return nil
}

// failed counts and logs err and waits before the next try; false when
// ctx is done.
func (e *Edge) failed(ctx context.Context, r *retrier, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	if !e.link.connected() {
		err = errNotConnected
	} else {
		e.link.setErr(err)
	}
	e.errs.Add(1)
	r.fail(ctx, err)
	return r.wait(ctx)
}

// consumer creates the durable consumer, or finds it where a previous run
// left it: its acknowledged position is where this run starts.
func (e *Edge) consumer(ctx context.Context, js jetstream.JetStream) (jetstream.Consumer, error) {
	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cons, err := js.CreateOrUpdateConsumer(actx, e.c.Stream, jetstream.ConsumerConfig{
		Durable:       e.c.Durable,
		FilterSubject: e.c.Prefix + ".>",
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait,
		// Enough to keep pulls full; the handler is sequential anyway.
		MaxAckPending: 4 * e.c.Batch,
	})
	if err != nil {
		return nil, fmt.Errorf("open consumer %s on stream %s: %w", e.c.Durable, e.c.Stream, err)
	}
	info, err := cons.Info(actx)
	if err != nil {
		return nil, fmt.Errorf("read consumer %s: %w", e.c.Durable, err)
	}
	// Where the durable stands is what a previous run handled: every
	// record up to its ack floor. Records between the floor and the first
	// one delivered now are taken straight from the stream (see fill).
	if f := info.AckFloor.Stream; f > e.seq.Load() {
		e.seq.Store(f)
	}
	e.lag.Store(info.NumPending)
	return cons, nil
}

// pull takes one batch: each record is handed on and acknowledged as it
// arrives; at the end a flush makes sure the server has every ack, so
// that a restart starts after them.
func (e *Edge) pull(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, cons jetstream.Consumer) error {
	batch, err := cons.Fetch(e.c.Batch, jetstream.FetchMaxWait(fetchWait))
	if err != nil {
		return fmt.Errorf("pull records: %w", err)
	}
	acked := false
	var failed error
	for m := range batch.Messages() {
		// A pull is not cut short by ctx: it ends by fetchWait at the
		// latest, and every record it brings is handled and acked, or,
		// after a failure, given back (Nak) so that order is kept.
		if failed != nil {
			_ = m.Nak()
			continue
		}
		failed = e.take(ctx, js, m)
		acked = true
	}
	if failed != nil {
		return failed
	}
	if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
		return fmt.Errorf("pull records: %w", err)
	}
	if acked {
		if err := nc.FlushTimeout(5 * time.Second); err != nil {
			return fmt.Errorf("flush acks: %w", err)
		}
		return nil
	}
	// Nothing came, so no record told the lag: ask the consumer (records
	// may have come in while NATS was away, or the lag may be old).
	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if info, err := cons.Info(actx); err == nil {
		e.lag.Store(info.NumPending)
	}
	return nil
}

// take hands one message on, unless it is a redelivery of one handled
// already (its ack was lost), and acknowledges it. A message further on
// than the next stream sequence means the ones between were delivered and
// lost on the way (a NATS outage during a pull) or deleted: fill takes
// them from the stream first, so that nothing is lost or reordered.
func (e *Edge) take(ctx context.Context, js jetstream.JetStream, m jetstream.Msg) error {
	md, err := m.Metadata()
	if err != nil {
		e.bad.Add(1)
		_ = m.Term()
		return nil
	}
	s := md.Sequence.Stream
	if last := e.seq.Load(); s > last+1 {
		if err := e.fill(ctx, js, last+1, s-1); err != nil {
			_ = m.Nak()
			return err
		}
	}
	if s <= e.seq.Load() {
		e.skipped.Add(1)
	} else {
		e.deliver(s, m.Subject(), m.Data())
		e.lag.Store(md.NumPending)
	}
	if err := m.Ack(); err != nil {
		// Not fatal: the record comes again after ackWait and is skipped.
		e.errs.Add(1)
	}
	return nil
}

// deliver decodes and hands on the batch at stream sequence s. A batch
// that does not decode is dropped and counted, and one of a wire format
// version this weblogd does not know too, its records counted and the
// version logged once.
func (e *Edge) deliver(s uint64, subject string, data []byte) {
	b, err := DecodeBatch(data)
	var unknown *UnknownVersionError
	switch {
	case errors.As(err, &unknown):
		e.unknown.Add(unknown.Records)
		if e.versions.Swap(uint64(unknown.Version)) != uint64(unknown.Version) {
			e.log.Warn("skipped records of a wire format this weblogd does not know: upgrade it", "subject", subject, "err", err)
		}
	case err != nil:
		e.bad.Add(1)
		e.log.Warn("dropped a message that does not decode", "subject", subject, "err", err)
	default:
		for _, r := range b.Records {
			e.handle(r)
		}
		e.handled.Add(uint64(len(b.Records)))
	}
	e.seq.Store(s)
}

// fill hands on the records with stream sequences from..to straight from
// the stream. Sequences that are gone (deleted, or aged out by the
// stream's limits) are passed over. Their consumer deliveries, when they
// come, are skipped as already handled.
func (e *Edge) fill(ctx context.Context, js jetstream.JetStream, from, to uint64) error {
	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := js.Stream(actx, e.c.Stream)
	if err != nil {
		return fmt.Errorf("read stream %s: %w", e.c.Stream, err)
	}
	from = max(from, st.CachedInfo().State.FirstSeq)
	for s := from; s <= to; s++ {
		m, err := st.GetMsg(actx, s)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			e.seq.Store(s)
			continue
		}
		if err != nil {
			return fmt.Errorf("read record %d of stream %s: %w", s, e.c.Stream, err)
		}
		e.deliver(s, m.Subject, m.Data)
	}
	if to > e.seq.Load() {
		e.seq.Store(to) // all before FirstSeq are gone
	}
	return nil
}
