package fleet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/weblogd/weblogd/record"
)

// PublisherConfig says where a Publisher sends records. Only URL is
// required.
type PublisherConfig struct {
	// URL is the NATS server, e.g. nats://host:4222 (a comma list for a
	// cluster; see CheckURL). Required.
	URL string
	// Options are extra NATS client options: credentials, TLS (see
	// Auth), ... They come after the Publisher's own (endless
	// reconnects), so they win, except that the client never buffers
	// publishes while it reconnects (that would break the order).
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
	// Buffer is how many records may wait for NATS. While it is full,
	// PublishWait waits for room and Publish drops its record (see
	// Publisher). Zero means DefaultBuffer.
	Buffer int
	// BufferFile keeps the waiting records on disk too, in this file
	// (see disk.go for its format and what a crash can cost): a restart
	// sends them first, with their ids, so that a record read before the
	// restart is neither lost nor stored twice. NewPublisher reads it and
	// keeps it open until Close. Zero keeps them in memory only.
	BufferFile string
	// Window is how many publishes may wait for their acknowledgement at
	// once. Zero means DefaultWindow; 1 sends each record only after the
	// previous one is acknowledged.
	Window int
	// AckTimeout is how long a publish waits for the stream's
	// acknowledgement before it is sent again with the same id. Zero
	// means 5s.
	AckTimeout time.Duration
	// Logger: nil means nothing is logged.
	Logger *slog.Logger
}

// DefaultBuffer is the default PublisherConfig.Buffer: about 50 MB of
// typical records.
const DefaultBuffer = 100000

// DefaultWindow is the default PublisherConfig.Window, chosen when each
// record was a message of its own (BenchmarkPublishToEdge): one
// acknowledged publish at a time cost a round trip per record, 12 000 to
// 18 000 records/s from a publisher to an edge on a 2-core machine's
// loopback; 64 in flight gave 37 000 to 51 000, about as much as one edge
// took there; more in flight raised what the stream acknowledged but not
// what reached the edge, while making each resend after a failure longer.
// With batches, records that wait for the window go together.
const DefaultWindow = 64

// Retry delays while NATS is unreachable: short at first, so that a blip
// costs little, growing to a cap that keeps a long outage cheap.
const (
	retryMin = 50 * time.Millisecond
	retryMax = 2 * time.Second
)

// tidyEvery is how many records may be acknowledged, while publishes are
// always in flight, before the buffer file is told (a done mark).
const tidyEvery = 256

// errNotConnected stands for what failed while the connection is down:
// the connection's own error is logged, and /readyz shows it.
var errNotConnected = errors.New("nats: not connected")

// PublisherStats are a Publisher's counters.
type PublisherStats struct {
	Published  uint64        // acknowledged by the stream (including duplicates it dropped)
	Pending    int           // waiting for the stream's acknowledgement, in memory
	OnDisk     int           // of them, in the buffer file (0 without BufferFile)
	Dropped    uint64        // records of Publish dropped from a full buffer, never published
	Errors     uint64        // failed publishes (each sent again)
	DiskErrors uint64        // failed writes of the buffer file, and damaged ends found in it
	OutOfOrder uint64        // records the stream stored after a later batch (see Publisher)
	Lag        time.Duration // since the oldest waiting record was published to the Publisher; 0 when none waits
	Connected  bool
	LastError  string // the connection's last error, if any
}

// Publisher sends records to a JetStream stream in order, in batches
// (one message each) with an id the stream deduplicates on, and forgets a
// record only once the stream has acknowledged its batch.
//
// Up to Window batches are in flight at once. A batch is made when it is
// first sent, of the oldest records that wait (see batch), and is always
// sent again as itself. When one fails (an error or no acknowledgement
// within AckTimeout) or the connection drops, nothing more is sent until
// every publish in flight has its outcome; then everything from the
// oldest batch not acknowledged is sent again, in order, with the same
// ids: the batches the stream had are dropped as duplicates, so each is
// stored once and in order. That holds because a connection delivers in
// order and the client is made to buffer nothing while it reconnects:
// what was sent on a connection that failed reached the stream up to some
// batch and not after it, and nothing newer went out on the next
// connection before the resend. One case escapes this: in a JetStream
// cluster, a stream whose leader changes may drop one publish and store a
// later one of the same window; each batch is still stored once, but
// those are out of order, which Stats().OutOfOrder counts. Window 1 rules
// it out, at a round trip per batch.
//
// The buffer is bounded, and a full one never drops a record that waits.
// A line that can be read again from its log comes through PublishWait,
// which waits for room: the log is read no further meanwhile, so the log
// file is the buffer. A record that cannot be read again (standard input,
// a FIFO, syslog, /ingest) comes through Publish, which drops it when the
// buffer is full, counts it and says so once in the log.
type Publisher struct {
	c    PublisherConfig
	node string
	log  *slog.Logger
	wake chan struct{} // poked by Publish; capacity 1, never blocks
	link link

	mu     sync.Mutex
	buf    []pending // FIFO: buf[head:] waits, oldest first
	head   int
	first  uint64              // the number of buf[head]; each record is numbered one more than the one before
	seals  []int               // the sizes of the batches sent, from buf[head] on; the records after them are in none yet
	disk   *diskBuffer         // nil without BufferFile, or once closed
	lines  map[string]lineMark // with disk: the last line queued of each file (see PublishWait)
	reread map[string]int64    // the last line of each file queued before a restart, until it is passed
	room   chan struct{}       // closed when the buffer has room again; nil while nobody waits
	full   bool                // the buffer was full since it was last empty: said once in the log
	drops  bool                // Publish dropped since the buffer was last empty: said once

	pub        atomic.Uint64
	dropped    atomic.Uint64
	errs       atomic.Uint64
	diskErrs   atomic.Uint64
	lastSeq    atomic.Uint64 // the stream sequence of the last record acknowledged
	outOfOrder atomic.Uint64
	diskLog    string // the last disk error logged, under mu
}

// pending is a record waiting for the stream.
type pending struct {
	source string
	file   string // the identity of the file of its line; empty for a line that cannot be read again
	off    int64  // its line's offset in file; without a file, its seq
	data   []byte // its wire form in a batch (appendWire)
	at     time.Time
}

// key names m's line for good, for its batch's id.
func (m *pending) key() string {
	if m.file == "" {
		return "seq:" + strconv.FormatInt(m.off, 10)
	}
	return m.file + ":" + strconv.FormatInt(m.off, 10)
}

// Batch bounds: a batch is one NATS message, well under its default
// maximum payload (1 MB). Batches carry the records for the price of a
// message each (BenchmarkPublishToEdge, and BenchmarkComposeOnLoopback in
// deploy).
const (
	maxBatchRecords = 1000
	maxBatchBytes   = 512 << 10
)

// NewPublisher checks c and fills in its defaults. With BufferFile, it
// reads the records a previous run left waiting there (they are sent
// first) and keeps the file open: call Close when done. A damaged end of
// the file is logged, counted and cut off, never fatal; a file that
// cannot be read or written is an error. It starts nothing.
func NewPublisher(c PublisherConfig) (*Publisher, error) {
	if err := CheckURL(c.URL); err != nil {
		return nil, fmt.Errorf("configure the NATS publisher: %w", err)
	}
	node, err := defaultNode(c.Node)
	if err != nil {
		return nil, err
	}
	c.Node = node
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.Stream == "" {
		c.Stream = DefaultStream
	}
	if !validName(c.Stream) {
		return nil, fmt.Errorf("configure the NATS publisher: stream name %q: no white space, '.', '*', '>', '/' or '\\'", c.Stream)
	}
	if c.Duplicates <= 0 {
		c.Duplicates = 10 * time.Minute
	}
	if c.Buffer <= 0 {
		c.Buffer = DefaultBuffer
	}
	if c.Window <= 0 {
		c.Window = DefaultWindow
	}
	if c.AckTimeout <= 0 {
		c.AckTimeout = 5 * time.Second
	}
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Publisher{c: c, node: c.Node, log: log, wake: make(chan struct{}, 1)}
	p.link.url = RedactURL(c.URL)
	if c.BufferFile != "" {
		if err := p.openDisk(); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// openDisk loads what waits in the buffer file and starts a fresh one
// with it.
func (p *Publisher) openDisk() error {
	h, corrupt, err := readDisk(p.c.BufferFile)
	if err != nil {
		return err
	}
	if corrupt != nil {
		p.diskErrs.Add(1)
		p.log.Warn("the NATS publish buffer is damaged; sending what could be read", "err", corrupt)
	}
	// All are kept, even beyond Buffer (a smaller Buffer than last time,
	// or records queued at shutdown while it was full): the checkpoint
	// has passed their lines.
	d, err := openDisk(p.c.BufferFile, h)
	if err != nil {
		return err
	}
	p.disk, p.buf, p.seals, p.lines = d, h.recs, h.seals, h.lines
	p.reread = map[string]int64{}
	for file, l := range h.lines {
		p.reread[file] = l.off
	}
	if len(h.recs) > 0 {
		p.log.Info("records from the last run wait for NATS", "records", len(h.recs), "file", p.c.BufferFile)
	}
	return nil
}

// Node is the node name this Publisher puts in its records.
func (p *Publisher) Node() string { return p.node }

// Publish queues rec, a record whose line cannot be read again, to be
// sent, with this Publisher's node (rec itself is not changed: it is
// shared with the local hub). Its seq names it (in its batch's id), which
// holds across restarts while seqs are kept (--state). With BufferFile,
// the record is in the file when Publish returns. It never waits: when
// the buffer is full, rec is dropped and counted, the first drop since
// the buffer was last empty is logged, and Publish returns false.
func (p *Publisher) Publish(rec *record.Record) bool {
	m := p.message(rec, "", int64(rec.Seq))
	p.mu.Lock()
	if p.fullLocked() {
		p.dropped.Add(1)
		if !p.drops {
			p.drops = true
			p.log.Warn("the NATS publish buffer is full: dropping records that cannot be read again (standard input, FIFOs, syslog, /ingest) until NATS takes some; each is counted in dropped",
				"buffer", p.c.Buffer)
		}
		p.mu.Unlock()
		return false
	}
	p.addLocked(m)
	p.mu.Unlock()
	p.poke()
	return true
}

// PublishWait queues rec, a record whose line can be read again from its
// log, to be sent, as Publish does; file names the log file for good (its
// identity) and off the line in it. While the buffer is full it waits for
// room, so that its caller reads the log no further. When ctx is done it
// stops waiting and queues rec all the same, beyond Buffer: its caller
// counts the line as read.
//
// With BufferFile, a line read again after a restart (the checkpoint
// lags the buffer by up to a tick) is not queued twice: lines of a file
// up to the last one queued before the restart are passed over, as they
// wait in the buffer or are in the stream already. A batch's records are
// then the same, so its id is too.
func (p *Publisher) PublishWait(ctx context.Context, rec *record.Record, file string, off int64) {
	m := p.message(rec, file, off)
	p.mu.Lock()
	if last, ok := p.reread[file]; ok {
		if off <= last {
			p.mu.Unlock()
			return
		}
		delete(p.reread, file)
	}
	for p.fullLocked() && ctx.Err() == nil {
		if !p.full {
			p.full = true
			p.log.Info("the NATS publish buffer is full: logs are read no further until NATS takes some records", "buffer", p.c.Buffer)
		}
		if p.room == nil {
			p.room = make(chan struct{})
		}
		room := p.room
		p.mu.Unlock()
		select {
		case <-room:
		case <-ctx.Done():
		}
		p.mu.Lock()
	}
	p.addLocked(m)
	p.mu.Unlock()
	p.poke()
}

// Full reports whether the buffer is full, so that PublishWait would
// wait.
func (p *Publisher) Full() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fullLocked()
}

func (p *Publisher) fullLocked() bool { return len(p.buf)-p.head >= p.c.Buffer }

// message is rec as it waits.
func (p *Publisher) message(rec *record.Record, file string, off int64) pending {
	return pending{source: rec.Source, file: file, off: off, data: appendWire(nil, rec), at: time.Now()}
}

// poke wakes the sender; it never blocks.
func (p *Publisher) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// addLocked appends m to the waiting records, and to the file.
func (p *Publisher) addLocked(m pending) {
	if p.head > 0 && p.head >= len(p.buf)/2 {
		// Compact once half the slice is spent, so that memory stays
		// proportional to what waits.
		n := copy(p.buf, p.buf[p.head:])
		clear(p.buf[n:])
		p.buf, p.head = p.buf[:n], 0
	}
	p.buf = append(p.buf, m)
	if p.disk != nil {
		p.diskFailed(p.disk.add(m))
		if m.file != "" {
			p.lines[m.file] = lineMark{m.off, m.at}
		}
	}
}

// removeLocked forgets the oldest batch, n records now in the stream,
// and wakes PublishWait when there is room.
func (p *Publisher) removeLocked(n int) {
	p.seals = p.seals[1:]
	clear(p.buf[p.head : p.head+n])
	p.head += n
	p.first += uint64(n)
	if p.disk != nil {
		p.disk.remove(n)
	}
	if p.room != nil && !p.fullLocked() {
		close(p.room)
		p.room = nil
	}
	if p.head == len(p.buf) {
		p.full, p.drops = false, false
	}
}

func (p *Publisher) waitingLocked() held {
	return held{recs: p.buf[p.head:], seals: p.seals, lines: p.lines}
}

// diskFailed counts and logs a failure of the buffer file; each new
// error is logged once. The records stay in memory, and the file is
// rewritten from there (tidy) as soon as that works again.
func (p *Publisher) diskFailed(err error) {
	if err == nil {
		return
	}
	p.diskErrs.Add(1)
	if err.Error() != p.diskLog {
		p.diskLog = err.Error()
		p.log.Error("cannot keep the NATS publish buffer on disk; records wait in memory only", "err", err)
	}
}

// Stats returns the counters.
func (p *Publisher) Stats() PublisherStats {
	st := PublisherStats{
		Published: p.pub.Load(), Dropped: p.dropped.Load(), Errors: p.errs.Load(), DiskErrors: p.diskErrs.Load(),
		OutOfOrder: p.outOfOrder.Load(),
		Connected:  p.link.connected(), LastError: p.link.err(),
	}
	p.mu.Lock()
	st.Pending = len(p.buf) - p.head
	if st.Pending > 0 {
		st.Lag = time.Since(p.buf[p.head].at)
	}
	if p.disk != nil {
		st.OnDisk = p.disk.waiting()
	}
	p.mu.Unlock()
	return st
}

// Sync makes the buffer file durable: every record Publish has returned
// from survives a crash of the machine. While a write of the file has
// failed it rewrites the file from memory, and returns an error when that
// fails too. Without BufferFile it does nothing.
func (p *Publisher) Sync() error {
	p.mu.Lock()
	var f *os.File
	if p.disk != nil {
		if p.disk.broken {
			// Records wait in memory only: the checkpoint must not move
			// past their lines until the file has them again.
			p.diskFailed(p.disk.tidy(p.waitingLocked, false))
			if p.disk.broken {
				p.mu.Unlock()
				return errors.New("sync the NATS publish buffer: records wait in memory only until the file can be written again")
			}
		}
		f = p.disk.syncFile()
	}
	p.mu.Unlock()
	if f == nil {
		return nil
	}
	if err := f.Sync(); err != nil && !errors.Is(err, os.ErrClosed) {
		p.mu.Lock()
		if p.disk != nil {
			p.disk.dirty = true
		}
		p.diskFailed(err)
		p.mu.Unlock()
		return fmt.Errorf("sync the NATS publish buffer: %w", err)
	}
	return nil
}

// Close writes down what was acknowledged and closes the buffer file;
// records still waiting stay in it for the next start. Publish keeps
// working, in memory only. Without BufferFile it does nothing.
func (p *Publisher) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.disk == nil {
		return nil
	}
	d := p.disk
	p.disk = nil
	p.diskFailed(d.tidy(p.waitingLocked, true))
	err := d.f.Sync()
	if cerr := d.close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("close the NATS publish buffer: %w", err)
	}
	return nil
}

// tidy tells the buffer file what was acknowledged.
func (p *Publisher) tidy() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.disk != nil {
		p.diskFailed(p.disk.tidy(p.waitingLocked, false))
	}
}

// outgoing is a batch as it is sent: its first record's number, its
// size, and its message.
type outgoing struct {
	n     uint64
	count int
	msg   *nats.Msg
	id    string
}

// batch returns the batch that starts at record n, or at the oldest
// waiting one if n is older. Past the batches sent already, it makes a
// new one of the records that wait, written down in the buffer file
// before it is sent: the oldest ones of one source, up to maxBatchRecords
// and maxBatchBytes. False when no record waits there.
func (p *Publisher) batch(n uint64) (outgoing, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n = max(n, p.first)
	at, i := p.first, 0
	for i < len(p.seals) && at < n {
		at += uint64(p.seals[i])
		i++
	}
	start := p.head + int(at-p.first)
	if start >= len(p.buf) {
		return outgoing{}, false
	}
	if i == len(p.seals) {
		count, size := 0, 0
		for _, m := range p.buf[start:] {
			if count > 0 && (m.source != p.buf[start].source || count == maxBatchRecords || size+len(m.data) > maxBatchBytes) {
				break
			}
			count++
			size += len(m.data)
		}
		p.seals = append(p.seals, count)
		if p.disk != nil {
			p.diskFailed(p.disk.seal(count))
		}
	}
	recs := p.buf[start : start+p.seals[i]]
	size := 0
	for _, m := range recs {
		size += len(m.data)
	}
	source := recs[0].source
	data := appendHeader(make([]byte, 0, size+len(p.node)+len(source)+16), p.node, source, len(recs))
	for _, m := range recs {
		data = append(data, m.data...)
	}
	return outgoing{n: at, count: len(recs), id: BatchID(p.node, source, recs[0].key(), len(recs)),
		msg: &nats.Msg{Subject: Subject(p.c.Prefix, p.node, source), Data: data}}, true
}

// acked forgets the batch of count records from record n, the oldest
// waiting one, now that the stream has it. The stream sequences of a
// node's batches grow with the batches; one that is lower than the last
// means a batch was stored after a later one (see Publisher): its records
// are counted, and it is logged.
func (p *Publisher) acked(n uint64, count int, ack *jetstream.PubAck) {
	p.pub.Add(uint64(count))
	if last := p.lastSeq.Load(); ack.Sequence < last {
		p.outOfOrder.Add(uint64(count))
		p.log.Warn("a batch of records was stored in the NATS stream after a later one of this node", "stream_seq", ack.Sequence, "after", last)
	} else {
		p.lastSeq.Store(ack.Sequence)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if n == p.first && len(p.seals) > 0 && p.seals[0] == count { // always; a guard against a mistake
		p.removeLocked(count)
	}
}

// Run connects to NATS, makes sure the stream exists, and sends what
// Publish queues until ctx is done. A NATS that is unreachable, at the
// start or later, is retried for as long as Run runs; records wait in the
// buffer meanwhile. Records still waiting when ctx is done stay in the
// buffer (Stats().Pending; in the file too with BufferFile). Run returns
// nil when ctx is done, or the error of a Config NATS refuses for good.
func (p *Publisher) Run(ctx context.Context) error {
	nc, err := connect(&p.link, p.c.URL, "weblogd publisher "+p.node, p.log, p.c.Options, []nats.Option{
		// Nothing waits in the client while it reconnects: a publish then
		// fails at once (see Publisher for why order needs it).
		nats.ReconnectBufSize(-1),
	})
	if err != nil {
		return err
	}
	defer nc.Close() // ends the client's goroutines
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(p.c.AckTimeout))
	if err != nil {
		return fmt.Errorf("open jetstream: %w", err)
	}
	p.log.Info("publishing to NATS", "url", p.link.url, "stream", p.c.Stream, "node", p.node, "buffer_file", p.c.BufferFile)
	cfg := jetstream.StreamConfig{
		Name:       p.c.Stream,
		Subjects:   []string{p.c.Prefix + ".>"},
		Storage:    jetstream.FileStorage,
		Duplicates: p.c.Duplicates,
		// Batches of log lines compress well (NATS 2.10 and later).
		Compression: jetstream.S2Compression,
	}
	r := retrier{log: p.log, what: "cannot create the NATS stream; retrying"}
	for !p.ensureStream(ctx, js, cfg, &r) {
		if !r.wait(ctx) {
			return nil
		}
	}
	p.send(ctx, js)
	return nil
}

// flight is a publish waiting for its acknowledgement.
type flight struct {
	n     uint64 // the number of the batch's first record
	count int
	ack   jetstream.PubAckFuture
}

// send publishes until ctx is done: up to Window records in flight, the
// oldest's outcome awaited first.
func (p *Publisher) send(ctx context.Context, js jetstream.JetStream) {
	r := retrier{log: p.log, what: "cannot publish to NATS; retrying"}
	var inflight []flight
	var next uint64 // the number of the next record to send
	sinceTidy := 0
	for {
		var failed error
		inOrder := true // no record in flight has failed yet
		for len(inflight) < p.c.Window {
			b, ok := p.batch(next)
			if !ok {
				break
			}
			ack, err := js.PublishMsgAsync(b.msg,
				// No retry inside the client: it would resend one batch
				// out of turn, after later ones.
				jetstream.WithMsgID(b.id), jetstream.WithRetryAttempts(0))
			if err != nil {
				failed = err
				break
			}
			inflight = append(inflight, flight{b.n, b.count, ack})
			next = b.n + uint64(b.count)
		}
		if failed == nil {
			if len(inflight) == 0 {
				p.tidy()
				sinceTidy = 0
				select {
				case <-ctx.Done():
					return
				case <-p.wake:
					continue
				}
			}
			wake := p.wake // more to send while the oldest is in flight
			if len(inflight) >= p.c.Window {
				wake = nil
			}
			select {
			case <-ctx.Done():
				return
			case <-wake:
				continue
			case ack := <-inflight[0].ack.Ok():
				p.acked(inflight[0].n, inflight[0].count, ack)
				sinceTidy += inflight[0].count
				inflight = inflight[1:]
				r.ok()
				if sinceTidy >= tidyEvery {
					p.tidy()
					sinceTidy = 0
				}
				continue
			case failed = <-inflight[0].ack.Err():
				inflight = inflight[1:] // its outcome is known
				inOrder = false
			}
		}
		// Something failed: wait for what is in flight, then send again
		// from the oldest record not acknowledged.
		if !p.link.connected() {
			failed = errNotConnected
		}
		p.errs.Add(1)
		if !p.settle(ctx, inflight, inOrder) {
			return
		}
		inflight, next = inflight[:0], 0
		p.tidy()
		r.fail(ctx, failed)
		if !r.wait(ctx) {
			return
		}
	}
}

// settle waits until every publish in flight has its outcome (each has
// one within AckTimeout, or when the connection drops), so that none can
// reach the stream after what is sent next. While inOrder, acknowledged
// ones are done; after the first failure, even acknowledged ones are sent
// again, to keep the order (the stream drops them as duplicates). False
// when ctx ended it.
func (p *Publisher) settle(ctx context.Context, inflight []flight, inOrder bool) bool {
	for _, f := range inflight {
		select {
		case <-ctx.Done():
			return false
		case ack := <-f.ack.Ok():
			if inOrder {
				p.acked(f.n, f.count, ack)
			}
		case <-f.ack.Err():
			inOrder = false
		}
	}
	return true
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
			if !p.link.connected() {
				err = errNotConnected
			}
			r.fail(ctx, err)
		}
		return false
	}
	r.ok()
	return true
}
