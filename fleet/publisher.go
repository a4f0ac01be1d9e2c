package fleet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/weblogd/weblogd/broadcast"
)

// PublisherConfig says where a Publisher sends records. Only URL is
// required.
type PublisherConfig struct {
	// URL is the NATS server, e.g. nats://host:4222 (a comma list for a
	// cluster). Required.
	URL string
	// Options are extra NATS client options: credentials, TLS, ... They
	// come after the Publisher's own (endless reconnects), so they win.
	Options []nats.Option
	// Node names this node in its records and subjects. Zero means the
	// host name.
	Node string
	// Prefix is the subject prefix. Zero means DefaultPrefix.
	Prefix string
	// Stream is the JetStream stream, created (file storage, subjects
	// Prefix.>) if it does not exist. Zero means DefaultStream.
	Stream string
	// Duplicates is the duplicate window of a stream this Publisher
	// creates: how long a republished record is recognised. Zero means 10
	// minutes, longer than JetStream's 2-minute default, so that a restart
	// that replays its last records is covered.
	Duplicates time.Duration
	// Buffer is how many records may wait for NATS. When it is full the
	// oldest waiting record is dropped and counted. Zero means 100000
	// (about 50 MB of typical records).
	Buffer int
	// AckTimeout is how long one publish waits for the stream's
	// acknowledgement before it is retried with the same id. Zero means 5s.
	AckTimeout time.Duration
	// Logger: nil means nothing is logged.
	Logger *slog.Logger
}

// Retry delays while NATS is unreachable: short at first, so that a blip
// costs little, growing to a cap that keeps a long outage cheap.
const (
	retryMin = 50 * time.Millisecond
	retryMax = 2 * time.Second
)

// PublisherStats are a Publisher's counters.
type PublisherStats struct {
	Published uint64 // acknowledged by the stream (including duplicates it dropped)
	Pending   int    // waiting in the buffer
	Dropped   uint64 // dropped from a full buffer, never published
	Errors    uint64 // failed publish attempts (each retried)
	Connected bool
}

// Publisher sends records to a JetStream stream, one at a time, each
// acknowledged before the next is sent: that keeps each node's records
// in order in the stream even when a publish fails and is retried.
type Publisher struct {
	c       PublisherConfig
	node    string
	log     *slog.Logger
	wake    chan struct{} // poked by Publish; capacity 1, never blocks
	mu      sync.Mutex
	buf     []pending // FIFO: buf[head:] waits, oldest first
	head    int
	nc      atomic.Pointer[nats.Conn]
	pub     atomic.Uint64
	dropped atomic.Uint64
	errs    atomic.Uint64
}

type pending struct {
	subject string
	id      string
	data    []byte
}

// NewPublisher checks c and fills in its defaults. It starts nothing.
func NewPublisher(c PublisherConfig) (*Publisher, error) {
	if c.URL == "" {
		return nil, errors.New("fleet: publisher needs a NATS URL")
	}
	if c.Node == "" {
		h, err := hostname()
		if err != nil {
			return nil, fmt.Errorf("get the host name for the node name: %w", err)
		}
		c.Node = h
	}
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.Stream == "" {
		c.Stream = DefaultStream
	}
	if c.Duplicates <= 0 {
		c.Duplicates = 10 * time.Minute
	}
	if c.Buffer <= 0 {
		c.Buffer = 100000
	}
	if c.AckTimeout <= 0 {
		c.AckTimeout = 5 * time.Second
	}
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Publisher{c: c, node: c.Node, log: log, wake: make(chan struct{}, 1)}, nil
}

// Node is the node name this Publisher puts in its records.
func (p *Publisher) Node() string { return p.node }

// Publish queues rec to be sent, with its Node set to this Publisher's
// node (rec itself is not changed: it is shared with the local hub). key
// names the line for good, e.g. its file identity and offset; empty means
// rec.Seq, which names it only while seq numbers are kept across
// restarts (--state). It never blocks; it returns false when the buffer
// was full and the oldest waiting record was dropped to make room.
func (p *Publisher) Publish(rec *broadcast.Record, key string) bool {
	r := *rec
	r.Node = p.node
	m := pending{
		subject: Subject(p.c.Prefix, p.node, r.Source),
		id:      MsgID(p.node, r.Source, key, r.Seq),
		data:    Append(nil, &r),
	}
	ok := true
	p.mu.Lock()
	if len(p.buf)-p.head >= p.c.Buffer {
		p.buf[p.head] = pending{}
		p.head++
		p.dropped.Add(1)
		ok = false
	}
	if p.head > 0 && p.head >= len(p.buf)/2 {
		// Compact once half the slice is spent, so that memory stays
		// proportional to what waits.
		n := copy(p.buf, p.buf[p.head:])
		clear(p.buf[n:])
		p.buf, p.head = p.buf[:n], 0
	}
	p.buf = append(p.buf, m)
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
	return ok
}

// Stats returns the counters.
func (p *Publisher) Stats() PublisherStats {
	p.mu.Lock()
	n := len(p.buf) - p.head
	p.mu.Unlock()
	nc := p.nc.Load()
	return PublisherStats{
		Published: p.pub.Load(), Pending: n, Dropped: p.dropped.Load(),
		Errors: p.errs.Load(), Connected: nc != nil && nc.IsConnected(),
	}
}

// peek returns the oldest waiting record without removing it.
func (p *Publisher) peek() (pending, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.head == len(p.buf) {
		return pending{}, false
	}
	return p.buf[p.head], true
}

// done removes m, the oldest waiting record, once the stream has it,
// unless Publish dropped it meanwhile to make room.
func (p *Publisher) done(m pending) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.head < len(p.buf) && p.buf[p.head].id == m.id {
		p.buf[p.head] = pending{}
		p.head++
	}
}

// Run connects to NATS, makes sure the stream exists, and sends what
// Publish queues until ctx is done. A NATS that is unreachable, at the
// start or later, is retried for as long as Run runs; records wait in the
// buffer meanwhile. Records still waiting when ctx is done stay in the
// buffer (Stats().Pending). Run returns nil when ctx is done, or the error
// of a Config NATS refuses for good.
func (p *Publisher) Run(ctx context.Context) error {
	nc, err := connect(p.c.URL, "weblogd publisher "+p.node, p.log, p.c.Options)
	if err != nil {
		return err
	}
	p.nc.Store(nc)
	defer nc.Close() // ends the client's goroutines
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("open jetstream: %w", err)
	}
	p.log.Info("publishing to NATS", "url", p.c.URL, "stream", p.c.Stream, "node", p.node)
	cfg := jetstream.StreamConfig{
		Name:       p.c.Stream,
		Subjects:   []string{p.c.Prefix + ".>"},
		Storage:    jetstream.FileStorage,
		Duplicates: p.c.Duplicates,
	}
	r := retrier{log: p.log, what: "cannot create the NATS stream; retrying"}
	for !p.ensureStream(ctx, js, cfg, &r) {
		if !r.wait(ctx) {
			return nil
		}
	}
	r = retrier{log: p.log, what: "cannot publish to NATS; retrying"}
	for {
		m, ok := p.peek()
		if !ok {
			select {
			case <-ctx.Done():
				return nil
			case <-p.wake:
				continue
			}
		}
		actx, cancel := context.WithTimeout(ctx, p.c.AckTimeout)
		msg := &nats.Msg{Subject: m.subject, Data: m.data}
		_, err := js.PublishMsg(actx, msg, jetstream.WithMsgID(m.id))
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			p.errs.Add(1)
			r.fail(ctx, err)
			if !r.wait(ctx) {
				return nil
			}
			continue
		}
		r.ok()
		p.pub.Add(1)
		p.done(m)
	}
}

// ensureStream makes sure the stream exists; false means try again.
func (p *Publisher) ensureStream(ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig, r *retrier) bool {
	actx, cancel := context.WithTimeout(ctx, p.c.AckTimeout)
	defer cancel()
	_, err := js.Stream(actx, cfg.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = js.CreateStream(actx, cfg)
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			err = nil // another publisher was first
		}
	}
	if err != nil {
		if ctx.Err() == nil {
			r.fail(ctx, err)
		}
		return false
	}
	r.ok()
	return true
}
