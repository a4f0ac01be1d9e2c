package feed

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/weblogd/weblogd/broadcast"
	"github.com/weblogd/weblogd/certs"
	"github.com/weblogd/weblogd/fleet"
	"github.com/weblogd/weblogd/redact"
	"github.com/weblogd/weblogd/stats"
	"github.com/weblogd/weblogd/tailer"
	"github.com/weblogd/weblogd/transports"
)

// Defaults for the zero values of Config.
const (
	DefaultHTTPAddr = ":8080"
	DefaultTCPAddr  = ":8888"
	// DefaultTick bounds the batching of a busy log with many
	// subscribers to 20 writes per second per subscriber, below the
	// latency a person notices; with few subscribers or a slow log every
	// record goes at once (broadcast's pacer).
	DefaultTick = 50 * time.Millisecond
	// DefaultBackfill gives a new subscriber asking for backlog a screenful
	// of context right after start.
	DefaultBackfill = 100
	// DefaultHistory is how far back each log is read into the
	// statistics at start: an hour, so that the dashboard opened right
	// after a start shows the last hour's traffic.
	DefaultHistory = time.Hour
	// DefaultShutdownTimeout is how long Run waits for streams to end
	// properly before it cuts them.
	DefaultShutdownTimeout = 10 * time.Second
	// DefaultMaxSubscribers bounds the subscribers of all transports
	// together. Each costs a goroutine or two, socket buffers and at most
	// its queue; ten thousand fit a small machine's memory and file
	// descriptor limits while being far more than one feed's audience.
	DefaultMaxSubscribers = 10000
	// DefaultMaxSubscribersPerIP bounds the subscribers from one client
	// address: enough for an office of dashboards behind one NAT, few
	// enough that one misbehaving script cannot take every slot.
	DefaultMaxSubscribersPerIP = 100
	// DefaultReadHeaderTimeout is how long an HTTP client may take to send
	// its request headers: a browser or curl sends them at once, a
	// slow-loris client dribbling them is cut.
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultMaxSubscribersPerToken bounds the subscribers of one token
	// as DefaultMaxSubscribersPerIP bounds one address's: a leaked or
	// shared token cannot take every slot.
	DefaultMaxSubscribersPerToken = 100
	// NoListen as an address turns that listener off.
	NoListen = "-"
	// StdinLog as a log is standard input.
	StdinLog = "-"
)

// Config configures a Server. Its zero value with Logs set works; every
// field's comment says what zero means.
type Config struct {
	// Logs are the access logs to follow: paths, or globs that are
	// expanded at start and re-expanded while running. A path that does not
	// exist yet is waited for. StdinLog ("-") is standard input (Stdin), a
	// source named "stdin". Required unless Subscribe or Syslog is set.
	Logs []string
	// Stdin is what the log StdinLog reads. Nil means os.Stdin.
	Stdin io.Reader
	// Syslog are syslog listeners: udp://HOST:PORT, tcp://HOST:PORT
	// (newline framing, or RFC 6587 octet counting, told apart per
	// connection by its first byte), unix:///path (datagrams). Each
	// message's header (RFC 3164 or 5424) names its source, HOSTNAME/TAG;
	// its body is the line. Zero listens for none.
	Syslog []string
	// SyslogMaxConns bounds the TCP connections of each TCP syslog
	// listener; more are closed at once. Zero means DefaultSyslogMaxConns;
	// negative means no limit.
	SyslogMaxConns int
	// SyslogIdleTimeout closes a TCP syslog connection that sent nothing
	// for this long. Zero means DefaultSyslogIdleTimeout; negative never
	// closes one.
	SyslogIdleTimeout time.Duration

	// Publish is a NATS URL (see fleet.CheckURL): every record is also
	// sent to the JetStream stream there (package fleet), buffered while
	// NATS is unreachable: in memory, and with StatePath in the file
	// StatePath+".nats" too, so that a restart neither loses nor repeats
	// what was not yet sent. NATS being unreachable is not an error; a
	// malformed URL is, from New. Zero publishes nothing.
	Publish string
	// PublishBuffer is how many records may wait for NATS
	// (fleet.PublisherConfig.Buffer): while it is full, logs are read no
	// further, and lines that cannot be read again (standard input,
	// FIFOs, syslog, /ingest) are dropped and counted. Zero means
	// fleet.DefaultBuffer.
	PublishBuffer int
	// Subscribe is a NATS URL: the records of every publisher are taken
	// from the stream there, through a durable consumer, and served as if
	// they were local, each keeping its node and source. Until the
	// consumer is open, /readyz says why not. Zero takes none.
	Subscribe string
	// Node names this server in the records it publishes, and in the
	// default name of its consumer. Zero means the host name.
	Node string
	// Consumer names the durable consumer Subscribe takes records
	// through: its position survives a restart; edges that share a name
	// share the records out between them, so each edge that must see
	// every record needs its own. Zero means fleet.DefaultDurable(Node),
	// "weblogd-edge-<node>".
	Consumer string
	// NATSAuth is how Publish and Subscribe authenticate to NATS and
	// check its TLS certificate (fleet.Auth). New reads its files: one
	// that is missing or bad is an error there. Zero means none.
	NATSAuth fleet.Auth
	// NATSOptions are extra NATS client options for Publish and
	// Subscribe, after those of NATSAuth. Zero means none.
	NATSOptions []nats.Option

	// HTTPAddr is the address of the HTTP server. Zero means
	// DefaultHTTPAddr; NoListen serves no HTTP (Handler still works).
	HTTPAddr string
	// TCPAddr is the address of the raw XML stream. Zero means
	// DefaultTCPAddr; NoListen turns it off.
	TCPAddr string

	// Tick is the longest a record waits before it is flushed to
	// subscribers; a record waits only while batching pays (many
	// subscribers of a busy log). Zero means DefaultTick; a negative value
	// flushes every record at once.
	Tick time.Duration
	// Ring is how many records are kept for backlog and resume. Zero means
	// broadcast.DefaultRingSize.
	Ring int
	// Backfill is how many existing records of each log are loaded into
	// the ring at start. Zero means DefaultBackfill; negative loads none.
	Backfill int
	// History is how far back, by the lines' own time, each log (a file,
	// not standard input or a FIFO) is read into the statistics at
	// start, found without reading the whole file (tailer.Since); the
	// newest Backfill of those lines also go into the ring. Resuming
	// from StatePath, the lines up to the saved position go into the
	// statistics only. Zero means DefaultHistory; negative reads none. It
	// may not be longer than StatsWindow.
	History time.Duration
	// StatsWindow is the longest window the statistics (GET /api/stats)
	// answer for. Zero means stats.DefaultWindow.
	StatsWindow time.Duration
	// StatsDetailBytes bounds the memory of the records the statistics
	// hold in detail, for filtered questions (docs/statistics.md). Zero
	// means stats.DefaultDetailBytes; negative holds none.
	StatsDetailBytes int64
	// GeoIP names a MaxMind-format database (GeoLite2 or GeoIP2 Country
	// or City): with it, the statistics count clients by country. New
	// opens it; one that cannot be read is an error there. Zero means no
	// countries.
	GeoIP string
	// Queue is how many records a subscriber may fall behind before its
	// oldest are dropped for a gap marker. Zero means broadcast.DefaultQueue.
	Queue int
	// Format says how the lines of every log are read (format.Compile):
	// a name ("combined", "caddy", ...), an nginx log_format string or an
	// Apache LogFormat string. New returns the compiler's error for one
	// that cannot be read. Zero means "auto": each log's format is
	// recognised from its own lines.
	Format string
	// MaxLineBytes cuts longer lines (they are still delivered). Zero means
	// tailer.DefaultMaxLineBytes.
	MaxLineBytes int
	// MaxSources bounds the distinct sources that are not files (syslog
	// HOSTNAME/TAG names, /ingest source names): the lines of names past
	// it are counted under one source, "(overflow)", their records keeping
	// their own name. Zero means DefaultMaxSources; negative means no
	// limit.
	MaxSources int
	// RotateWait is how long a rotated (renamed or deleted) log is still
	// read after it stops growing: nginx writes to the renamed file until
	// it reopens its logs. Zero means tailer.DefaultRotateWait.
	RotateWait time.Duration
	// StatePath is the checkpoint file: with it, a restart resumes each log
	// where it stopped and continues seq. Run fails if it cannot save it at
	// the start; a save that fails later is retried every tick, and
	// /readyz shows why until one succeeds. Zero means no checkpoint.
	StatePath string
	// BasePath serves every HTTP path under this prefix. Zero means "/".
	BasePath string
	// ShutdownTimeout bounds the graceful end of Run. Zero means
	// DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// WriteTimeout bounds each write to a subscriber. Zero means
	// transports.DefaultWriteTimeout.
	WriteTimeout time.Duration
	// SlowTimeout disconnects a subscriber that stays behind (its queue
	// keeps overflowing, see broadcast.HubConfig) for longer than this.
	// Zero means broadcast.DefaultSlowTimeout; negative never does.
	SlowTimeout time.Duration
	// MaxSubscribers bounds the subscribers of every transport together
	// (raw TCP, /hits, /events, /ws; not Subscribe in-process). Zero means
	// DefaultMaxSubscribers; negative means no limit.
	MaxSubscribers int
	// MaxSubscribersPerIP bounds the subscribers from one client address,
	// the TCP peer's (behind a reverse proxy, the proxy's, unless it is
	// one of TrustedProxies). Zero means DefaultMaxSubscribersPerIP;
	// negative means no limit.
	MaxSubscribersPerIP int
	// TrustedProxies lists the reverse proxies (an address, or a CIDR)
	// whose X-Forwarded-For or Forwarded header names the client of an
	// HTTP request: the rightmost address in it that is not a trusted
	// proxy's is then the client's, for the limits and the logs. The
	// headers of any other peer are ignored. Zero trusts none.
	TrustedProxies []string
	// ReadHeaderTimeout bounds how long an HTTP client may take to send
	// its request headers, and, with TLS, how long any client (HTTP or raw
	// TCP) may take over its handshake. Zero means DefaultReadHeaderTimeout.
	ReadHeaderTimeout time.Duration

	// Heartbeat is how often idle HTTP streams get a keep-alive (an SSE
	// comment, a blank line). Zero means transports.DefaultHeartbeat (15s).
	Heartbeat time.Duration
	// PongWait is how long a WebSocket peer may stay silent before it is
	// dropped; pings go out every 9/10 of it. Zero means ws.DefaultPongWait.
	PongWait time.Duration
	// AllowOrigins lists the browser origins allowed to open WebSockets
	// besides the server's own ("*" for any). Zero allows only the server's.
	AllowOrigins []string
	// AllowHosts lists host names (Host header, without port) the HTTP
	// server answers besides the loopback ones (localhost, 127.0.0.1,
	// ::1). When the HTTP address is a loopback one, or AllowHosts is
	// given, a request for any other host is refused with 421: a page of a
	// name that resolves to this server (DNS rebinding) cannot read it.
	// Zero, with an HTTP address beyond loopback, checks no host.
	AllowHosts []string

	// TLSCertFile and TLSKeyFile name a PEM certificate (with its chain)
	// and its private key: with them, the HTTP server (offering HTTP/2)
	// and the raw TCP port speak only TLS, 1.2 or later. New reads them;
	// they are read again when they change (looked at, at most once a
	// second, by a handshake), so a renewal needs no restart, and a pair
	// that fails to load is logged while the previous one is still served.
	// Both or neither; zero means no TLS (unless TLS is set).
	TLSCertFile string
	TLSKeyFile  string
	// TLS is an embedder's own server configuration (certificates from an
	// ACME client, client certificates), for both ports, instead of the
	// files. It is cloned; a zero MinVersion becomes TLS 1.2, and the HTTP
	// server adds h2 and http/1.1 to NextProtos. Nil means the files
	// decide. Setting both is an error.
	TLS *tls.Config

	// TokenFile turns authentication on: a file of bearer tokens, one per
	// line, each optionally limited to a fixed filter (syntax: auth.Parse).
	// With it, the streams, /api/* and the dashboard require
	// "Authorization: Bearer <token>" or a session cookie from the login
	// page, and a raw TCP client must send "AUTH <token>" first. It must be
	// a regular file. While Run runs, it is read again when it changes
	// (looked at once a second), and the streams of a token removed from
	// it end. Zero means no authentication.
	TokenFile string
	// AuthMetrics also requires a token for /metrics, /healthz and
	// /readyz. Zero (false) leaves them open, for probes and scrapers.
	AuthMetrics bool
	// SessionLifetime is how long a browser session from the login page
	// lasts unused; each authenticated request with less than half of it
	// left renews it. Zero means auth.DefaultSessionLifetime (1h).
	SessionLifetime time.Duration
	// MaxSubscribersPerToken bounds the subscribers that use one token, on
	// every transport together. Zero means DefaultMaxSubscribersPerToken;
	// negative means no limit.
	MaxSubscribersPerToken int
	// AdminTokenFile turns the admin API on (/admin/subscribers,
	// /admin/settings): a token file of its own (filters are not allowed
	// in it), bearer only. Zero means no admin API.
	AdminTokenFile string
	// IngestTokenFile turns POST /ingest on: a token file of its own
	// (filters are not allowed in it), bearer only; its tokens are good
	// for /ingest and nothing else, and no stream token is good for
	// /ingest. Zero means no /ingest.
	IngestTokenFile string
	// IngestRequestsPerToken bounds the /ingest requests open at once
	// with one token; more get 429. Zero means
	// DefaultIngestRequestsPerToken; negative means no limit.
	IngestRequestsPerToken int
	// IngestRatePerToken bounds the lines a second one token's /ingest
	// requests send, together, with a second's worth at once: past it
	// the requests wait (reading no more of their bodies), and nothing is
	// dropped. Zero means no limit.
	IngestRatePerToken int
	// IngestIdleTimeout ends an /ingest request whose body sends nothing
	// for this long (408, with the lines taken so far). Zero means
	// DefaultIngestIdleTimeout; negative means never.
	IngestIdleTimeout time.Duration

	// Redact masks client addresses, query strings or parameters, and
	// user names in every record before it enters the ring (package
	// redact). Zero masks nothing.
	Redact redact.Options

	// Registry receives weblogd's metrics and is what /metrics serves. Nil
	// means a private registry with the Go and process collectors added.
	Registry *prometheus.Registry

	// Version is reported by /api/status and the start log line.
	Version string
	// Logger receives the server's logs. Nil means discard.
	Logger *slog.Logger
}

// withDefaults returns c with zero values replaced and checks what can be
// checked without touching the network or the files.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	if len(c.Logs) == 0 && c.Subscribe == "" && len(c.Syslog) == 0 && c.IngestTokenFile == "" {
		errs = append(errs, errors.New("no log to follow: give at least one, a syslog listener, an ingest token file to take lines over HTTP, or a NATS stream to subscribe to"))
	}
	errs = append(errs, c.checkSyslog()...)
	stdin := 0
	for _, l := range c.Logs {
		if strings.TrimSpace(l) == "" {
			errs = append(errs, errors.New("a log path is empty"))
		}
		if l == StdinLog {
			stdin++
		}
	}
	if stdin > 1 {
		errs = append(errs, errors.New("standard input (-) is given as a log more than once"))
	}
	if c.Consumer != "" && c.Subscribe == "" {
		errs = append(errs, errors.New("a NATS consumer name is for subscribing: it needs a NATS URL to subscribe to"))
	}
	if !c.NATSAuth.IsZero() && c.Publish == "" && c.Subscribe == "" {
		errs = append(errs, errors.New("NATS credentials or TLS files are given, but no NATS URL to publish or subscribe to"))
	}
	if c.HTTPAddr == "" {
		c.HTTPAddr = DefaultHTTPAddr
	}
	if c.TCPAddr == "" {
		c.TCPAddr = DefaultTCPAddr
	}
	for name, a := range map[string]string{"http": c.HTTPAddr, "tcp": c.TCPAddr} {
		if a == NoListen {
			continue
		}
		_, port, err := net.SplitHostPort(a)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s address %q: want host:port or :port", name, a))
			continue
		}
		// A number out of range or an unknown service name would fail only
		// when Run listens.
		if _, err := net.LookupPort("tcp", port); err != nil {
			errs = append(errs, fmt.Errorf("%s address %q: port %q is not a port number (0 to 65535) or a service name", name, a, port))
		}
	}
	switch {
	case c.Tick == 0:
		c.Tick = DefaultTick
	case c.Tick < 0:
		c.Tick = 0
	}
	if c.Ring < 0 {
		errs = append(errs, fmt.Errorf("ring size %d is negative", c.Ring))
	} else if c.Ring == 0 {
		c.Ring = broadcast.DefaultRingSize
	}
	switch {
	case c.Backfill == 0:
		c.Backfill = DefaultBackfill
	case c.Backfill < 0:
		c.Backfill = 0
	}
	c.Backfill = min(c.Backfill, c.Ring)
	if c.StatsWindow < 0 {
		errs = append(errs, fmt.Errorf("statistics window %v is negative", c.StatsWindow))
	} else if c.StatsWindow == 0 {
		c.StatsWindow = stats.DefaultWindow
	}
	if c.StatsDetailBytes == 0 {
		c.StatsDetailBytes = stats.DefaultDetailBytes
	}
	switch {
	case c.History == 0:
		c.History = DefaultHistory
	case c.History < 0:
		c.History = 0
	}
	if c.History > c.StatsWindow {
		errs = append(errs, fmt.Errorf("history %v is longer than the statistics window %v: the statistics could not hold it", c.History, c.StatsWindow))
	}
	if c.Queue < 0 {
		errs = append(errs, fmt.Errorf("queue size %d is negative", c.Queue))
	} else if c.Queue == 0 {
		c.Queue = broadcast.DefaultQueue
	}
	if c.MaxLineBytes < 0 {
		errs = append(errs, fmt.Errorf("max line length %d is negative", c.MaxLineBytes))
	} else if c.MaxLineBytes == 0 {
		c.MaxLineBytes = tailer.DefaultMaxLineBytes
	}
	if c.MaxSources == 0 {
		c.MaxSources = DefaultMaxSources
	}
	if c.RotateWait < 0 {
		errs = append(errs, fmt.Errorf("rotate wait %v is negative", c.RotateWait))
	}
	if c.BasePath == "" {
		c.BasePath = "/"
	}
	if !strings.HasPrefix(c.BasePath, "/") {
		errs = append(errs, fmt.Errorf("base path %q must start with /", c.BasePath))
	}
	if !strings.HasSuffix(c.BasePath, "/") {
		c.BasePath += "/"
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = transports.DefaultWriteTimeout
	}
	if c.MaxSubscribers == 0 {
		c.MaxSubscribers = DefaultMaxSubscribers
	}
	if c.MaxSubscribersPerIP == 0 {
		c.MaxSubscribersPerIP = DefaultMaxSubscribersPerIP
	}
	if c.MaxSubscribersPerToken == 0 {
		c.MaxSubscribersPerToken = DefaultMaxSubscribersPerToken
	}
	if c.IngestRequestsPerToken == 0 {
		c.IngestRequestsPerToken = DefaultIngestRequestsPerToken
	}
	if c.IngestRatePerToken < 0 {
		errs = append(errs, fmt.Errorf("ingest rate %d is negative", c.IngestRatePerToken))
	}
	switch {
	case c.IngestIdleTimeout == 0:
		c.IngestIdleTimeout = DefaultIngestIdleTimeout
	case c.IngestIdleTimeout < 0:
		c.IngestIdleTimeout = 0
	}
	if c.SessionLifetime < 0 {
		errs = append(errs, fmt.Errorf("session lifetime %v is negative", c.SessionLifetime))
	}
	if c.AuthMetrics && c.TokenFile == "" {
		errs = append(errs, errors.New("closing the metrics and health endpoints needs a token file"))
	}
	if c.ReadHeaderTimeout <= 0 {
		c.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	for _, p := range c.TrustedProxies {
		if _, err := parsePrefix(p); err != nil {
			errs = append(errs, err)
		}
	}
	for _, h := range c.AllowHosts {
		if !validHost(h) {
			errs = append(errs, fmt.Errorf("allowed host %q: want a host name or address, without scheme or port", h))
		}
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		errs = append(errs, errors.New("TLS needs both a certificate file and a key file, or neither"))
	}
	if c.TLS != nil && c.TLSCertFile != "" {
		errs = append(errs, errors.New("TLS is configured twice: give either a tls.Config or certificate files"))
	}
	if c.Version == "" {
		c.Version = "dev"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, errors.Join(errs...)
}

// serverTLS returns the TLS configuration both ports serve, nil without
// TLS. It reads the certificate files, so that a pair that cannot be
// loaded is reported by New, before anything starts.
func (c Config) serverTLS() (*tls.Config, error) {
	switch {
	case c.TLS != nil:
		return certs.ServerConfig(c.TLS), nil
	case c.TLSCertFile != "":
		p, err := certs.LoadPair(c.TLSCertFile, c.TLSKeyFile, c.Logger)
		if err != nil {
			return nil, err
		}
		return p.Config(), nil
	}
	return nil, nil
}
