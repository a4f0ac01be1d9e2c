package feed

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/weblogd/weblogd/auth"
	"github.com/weblogd/weblogd/broadcast"
	"github.com/weblogd/weblogd/certs"
	"github.com/weblogd/weblogd/fleet"
	"github.com/weblogd/weblogd/format"
	"github.com/weblogd/weblogd/geoip"
	"github.com/weblogd/weblogd/record"
	"github.com/weblogd/weblogd/redact"
	"github.com/weblogd/weblogd/stats"
	"github.com/weblogd/weblogd/tailer"
	"github.com/weblogd/weblogd/transports"
	"github.com/weblogd/weblogd/transports/httpchunk"
	"github.com/weblogd/weblogd/transports/sse"
	"github.com/weblogd/weblogd/transports/tcpxml"
	"github.com/weblogd/weblogd/transports/ws"
)

// Transport names: labels of the metrics and keys of /api/status.
const (
	transportTCP    = "tcp"
	transportHits   = "hits"
	transportEvents = "events"
	transportWS     = "ws"
)

var transportNames = []string{transportTCP, transportHits, transportEvents, transportWS}

// HTTP server timeouts. Streams are long-lived responses, so there is no
// WriteTimeout (each stream write has its own deadline instead); the
// header (Config.ReadHeaderTimeout) and idle limits stop slow-loris
// clients from holding sockets.
const (
	idleTimeout    = 2 * time.Minute
	maxHeaderBytes = 64 << 10
)

// Server is one weblogd: its logs, its ring and hub, its listeners.
type Server struct {
	cfg     Config
	log     *slog.Logger
	ring    *broadcast.Ring
	hub     *broadcast.Hub
	src     *sources
	streams *streams          // standard input, syslog, /ingest
	syslog  []*syslogListener // open from Run on
	pub     *fleet.Publisher  // nil without Config.Publish
	edge    *fleet.Edge       // nil without Config.Subscribe
	tcp     *tcpxml.Server
	hits    *httpchunk.Handler
	events  *sse.Handler
	ws      *ws.Handler
	handler http.Handler
	started time.Time

	counters map[string]*transports.Counters
	limiter  *transports.Limiter // shared by every transport
	drain    *transports.Drain   // bounds every stream's writes at shutdown
	registry *prometheus.Registry
	flushDur prometheus.Histogram

	ran      atomic.Bool
	ready    chan struct{} // closed when the listeners are up
	stopping chan struct{} // closed when shutdown begins
	httpAddr net.Addr
	tcpAddr  net.Addr
	tls      *tls.Config // nil without TLS

	stateErrs  atomic.Uint64          // failed saves of the checkpoint
	stateFault atomic.Pointer[string] // why the last save failed; nil once one succeeds

	tokens       *auth.File // nil: no authentication
	admin        *auth.File // nil: no admin API
	ingestTokens *auth.File // nil: no /ingest
	ingestLimit  *transports.TokenLimiter
	ingestRate   *ingestRates   // nil: no rate limit
	sessions     *auth.Sessions // browser sessions; nil without tokens
	tokenLimit   *transports.TokenLimiter
	authFailures map[string]*atomic.Uint64 // by where: authPlaces
	redactor     *redact.Redactor          // nil: nothing masked
	trusted      []netip.Prefix            // Config.TrustedProxies

	stats     *stats.Stats // every record that enters the ring, and the logs' history
	geo       *geoip.DB    // nil without Config.GeoIP; Run closes it
	durations *durations   // weblogd_request_duration_seconds
}

// New checks c and builds a server. It reads the TLS certificate, if any,
// so that a bad one is reported here, but starts nothing and opens no
// listener or log: Run does.
func New(c Config) (_ *Server, err error) {
	c, err = c.withDefaults()
	for _, p := range c.Logs {
		if _, gerr := filepath.Match(p, ""); isGlob(p) && gerr != nil {
			err = errors.Join(err, fmt.Errorf("log pattern %q: %w", p, gerr))
		}
	}
	var tlsConfig *tls.Config
	if err == nil {
		tlsConfig, err = c.serverTLS()
	}
	var tokens, admin, ingestTokens *auth.File
	if err == nil && c.TokenFile != "" {
		tokens, err = auth.Load(c.TokenFile, c.Logger.With("file", "tokens"))
	}
	if err == nil && c.AdminTokenFile != "" {
		admin, err = loadAdminTokens(c.AdminTokenFile, c.Logger.With("file", "admin tokens"))
	}
	if err == nil && c.IngestTokenFile != "" {
		ingestTokens, err = loadIngestTokens(c.IngestTokenFile, c.Logger.With("file", "ingest tokens"))
	}
	var red *redact.Redactor
	if err == nil {
		red, err = redact.New(c.Redact)
	}
	var st *stats.Stats
	var geo *geoip.DB
	if err == nil {
		st, geo, err = newStats(c)
	}
	if err != nil {
		return nil, fmt.Errorf("configure weblogd: %w", err)
	}
	defer func() {
		if err != nil && geo != nil {
			geo.Close()
		}
	}()
	s := &Server{
		cfg:          c,
		log:          c.Logger,
		ready:        make(chan struct{}),
		stopping:     make(chan struct{}),
		counters:     map[string]*transports.Counters{},
		tls:          tlsConfig,
		tokens:       tokens,
		admin:        admin,
		ingestTokens: ingestTokens,
		ingestLimit:  transports.NewTokenLimiter(c.IngestRequestsPerToken),
		ingestRate:   newIngestRates(c.IngestRatePerToken),
		redactor:     red,
		authFailures: map[string]*atomic.Uint64{},
		stats:        st,
		geo:          geo,
		durations:    newDurations(max(c.MaxSources, 0)),
	}
	for _, p := range authPlaces {
		s.authFailures[p] = new(atomic.Uint64)
	}
	for _, p := range c.TrustedProxies {
		pfx, _ := parsePrefix(p) // checked by withDefaults
		s.trusted = append(s.trusted, pfx)
	}
	if tokens != nil {
		s.sessions = auth.NewSessions(c.SessionLifetime)
		s.tokenLimit = transports.NewTokenLimiter(c.MaxSubscribersPerToken)
	}
	for _, name := range transportNames {
		s.counters[name] = new(transports.Counters)
	}
	s.ring = broadcast.NewRing(c.Ring, 0)
	s.flushDur = newFlushHistogram()
	s.hub = broadcast.NewHub(broadcast.HubConfig{Ring: s.ring, Tick: c.Tick, Queue: c.Queue, SlowTimeout: c.SlowTimeout,
		OnFlush: func(took time.Duration, _ int) { s.flushDur.Observe(took.Seconds()) },
		Gather:  func() { s.src.gather(gatherWait(s.hub.Tick())) }})
	s.limiter = transports.NewLimiter(c.MaxSubscribers, c.MaxSubscribersPerIP)
	s.drain = new(transports.Drain)
	tcpConfig := tcpxml.Config{Hub: s.hub, WriteTimeout: c.WriteTimeout, Logger: c.Logger, Counters: s.counters[transportTCP],
		Limiter: s.limiter, Drain: s.drain}
	if tokens != nil {
		tcpConfig.Authenticate = func(secret string) (*transports.Grant, bool) {
			t, ok := tokens.Check(secret)
			if !ok {
				return nil, false
			}
			return t.Grant, true
		}
		tcpConfig.AuthTimeout = c.ReadHeaderTimeout
		tcpConfig.OnAuthFailure = func() { s.authFailures[transportTCP].Add(1) }
		tcpConfig.Tokens = s.tokenLimit
	}
	s.tcp = tcpxml.New(tcpConfig)
	s.hits = httpchunk.New(transports.StreamConfig{Hub: s.hub, WriteTimeout: c.WriteTimeout, Heartbeat: c.Heartbeat, Counters: s.counters[transportHits],
		Limiter: s.limiter, Drain: s.drain})
	s.events = sse.New(transports.StreamConfig{Hub: s.hub, WriteTimeout: c.WriteTimeout, Heartbeat: c.Heartbeat, Counters: s.counters[transportEvents],
		Limiter: s.limiter, Drain: s.drain})
	s.ws = ws.New(ws.Config{Hub: s.hub, WriteTimeout: c.WriteTimeout, PongWait: c.PongWait, AllowOrigins: c.AllowOrigins, Counters: s.counters[transportWS],
		Limiter: s.limiter, Drain: s.drain, Tokens: s.tokenLimit})
	f, err := format.Compile(c.Format)
	if err != nil {
		return nil, fmt.Errorf("configure weblogd: format: %w", err)
	}
	var files []string
	for _, l := range c.Logs {
		if l != StdinLog {
			files = append(files, l)
		}
	}
	s.src = &sources{
		patterns: files,
		format:   f,
		maxLine:  c.MaxLineBytes,
		rotWait:  c.RotateWait,
		log:      c.Logger,
		ingest:   s.ingest,
		added:    s.durations.file,
		byPath:   map[string]*source{},
		names:    map[string]bool{},
	}
	s.streams = newStreams(f, c.MaxLineBytes, c.MaxSources, red, c.Logger, s.publish)
	var natsOpts []nats.Option
	if c.Publish != "" || c.Subscribe != "" {
		if natsOpts, err = c.NATSAuth.Options(); err != nil {
			return nil, fmt.Errorf("configure weblogd: %w", err)
		}
		natsOpts = append(natsOpts, c.NATSOptions...)
	}
	if c.Subscribe != "" {
		// The edge's records enter the ring like a log's: they get this
		// server's seq, keep the publisher's node and source, and are
		// masked by this server's redaction (the publisher may have none).
		if s.edge, err = fleet.NewEdge(fleet.EdgeConfig{URL: c.Subscribe, Node: c.Node, Durable: c.Consumer, Options: natsOpts,
			Logger: c.Logger.With("nats", "subscribe")}, func(rec *record.Record) { red.Record(rec); s.hub.Publish(rec); s.keep(rec) }); err != nil {
			return nil, fmt.Errorf("configure weblogd: %w", err)
		}
	}
	if c.Publish != "" {
		// It opens its buffer file, which Run closes (or New, if it fails
		// after this).
		pc := fleet.PublisherConfig{URL: c.Publish, Node: c.Node, Buffer: c.PublishBuffer, Options: natsOpts, Logger: c.Logger.With("nats", "publish")}
		if c.StatePath != "" {
			pc.BufferFile = c.StatePath + ".nats"
		}
		if s.pub, err = fleet.NewPublisher(pc); err != nil {
			return nil, fmt.Errorf("configure weblogd: %w", err)
		}
		s.src.held = s.pub.Full
	}
	if err := s.registerMetrics(c.Registry); err != nil {
		if s.pub != nil {
			s.pub.Close()
		}
		return nil, fmt.Errorf("configure weblogd: %w", err)
	}
	s.handler = s.buildHandler()
	return s, nil
}

// Ready is closed once Run has its listeners up and follows its logs; then
// HTTPAddr and TCPAddr are valid.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// HTTPAddr returns the HTTP listener's address once Ready; nil if off.
func (s *Server) HTTPAddr() net.Addr { return s.httpAddr }

// TCPAddr returns the raw stream listener's address once Ready; nil if off.
func (s *Server) TCPAddr() net.Addr { return s.tcpAddr }

// SyslogAddrs returns the syslog listeners' addresses once Ready, in the
// order of Config.Syslog.
func (s *Server) SyslogAddrs() []net.Addr {
	var out []net.Addr
	for _, l := range s.syslogListeners() {
		out = append(out, l.addr)
	}
	return out
}

// Subscribe takes records in-process, like any network subscriber: live
// records from now on, or history first as o asks. It waits for Run to be
// running (or ctx). The caller drains it with Ready/Take and Closes it:
// Ready is signalled on news and on the end, and Reason, read before each
// Take, says whether the stream is over once that is written.
func (s *Server) Subscribe(ctx context.Context, o broadcast.SubscribeOptions) (*broadcast.Subscription, error) {
	select {
	case <-s.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return s.hub.Subscribe(ctx, o)
}

// LastSeq returns the seq of the newest record handed to subscribers; 0
// before Run is ready.
func (s *Server) LastSeq() uint64 {
	select {
	case <-s.ready:
		return s.hub.Flushed()
	default:
		return 0
	}
}

// ingest is the tailers' emit. The tailer counts the line as delivered
// (Positions) only once this returns, when it is in the ring (and in the
// NATS publish buffer): a checkpoint can then never skip a line. While
// that buffer is full, a line of a file waits here, so that its log is
// read no further; ctx ends the wait.
func (s *Server) ingest(ctx context.Context, src *source, l tailer.Line) {
	rec := newRecord(src, l, s.redactor)
	if rec == nil {
		return // a part of a line: it comes out whole with its last part
	}
	s.hub.Publish(rec)
	s.keep(rec)
	if s.pub != nil {
		// The line's file and offset name it across restarts, so that
		// one published again after a restart is deduplicated by the
		// stream, whatever seq it gets this time. A FIFO's lines have
		// neither, and are never read twice: their seq names them, and
		// a full buffer drops them rather than hold up the FIFO's writer.
		if l.File.IsZero() {
			s.pub.Publish(rec)
			return
		}
		s.pub.PublishWait(ctx, rec, fmt.Sprintf("%x:%x:%x", l.File.Dev, l.File.Inode, l.File.Fingerprint), l.Offset)
	}
}

// publish puts a record of a stream (standard input, syslog, /ingest) in
// the ring, and sends it to NATS. A stream's lines have no file and
// offset to name them across restarts, and are never read twice: their
// seq names them, as a FIFO's.
func (s *Server) publish(rec *record.Record) {
	s.hub.Publish(rec)
	s.keep(rec)
	if s.pub != nil {
		s.pub.Publish(rec)
	}
}

// syslogListeners are the syslog listeners once Run is ready (Run sets
// them before; the handlers may serve before Run).
func (s *Server) syslogListeners() []*syslogListener {
	if !s.isReady() {
		return nil
	}
	return s.syslog
}

// isReady says whether Run got as far as Ready.
func (s *Server) isReady() bool {
	select {
	case <-s.ready:
		return true
	default:
		return false
	}
}

// readsStdin says whether standard input is one of the logs.
func (s *Server) readsStdin() bool { return slices.Contains(s.cfg.Logs, StdinLog) }

// readStdin reads standard input into st until it ends or ctx is done.
// When it ends, weblogd goes on serving what it has, and /readyz says
// that the source ended: no new line will come.
func (s *Server) readStdin(ctx context.Context, st *stream) {
	r, restore := s.cfg.Stdin, func() {}
	if r == nil {
		r, restore = openStdin()
	}
	defer restore()
	err := tailer.ReadStream(ctx, r, s.cfg.MaxLineBytes, func(l tailer.Line) { st.take(l.Text, l.Truncated) })
	if ctx.Err() != nil {
		return
	}
	records, _, _ := st.read.Counts()
	why := fmt.Sprintf("stdin ended at %s after %d records: no new line will come; what was read is served", time.Now().Format(time.RFC3339), records)
	if err != nil {
		why = fmt.Sprintf("stdin failed at %s after %d records: %v; no new line will come; what was read is served", time.Now().Format(time.RFC3339), records, err)
		s.log.Error("standard input failed; serving what was read", "err", err, "records", records)
	} else {
		s.log.Info("standard input ended; serving what was read", "records", records)
	}
	st.end(why)
}

// Run serves until ctx is done, then shuts down: no new subscribers, the
// logs are read no further, what was read is flushed, every stream ends
// properly ("</hits>", end of response, close frame), the checkpoint is
// saved. Streams that have not ended after ShutdownTimeout are cut. Run
// returns nil after a clean shutdown; an error if it could not start or a
// listener failed. It can be called once.
func (s *Server) Run(ctx context.Context) (err error) {
	if !s.ran.CompareAndSwap(false, true) {
		return errors.New("run weblogd: already run")
	}
	if s.pub != nil {
		// On every way out; a second Close (the one before the final
		// checkpoint) does nothing.
		defer s.pub.Close()
	}
	// The statistics fold what they are given from the first history line
	// to the last record of the shutdown's flush.
	statsCtx, stopStats := context.WithCancel(context.WithoutCancel(ctx))
	statsDone := make(chan struct{})
	go func() {
		defer close(statsDone)
		s.stats.Run(statsCtx)
	}()
	defer func() {
		stopStats()
		<-statsDone
		if s.geo != nil {
			s.geo.Close() // the statistics look countries up in their Run only
		}
	}()
	cfg := s.cfg
	var hl, tl net.Listener
	defer func() {
		for _, l := range []net.Listener{hl, tl} {
			if l != nil && err != nil {
				l.Close()
			}
		}
	}()
	if cfg.HTTPAddr != NoListen {
		if hl, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
			return fmt.Errorf("listen for http: %w", err)
		}
		s.httpAddr = hl.Addr()
	}
	if cfg.TCPAddr != NoListen {
		if tl, err = net.Listen("tcp", cfg.TCPAddr); err != nil {
			return fmt.Errorf("listen for raw tcp: %w", err)
		}
		s.tcpAddr = tl.Addr()
		if s.tls != nil {
			// Handshakes finish before tcpxml sees a connection, so a
			// client that is not speaking TLS never takes a subscriber slot.
			tl = certs.NewListener(tl, certs.ListenerConfig{TLS: s.tls, HandshakeTimeout: cfg.ReadHeaderTimeout,
				PlainTextReply: plainTextReply, Logger: s.log})
		}
	}

	if s.syslog, err = s.listenSyslog(); err != nil {
		return err
	}
	defer func() {
		if err != nil && !s.isReady() {
			for _, l := range s.syslog {
				l.close()
			}
		}
	}()

	state := s.loadState()
	if state != nil {
		s.ring.Continue(state.LastSeq)
	}
	saved, err := s.openLogs(ctx, state)
	if err != nil {
		return err
	}
	if m := s.src.missing(); len(m) > 0 {
		// A mistyped path would otherwise be waited for in silence.
		s.log.Warn("logs that do not exist yet are waited for", "logs", m)
	}

	var wg sync.WaitGroup
	hubCtx, stopHub := context.WithCancel(context.WithoutCancel(ctx))
	defer stopHub()
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.hub.Run(hubCtx)
	}()
	<-s.hub.Running() // what the ring holds now is history: backfill

	tailCtx, stopTail := context.WithCancel(ctx)
	defer stopTail()
	tailDone := make(chan struct{})
	var readers sync.WaitGroup // the ways in that are not files
	readers.Go(func() { s.src.run(tailCtx) })
	if s.readsStdin() {
		st, _ := s.streams.get(kindStdin, "stdin")
		readers.Go(func() { s.readStdin(tailCtx, st) })
	}
	for _, l := range s.syslog {
		readers.Go(func() { l.run(tailCtx) })
	}
	go func() {
		defer close(tailDone)
		readers.Wait()
	}()

	// What stops Run while it serves: each of these goroutines sends at
	// most one error, so it never blocks.
	fatal := make(chan error, 4)

	// NATS: the publisher sends what the tailers give it until the logs
	// are read no further and its buffer is empty (or the drain time is
	// up); the edge feeds the hub until the tailers stop too. NATS being
	// away is no error (they retry); an error is one they cannot get
	// over, and stops Run like a listener's.
	natsCtx, stopNATS := context.WithCancel(context.WithoutCancel(ctx))
	defer stopNATS()
	edgeCtx, stopEdge := context.WithCancel(ctx)
	defer stopEdge()
	var natsWG sync.WaitGroup
	if s.pub != nil {
		natsWG.Go(func() {
			if err := s.pub.Run(natsCtx); err != nil {
				fatal <- fmt.Errorf("publish to NATS: %w", err)
			}
		})
	}
	edgeDone := make(chan struct{})
	if s.edge != nil {
		go func() {
			defer close(edgeDone)
			if err := s.edge.Run(edgeCtx); err != nil {
				fatal <- fmt.Errorf("subscribe to NATS: %w", err)
			}
		}()
	} else {
		close(edgeDone)
	}

	tcpCtx, stopTCP := context.WithCancel(ctx)
	defer stopTCP()
	tcpDone := make(chan struct{})
	if tl != nil {
		go func() {
			defer close(tcpDone)
			if err := s.tcp.Serve(tcpCtx, tl); err != nil {
				fatal <- fmt.Errorf("serve raw tcp: %w", err)
			}
		}()
	} else {
		close(tcpDone)
	}

	reqCtx, cutRequests := context.WithCancel(context.WithoutCancel(ctx))
	defer cutRequests()
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		BaseContext:       func(net.Listener) context.Context { return reqCtx },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		// A copy of its own: ServeTLS configures HTTP/2 on the server's
		// TLSConfig in place, while the raw port may be handshaking with
		// s.tls already (a data race, seen under -race). The certificates
		// are shared all the same, through GetCertificate.
		TLSConfig: s.tls.Clone(),
	}
	httpDone := make(chan struct{})
	if hl != nil {
		go func() {
			defer close(httpDone)
			serve := func() error { return hs.Serve(hl) }
			if s.tls != nil {
				serve = func() error { return hs.ServeTLS(certs.FailFast(hl), "", "") }
			}
			if err := serve(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				fatal <- fmt.Errorf("serve http: %w", err)
			}
		}()
	} else {
		close(httpDone)
	}

	saverCtx, stopSaver := context.WithCancel(context.Background())
	saverDone := make(chan struct{})
	go func() {
		defer close(saverDone)
		s.saveLoop(saverCtx, saved)
	}()

	credCtx, stopCred := context.WithCancel(ctx)
	defer stopCred()
	credDone := make(chan struct{})
	go func() {
		defer close(credDone)
		s.watchCredentials(credCtx)
	}()

	s.started = time.Now()
	close(s.ready)
	s.log.Info("weblogd started", "version", cfg.Version, "http", addrString(s.httpAddr), "tcp", addrString(s.tcpAddr), "logs", len(s.src.snapshot()), "format", s.src.format.String(), "tls", s.tls != nil,
		"auth", s.tokens != nil, "admin", s.admin != nil, "ingest", s.ingestTokens != nil, "redact", s.redactor != nil)
	if open := beyondLoopback(s.httpAddr, s.tcpAddr); s.tokens == nil && len(open) > 0 {
		s.log.Warn("listening beyond loopback without a token file: anyone who can reach these ports sees every request", "addrs", open)
	}
	if len(s.syslog) > 0 {
		var addrs []string
		for _, l := range s.syslog {
			addrs = append(addrs, l.network+":"+l.addr.String())
		}
		s.log.Info("listening for syslog", "addrs", addrs, "max_sources", cfg.MaxSources)
	}
	if open := beyondLoopbackSyslog(s.syslog); len(open) > 0 {
		s.log.Warn("syslog listening beyond loopback: syslog has no authentication, so anyone who can reach these ports can add records under any source name", "syslog", open)
	}

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-fatal:
	}

	// Shutdown, in this order: no new subscribers or requests, no new
	// records (the tailers stop), then the hub's last flush and every
	// stream's goodbye, so that each subscriber gets every record read
	// before its stream ends; what is still open at the timeout is cut.
	var errs []error
	close(s.stopping)
	stopCred() // the token files are read no more
	<-credDone
	deadline := time.Now().Add(cfg.ShutdownTimeout)
	shutCtx, cancelShut := context.WithDeadline(context.Background(), deadline)
	defer cancelShut()
	stopTCP() // no new raw subscribers
	httpShut := make(chan error, 1)
	go func() { httpShut <- hs.Shutdown(shutCtx) }() // no new requests; waits for streams
	stopTail()
	// A log waiting for reserved seqs must not hold the shutdown up: the
	// saver stops (the checkpoint is saved once more, at the end, with the
	// exact last seq), and the limit goes. Each log stops after the line
	// in hand.
	stopSaver()
	<-saverDone
	s.ring.SetLimit(0)
	<-tailDone
	s.streams.stop()
	stopEdge()
	<-edgeDone
	if s.pub != nil {
		s.drainPublisher(time.Now().Add(cfg.ShutdownTimeout / 2))
	}
	stopNATS()
	natsWG.Wait()
	if s.pub != nil {
		// What still waits stays in the buffer file for the next start;
		// before the checkpoint below moves past its lines.
		if err := s.pub.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	// Goodbyes get half the shutdown timeout, however long the write
	// timeout: a client that stopped reading is cut then, as it would be
	// anyway, and the other half is left for what follows (the close
	// handshakes, the handlers returning, the checkpoint).
	s.drain.Start(time.Now().Add(cfg.ShutdownTimeout / 2))
	stopHub() // final flush, then every subscription ends: writers say goodbye
	wg.Wait()

	select {
	case <-tcpDone:
	case <-shutCtx.Done():
		s.tcp.CloseAll()
		<-tcpDone
		errs = append(errs, errors.New("shut down raw tcp: streams cut after the shutdown timeout"))
	}
	if tl != nil {
		// Serve has closed it, perhaps still closing: with TLS, this waits
		// for its handshake goroutines (a plain listener's second Close is
		// a no-op).
		tl.Close()
	}
	// WebSockets are hijacked: http.Server.Shutdown does not wait for them.
	if err := s.ws.Wait(shutCtx); err != nil {
		s.ws.CloseAll()
		errs = append(errs, errors.New("shut down websocket: streams cut after the shutdown timeout"))
	}
	s.ws.Close() // its idle connections' poller
	if hl != nil {
		if err := <-httpShut; err != nil {
			cutRequests()
			hs.Close()
			errs = append(errs, fmt.Errorf("shut down http: %w", err))
		}
		<-httpDone
	}
	if err := s.saveState(); err != nil {
		errs = append(errs, err)
	}
	if runErr != nil {
		errs = append([]error{runErr}, errs...)
	}
	err = errors.Join(errs...)
	s.log.Info("weblogd shut down", "last_seq", s.ring.Last(), "err", err)
	return err
}

// drainPublisher waits, until deadline, for the publisher to send what it
// holds while NATS is reachable. Records still waiting at shutdown are
// lost without StatePath (the buffer is in memory); with it, they wait in
// the buffer file for the next start.
func (s *Server) drainPublisher(deadline time.Time) {
	for time.Now().Before(deadline) {
		if st := s.pub.Stats(); st.Pending == 0 || !st.Connected {
			break
		}
		time.Sleep(10 * time.Millisecond) // a poll: drains take ms, shutdowns seconds
	}
	st := s.pub.Stats()
	switch {
	case st.Pending == 0:
	case st.OnDisk == st.Pending:
		s.log.Info("records not yet published to NATS wait on disk for the next start", "pending", st.Pending, "file", s.cfg.StatePath+".nats")
	default:
		s.log.Warn("records not published to NATS at shutdown are lost", "pending", st.Pending-st.OnDisk)
	}
}

// plainTextReply is what a client that is not speaking TLS (nc) gets
// from the raw TCP port when TLS is on, in plain text, before it is closed.
var plainTextReply = []byte(`<error reason="this port speaks TLS: connect with openssl s_client -connect host:port -quiet, or ncat --ssl"/>` + "\n")

// openLogs finds the logs, loads their backfill into the ring and decides
// where each is followed from: the checkpoint when it has the log (the
// tailer finds the files it names, rotated or not), else the end of the
// file (after its last complete line, in the file that was read, so a
// rotation before the tailer starts loses nothing), else, for a file that
// does not exist yet, its start. With StatePath, it saves those positions
// with seqs reserved (see reserve) before the backfill takes any, and
// returns the checkpoint it saved. Each file's lines of the last History
// go into the statistics first (readPast): those before the backfill, or
// before the checkpoint's position, only there.
func (s *Server) openLogs(ctx context.Context, state *checkpoint) (*checkpoint, error) {
	paths := expand(s.src.patterns)
	s.src.nameInitial(paths)
	type backfill struct {
		src    *source
		lines  []tailer.Line
		window past // which of the lines go into the statistics
	}
	var history []backfill
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil && fi.Mode()&fs.ModeNamedPipe != 0 {
			// A FIFO is a stream: no history to load, no position to
			// resume.
			if _, err := s.src.add(p, nil); err != nil {
				return nil, err
			}
			continue
		}
		if l, ok := state.log(p); ok {
			resume, _ := l.positions() // checked by loadState
			src, err := s.src.add(p, resume)
			if err != nil {
				return nil, err
			}
			s.log.Info("resuming a log from the checkpoint", "path", p, "files", len(resume))
			// Its history up to where it stopped was served before: into
			// the statistics only. The tailer reads the rest as new.
			s.readPast(ctx, src, func(id tailer.FileID) (int64, bool) {
				for _, r := range resume {
					if r.File == id {
						return r.Offset, true
					}
				}
				return 0, false
			})
			continue
		}
		lines, end, err := tailer.Last(p, s.cfg.Backfill, s.cfg.MaxLineBytes)
		var resume []tailer.Position
		switch {
		case err == nil:
			resume = []tailer.Position{end}
		case !errors.Is(err, fs.ErrNotExist):
			s.log.Warn("cannot read a log's backfill", "path", p, "err", err)
		}
		src, err := s.src.add(p, resume)
		if err != nil {
			return nil, err
		}
		h := backfill{src: src, lines: lines}
		if len(resume) > 0 {
			// The history up to the backfill goes into the statistics
			// only; the backfill into the ring, and into the statistics
			// when it is within the window.
			stop := end.Offset
			if len(lines) > 0 {
				stop = lines[0].Offset - 1 // the line before the backfill's first ends by then
			}
			h.window = s.readPast(ctx, src, func(id tailer.FileID) (int64, bool) { return stop, id == end.File })
		}
		history = append(history, h)
	}
	n := 0
	for _, h := range history {
		n += len(h.lines)
	}
	saved, err := s.reserve(uint64(n))
	if err != nil {
		return nil, err
	}
	for _, h := range history {
		for _, l := range h.lines {
			if rec := newRecord(h.src, l, s.redactor); rec != nil {
				s.ring.Append(rec)
				if h.window.holds(rec, l) {
					s.stats.Add(rec)
				}
				s.durations.observe(rec)
			}
		}
	}
	return saved, nil
}

// seqReserve is how many seqs a saved checkpoint reserves ahead of the
// last one given out. The ring gives out no seq beyond the reservation
// (Ring.SetLimit), and a restart after a crash continues past it: the
// seqs given out since the last save are never given to other lines. The
// saver moves it on once half is used (at a tick, or at once when it runs
// out), so half lasts a tick of a log read at 600,000 lines a second; a
// crash skips at most about this many seqs.
const seqReserve = 1 << 16

// reserve saves the checkpoint at the start, before any seq is given out:
// where each log is to be followed from (nothing is read yet), with n
// seqs reserved for the backfill and a reservation ahead. A --state that
// cannot be written stops the start here.
func (s *Server) reserve(n uint64) (*checkpoint, error) {
	if s.cfg.StatePath == "" {
		return nil, nil
	}
	logs, last := s.positionsNow()
	c := &checkpoint{Version: stateVersion, LastSeq: min(last+n+seqReserve, maxSeq), Logs: logs}
	if err := saveState(s.cfg.StatePath, c); err != nil {
		return nil, fmt.Errorf("save the checkpoint: %w", err)
	}
	s.ring.SetLimit(c.LastSeq)
	return c, nil
}

// loadState reads the checkpoint; one that cannot be read is reported and
// ignored (every log then starts at its end), never fatal.
func (s *Server) loadState() *checkpoint {
	if s.cfg.StatePath == "" {
		return nil
	}
	c, err := loadState(s.cfg.StatePath)
	if err != nil {
		s.log.Warn("ignoring the checkpoint; following every log from its end", "err", err)
		return nil
	}
	return c
}

// positionsNow captures where every log is, and the seq of the newest
// record. Positions are read first: every line before them is in the ring
// with a seq at most last, so once the hub has flushed last, they hold no
// line a subscriber was not offered.
func (s *Server) positionsNow() (logs []logState, last uint64) {
	for _, src := range s.src.snapshot() {
		logs = append(logs, logStateOf(src.path, src.t.Positions()))
	}
	return logs, s.ring.Last()
}

// saveState saves the checkpoint at shutdown, once every log has stopped
// and the hub has flushed what they read: every position, and the exact
// last seq (no reservation is needed any more).
func (s *Server) saveState() error {
	if s.cfg.StatePath == "" {
		return nil
	}
	logs, last := s.positionsNow()
	return saveState(s.cfg.StatePath, &checkpoint{Version: stateVersion, LastSeq: last, Logs: logs})
}

// saveLoop writes the checkpoint on every tick in which it changed, and
// at once when the ring runs out of reserved seqs. It saves positions
// only once the hub has flushed every line before them, so that a crash
// repeats the lines of a tick or two but never loses one a subscriber was
// not offered; and it moves the seq reservation on (see seqReserve)
// before the ring may give out more. start is the checkpoint reserve
// saved.
func (s *Server) saveLoop(ctx context.Context, start *checkpoint) {
	if s.cfg.StatePath == "" {
		return
	}
	t := time.NewTicker(max(s.cfg.Tick, DefaultTick))
	defer t.Stop()
	var (
		saved       = start
		safe        = start.Logs // positions whose lines are all flushed
		pending     []logState   // positions waiting for the flush of their lines
		pendingLast uint64       // the newest seq before pending
		pubErr      string
		failed      string // why the last save failed; empty after a success
	)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.ring.Short():
		}
		logs, last := s.positionsNow()
		switch flushed := s.hub.Flushed(); {
		case flushed >= last:
			safe, pending = logs, nil
		case pending != nil && flushed >= pendingLast:
			safe, pending, pendingLast = pending, logs, last
		case pending == nil:
			pending, pendingLast = logs, last
		}
		limit := s.ring.Limit()
		if last := s.ring.Last(); last+seqReserve/2 > limit {
			limit = min(last+seqReserve, maxSeq)
		}
		c := &checkpoint{Version: stateVersion, LastSeq: limit, Logs: safe}
		// The publish buffer first: the checkpoint must not move past a
		// line whose record a crash could take from it.
		if s.pub != nil {
			if err := s.pub.Sync(); err != nil {
				if err.Error() != pubErr {
					s.log.Error("cannot save the NATS publish buffer", "err", err)
					pubErr = err.Error()
				}
				continue
			}
			pubErr = ""
		}
		if c.equal(saved) {
			continue
		}
		if err := saveState(s.cfg.StatePath, c); err != nil {
			s.stateErrs.Add(1)
			if msg := err.Error(); msg != failed { // say each distinct failure once
				s.log.Error("cannot save the checkpoint", "err", err)
				failed = msg
				s.stateFault.Store(&msg)
			}
			continue
		}
		if failed != "" {
			s.log.Info("saving the checkpoint recovered", "path", s.cfg.StatePath)
			failed = ""
			s.stateFault.Store(nil)
		}
		saved = c
		if c.LastSeq > s.ring.Limit() {
			s.ring.SetLimit(c.LastSeq)
		}
	}
}

// beyondLoopback returns those of addrs that other machines can reach.
func beyondLoopback(addrs ...net.Addr) []string {
	var out []string
	for _, a := range addrs {
		if ta, ok := a.(*net.TCPAddr); ok && !ta.IP.IsLoopback() {
			out = append(out, a.String())
		}
	}
	return out
}

func addrString(a net.Addr) string {
	if a == nil {
		return "off"
	}
	return a.String()
}
