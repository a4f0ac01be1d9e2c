package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/weblogd/weblogd/auth"
	"github.com/weblogd/weblogd/broadcast"
	"github.com/weblogd/weblogd/demo"
	"github.com/weblogd/weblogd/feed"
	"github.com/weblogd/weblogd/fleet"
	"github.com/weblogd/weblogd/format"
	"github.com/weblogd/weblogd/redact"
	"github.com/weblogd/weblogd/stats"
)

// envPrefix: every flag also reads WEBLOGD_<FLAG> (upper case, - → _).
const envPrefix = "WEBLOGD_"

// options is what the command line says, before it becomes a feed.Config.
type options struct {
	logs            listFlag
	syslog          listFlag
	maxSources      int
	syslogMaxConns  int
	syslogIdle      time.Duration
	format          string
	allowOrigins    listFlag
	allowHosts      listFlag
	trustedProxies  listFlag
	http, tcp       string
	tick            time.Duration
	ring, backfill  int
	queue           int
	maxLine         int
	state, basePath string
	shutdownTimeout time.Duration
	rotateWait      time.Duration
	writeTimeout    time.Duration
	slowTimeout     time.Duration
	maxSubs         int
	maxSubsPerIP    int
	logLevel        slog.Level
	logFormat       string
	demo            bool
	demoRate        float64
	version         bool
	configFile      string
	tlsCert         string
	tlsKey          string
	tokenFile       string
	authMetrics     bool
	sessionLifetime time.Duration
	maxSubsPerToken int
	adminTokenFile  string
	ingestTokenFile string
	ingestRequests  int
	ingestRate      int
	ingestIdle      time.Duration
	redact          listFlag
	redactKeyFile   string
	publish         string
	subscribe       string
	node            string
	consumer        string
	natsAuth        fleet.Auth
	history         time.Duration
	statsWindow     time.Duration
	statsDetail     sizeFlag
	geoip           string

	redactOptions redact.Options // from redact and redactKeyFile, by check
}

// listFlag is a repeatable flag; from the environment it takes a
// comma-separated list.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// errHelp is returned when --help was asked for: usage goes to stdout and
// the exit status is 0.
var errHelp = errors.New("help requested")

func newFlagSet(o *options, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("weblogd", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Var(&o.logs, "log", "access log to follow: a path or a glob, expanded again while running, or - for standard input (repeatable; required unless --subscribe or --syslog)")
	fs.StringVar(&o.http, "http", feed.DefaultHTTPAddr, "address of the HTTP server (dashboard, streams, API, health); empty turns it off")
	fs.StringVar(&o.tcp, "tcp", feed.DefaultTCPAddr, "address of the raw XML stream (nc host 8888); empty turns it off")
	fs.DurationVar(&o.tick, "tick", feed.DefaultTick, "longest a new record waits before it is flushed to subscribers; 0 flushes at once")
	fs.IntVar(&o.ring, "ring", 10000, "records kept in memory for backlog and resume")
	fs.Var(&o.syslog, "syslog", "listen for syslog messages (nginx's access_log syslog:, rsyslog, logger): udp://HOST:PORT, tcp://HOST:PORT (newline or octet-counted framing) or unix:///path (datagrams); each message's HOSTNAME/TAG is its source, its body the line; no authentication (repeatable)")
	fs.IntVar(&o.maxSources, "max-sources", feed.DefaultMaxSources, "most distinct sources that are not files (syslog HOSTNAME/TAG names, /ingest sources); the lines of more are counted under one source, (overflow); 0 for no limit")
	fs.IntVar(&o.syslogMaxConns, "syslog-max-conns", feed.DefaultSyslogMaxConns, "most TCP connections open at once on each tcp:// --syslog listener; more are closed at once; 0 for no limit")
	fs.DurationVar(&o.syslogIdle, "syslog-idle-timeout", feed.DefaultSyslogIdleTimeout, "a TCP syslog connection that sends nothing for this long is closed; 0 never closes one")
	fs.StringVar(&o.format, "format", format.Auto, "how lines are read: auto (each log's format recognised from its lines), a name ("+strings.Join(format.Names()[1:], ", ")+"), an nginx log_format string ($variables) or an Apache LogFormat string (% directives)")
	fs.IntVar(&o.backfill, "backfill", feed.DefaultBackfill, "on start, load the last N existing records of each log into the ring")
	fs.DurationVar(&o.history, "history", feed.DefaultHistory, "on start, read each log's lines of the last DURATION (by their own time) into the statistics, found without reading the whole file; the newest --backfill of them also go into the ring; 0 reads none")
	fs.DurationVar(&o.statsWindow, "stats-window", stats.DefaultWindow, "the longest window the statistics (/api/stats, the dashboard) answer for")
	o.statsDetail = stats.DefaultDetailBytes
	fs.Var(&o.statsDetail, "stats-detail", "memory for the records the statistics hold in detail, for filtered questions: bytes, or with a KiB, MiB or GiB suffix; 0 holds none (filtered questions then count nothing)")
	fs.StringVar(&o.geoip, "geoip", "", "a MaxMind-format database (GeoLite2 or GeoIP2 Country or City, .mmdb): the statistics then count clients by country")
	fs.IntVar(&o.queue, "queue", 4096, "records a subscriber may fall behind before its oldest are dropped for a gap marker")
	fs.IntVar(&o.maxLine, "max-line", 64<<10, "longest line in bytes; longer lines are cut and still delivered")
	fs.DurationVar(&o.rotateWait, "rotate-wait", 5*time.Second, "how long a rotated log is still read after it stops growing (nginx writes to the renamed file until it reopens)")
	fs.StringVar(&o.state, "state", "", "checkpoint file: a restart resumes each log where it stopped and continues seq; with --publish, records not yet in NATS wait beside it in FILE.nats")
	fs.StringVar(&o.basePath, "base-path", "/", "serve every HTTP path under this prefix, for reverse proxies")
	fs.Var(&o.allowOrigins, "allow-origin", "a browser origin (scheme://host[:port]) allowed to open WebSockets besides the server's own; * allows any (repeatable)")
	fs.Var(&o.allowHosts, "allow-host", "a host name (the Host header, without port) the HTTP server answers besides localhost, 127.0.0.1 and ::1; with --http on loopback (or with this flag) other hosts get 421 (repeatable)")
	fs.Var(&o.trustedProxies, "trusted-proxy", "a reverse proxy (address or CIDR) whose X-Forwarded-For or Forwarded header names the client, for the per-address limit and the logs; other peers' headers are ignored (repeatable)")
	fs.DurationVar(&o.shutdownTimeout, "shutdown-timeout", feed.DefaultShutdownTimeout, "how long streams get to end properly at shutdown before they are cut")
	fs.DurationVar(&o.writeTimeout, "write-timeout", 10*time.Second, "a subscriber that accepts no data for this long is disconnected")
	fs.DurationVar(&o.slowTimeout, "slow-timeout", broadcast.DefaultSlowTimeout, "a subscriber that keeps losing records (its --queue overflowing) for this long is disconnected as too slow; 0 never does")
	fs.IntVar(&o.maxSubs, "max-subscribers", feed.DefaultMaxSubscribers, "most subscribers of all streams together (raw TCP, /hits, /events, /ws); more are refused (503, or an <error/> line); 0 for no limit")
	fs.IntVar(&o.maxSubsPerIP, "max-subscribers-per-ip", feed.DefaultMaxSubscribersPerIP, "most subscribers from one client address (the TCP peer: behind a proxy, the proxy, unless it is a --trusted-proxy); 0 for no limit")
	fs.TextVar(&o.logLevel, "log-level", slog.LevelInfo, "debug, info, warn or error")
	fs.StringVar(&o.logFormat, "log-format", "text", "text or json")
	fs.BoolVar(&o.demo, "demo", false, "write realistic demo traffic into the first --log (a temporary file if none) and follow it")
	fs.Float64Var(&o.demoRate, "demo-rate", 5, fmt.Sprintf("lines per second written by --demo (more than 0, at most %d)", demo.MaxRate))
	fs.StringVar(&o.tlsCert, "tls-cert", "", "PEM certificate (with its chain) for TLS on the HTTP server (HTTP/2 offered) and the raw TCP port; needs --tls-key; re-read when it changes")
	fs.StringVar(&o.tlsKey, "tls-key", "", "file holding the PEM private key of --tls-cert (a file, so the secret is on no command line); re-read when it changes")
	fs.StringVar(&o.tokenFile, "token-file", "", "bearer tokens, one per line (TOKEN [name=NAME] [filter=VALUE ...], # comments): every stream, /api/* and the dashboard then need one, and raw TCP clients send AUTH <token> first; re-read when it changes")
	fs.BoolVar(&o.authMetrics, "auth-metrics", false, "with --token-file, also require a token for /metrics, /healthz and /readyz")
	fs.DurationVar(&o.sessionLifetime, "session-lifetime", auth.DefaultSessionLifetime, "how long a browser session from the login page lasts unused (an open dashboard renews it)")
	fs.IntVar(&o.maxSubsPerToken, "max-subscribers-per-token", feed.DefaultMaxSubscribersPerToken, "with --token-file, most subscribers using one token, on every stream together; 0 for no limit")
	fs.StringVar(&o.adminTokenFile, "admin-token-file", "", "turns the admin API on (/admin/subscribers, /admin/settings): its own bearer tokens, one per line, no filters")
	fs.StringVar(&o.ingestTokenFile, "ingest-token-file", "", "turns POST /ingest on (lines sent over HTTP, e.g. tail -F x | curl -sT - URL/ingest): its own bearer tokens, one per line, no filters; re-read when it changes")
	fs.IntVar(&o.ingestRequests, "ingest-requests-per-token", feed.DefaultIngestRequestsPerToken, "most /ingest requests open at once with one ingest token; more get 429; 0 for no limit")
	fs.IntVar(&o.ingestRate, "ingest-rate-per-token", 0, "most lines a second that one ingest token's requests send together; past it they wait (nothing is dropped); 0 for no limit")
	fs.DurationVar(&o.ingestIdle, "ingest-idle-timeout", feed.DefaultIngestIdleTimeout, "an /ingest request whose body sends nothing for this long is ended (408, with the lines taken); 0 never")
	fs.Var(&o.redact, "redact", "mask before records are kept: host (IPv4 /24, IPv6 /48), host=hash (keyed, --redact-key-file), query, params (secret-looking parameters), params=a,b, user (repeatable, or a comma list)")
	fs.StringVar(&o.redactKeyFile, "redact-key-file", "", "file holding the key of --redact host=hash (at least 16 bytes; e.g. openssl rand -hex 32 > file)")
	fs.StringVar(&o.publish, "publish", "", "also send every record to the NATS JetStream stream at this URL (nats://host:4222, a comma list for a cluster), buffered while NATS is unreachable (with --state, on disk too)")
	fs.StringVar(&o.subscribe, "subscribe", "", "take the records of every publisher from the NATS JetStream stream at this URL and serve them as local ones (--log not needed)")
	fs.StringVar(&o.node, "node", "", "the name of this node in the records it publishes and in its consumer's name (default: the host name)")
	fs.StringVar(&o.consumer, "consumer", "", "with --subscribe, the durable consumer to take records through (default: weblogd-edge-<node>); edges sharing one share the records out between them")
	fs.StringVar(&o.natsAuth.CredsFile, "nats-creds", "", "NATS credentials file (user JWT and nkey seed, as nsc writes it) for --publish and --subscribe")
	fs.StringVar(&o.natsAuth.NKeyFile, "nats-nkey", "", "file holding a NATS user nkey seed (SU...) for --publish and --subscribe")
	fs.StringVar(&o.natsAuth.TokenFile, "nats-token-file", "", "file holding the NATS authorization token for --publish and --subscribe")
	fs.StringVar(&o.natsAuth.User, "nats-user", "", "NATS user name for --publish and --subscribe; needs --nats-password-file")
	fs.StringVar(&o.natsAuth.PasswordFile, "nats-password-file", "", "file holding the password of --nats-user")
	fs.StringVar(&o.natsAuth.CAFile, "nats-ca", "", "PEM certificate authorities to check the NATS server's certificate with, instead of the system's (the connection is then TLS)")
	fs.StringVar(&o.natsAuth.CertFile, "nats-cert", "", "PEM client certificate (with its chain) for NATS servers that verify clients; needs --nats-key")
	fs.StringVar(&o.natsAuth.KeyFile, "nats-key", "", "file holding the private key of --nats-cert")
	fs.StringVar(&o.configFile, "config", "", "read settings from this file: one \"key = value\" per line, keys as the long flags, # comments, log, syslog, allow-origin, allow-host, trusted-proxy and redact repeatable; the command line and the environment win over it")
	fs.BoolVar(&o.version, "version", false, "print the version and exit (also: weblogd version)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: weblogd --log PATH [flags]
       weblogd version
       weblogd healthcheck [--url URL] [--insecure] [--timeout D] [--config FILE] [--token-file FILE]

Follows access logs and streams every new line live.
Every flag also reads %sFLAG (upper case, - as _), and a --config file can
hold any of them: the command line wins over the environment, which wins over
the file. Secrets are read from files, never given as values (--tls-key, --token-file,
--admin-token-file, --ingest-token-file, --redact-key-file, --nats-creds, --nats-nkey,
--nats-token-file, --nats-password-file, --nats-key).

`, envPrefix)
		printFlags(fs.Output(), fs, serverHelp)
	}
	return fs
}

// parseFlags reads the settings (see loadOptions) and checks them.
func parseFlags(args []string, getenv func(string) string, out io.Writer) (*options, error) {
	o, err := loadOptions(args, getenv, out)
	if err != nil {
		return nil, err
	}
	return o, o.check()
}

// loadOptions reads the settings from their three sources, each flag from
// the first that has it: the command line, the environment
// (WEBLOGD_<FLAG>), the config file (--config or WEBLOGD_CONFIG).
func loadOptions(args []string, getenv func(string) string, out io.Writer) (*options, error) {
	o := &options{}
	fs := newFlagSet(o, out)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, errHelp
		}
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q: logs are given with --log", fs.Arg(0))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] {
			return
		}
		env := envPrefix + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		v := getenv(env)
		if v == "" {
			return
		}
		given[f.Name] = true
		vals := []string{v}
		if _, ok := f.Value.(*listFlag); ok {
			vals = strings.Split(v, ",")
		}
		for _, v := range vals {
			if err := fs.Set(f.Name, strings.TrimSpace(v)); err != nil {
				errs = append(errs, fmt.Errorf("invalid value %q for %s: %v", v, env, err))
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if o.configFile != "" {
		if err := applyConfigFile(fs, o.configFile, given); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// check says what is wrong with the settings, all of it at once.
func (o *options) check() error {
	var errs []error
	for name, v := range map[string]int{"ring": o.ring, "backfill": o.backfill, "queue": o.queue, "max-line": o.maxLine,
		"max-sources": o.maxSources, "syslog-max-conns": o.syslogMaxConns,
		"max-subscribers": o.maxSubs, "max-subscribers-per-ip": o.maxSubsPerIP, "max-subscribers-per-token": o.maxSubsPerToken} {
		if v < 0 {
			errs = append(errs, fmt.Errorf("--%s %d: must not be negative", name, v))
		}
	}
	if o.ring == 0 {
		errs = append(errs, errors.New("--ring 0: the ring must hold at least one record"))
	}
	if o.queue == 0 {
		errs = append(errs, errors.New("--queue 0: a subscriber's queue must hold at least one record"))
	}
	if o.maxLine == 0 {
		errs = append(errs, errors.New("--max-line 0: lines must be allowed at least one byte"))
	}
	for name, d := range map[string]time.Duration{"tick": o.tick, "slow-timeout": o.slowTimeout, "syslog-idle-timeout": o.syslogIdle} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("--%s %v: must not be negative", name, d))
		}
	}
	if o.history < 0 {
		errs = append(errs, fmt.Errorf("--history %v: must not be negative (0 reads none)", o.history))
	}
	if o.statsWindow <= 0 {
		errs = append(errs, fmt.Errorf("--stats-window %v: must be positive", o.statsWindow))
	} else if o.history > o.statsWindow {
		errs = append(errs, fmt.Errorf("--history %v is longer than --stats-window %v: the statistics could not hold it", o.history, o.statsWindow))
	}
	if o.rotateWait <= 0 {
		errs = append(errs, fmt.Errorf("--rotate-wait %v: must be positive", o.rotateWait))
	}
	if err := demo.CheckRate(o.demoRate); err != nil {
		errs = append(errs, fmt.Errorf("--demo-rate: %v", err))
	}
	if o.state != "" {
		if err := checkStateDir(o.state); err != nil {
			errs = append(errs, fmt.Errorf("--state %s: %v", o.state, err))
		}
	}
	for _, u := range o.syslog {
		if err := feed.CheckSyslogURL(u); err != nil {
			errs = append(errs, fmt.Errorf("--%v", err))
		}
	}
	if _, err := format.Compile(o.format); err != nil {
		errs = append(errs, fmt.Errorf("--format: %v", err))
	}
	if o.logFormat != "text" && o.logFormat != "json" {
		errs = append(errs, fmt.Errorf("--log-format %q: want text or json", o.logFormat))
	}
	if len(o.logs) == 0 && !o.demo && !o.version && o.subscribe == "" && len(o.syslog) == 0 && o.ingestTokenFile == "" {
		errs = append(errs, errors.New("no --log given: say which access log to follow (or try --demo, --syslog to listen for syslog, --ingest-token-file to take lines over HTTP, or --subscribe to a NATS stream)"))
	}
	if o.tlsCert != "" && o.tlsKey == "" {
		errs = append(errs, errors.New("--tls-cert given without --tls-key: give both, or neither"))
	}
	if o.tlsKey != "" && o.tlsCert == "" {
		errs = append(errs, errors.New("--tls-key given without --tls-cert: give both, or neither"))
	}
	if o.authMetrics && o.tokenFile == "" {
		errs = append(errs, errors.New("--auth-metrics needs --token-file: without tokens there is nothing to require"))
	}
	if o.ingestRequests < 0 {
		errs = append(errs, fmt.Errorf("--ingest-requests-per-token %d: must be 0 (no limit) or more", o.ingestRequests))
	}
	if o.ingestRate < 0 {
		errs = append(errs, fmt.Errorf("--ingest-rate-per-token %d: must be 0 (no limit) or more", o.ingestRate))
	}
	if o.ingestIdle < 0 {
		errs = append(errs, fmt.Errorf("--ingest-idle-timeout %v: must be 0 (never) or more", o.ingestIdle))
	}
	if o.sessionLifetime <= 0 {
		errs = append(errs, fmt.Errorf("--session-lifetime %v: must be positive", o.sessionLifetime))
	}
	errs = append(errs, o.checkNATS()...)
	ro, err := redact.ParseOptions(o.redact)
	if err != nil {
		errs = append(errs, fmt.Errorf("--redact: %v", err))
	}
	switch {
	case o.redactKeyFile != "" && ro.Host != redact.HostHash:
		errs = append(errs, errors.New("--redact-key-file is only for --redact host=hash"))
	case ro.Host == redact.HostHash && o.redactKeyFile == "":
		errs = append(errs, errors.New("--redact host=hash needs --redact-key-file: the key of the hash"))
	case ro.Host == redact.HostHash:
		key, err := os.ReadFile(o.redactKeyFile)
		key = bytes.TrimSpace(key)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("--redact-key-file: %v", err))
		case len(key) < 16:
			errs = append(errs, fmt.Errorf("--redact-key-file %s: the key is shorter than 16 bytes (make one with: openssl rand -hex 32)", o.redactKeyFile))
		}
		ro.HashKey = key
	}
	o.redactOptions = ro
	return errors.Join(errs...)
}

// checkStateDir says why the checkpoint at path could not be saved: its
// directory is missing, is not a directory, or takes no new file (the
// checkpoint is replaced through a temporary file beside it). Trying is
// the only test that holds for root and for read-only mounts.
func checkStateDir(path string) error {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return errors.New("is a directory: give a file name")
	}
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("directory %s does not exist", dir)
	case err != nil:
		return fmt.Errorf("directory %s: %v", dir, unwrapPath(err))
	case !fi.IsDir():
		return fmt.Errorf("%s is not a directory", dir)
	}
	f, err := os.CreateTemp(dir, ".weblogd-check-*")
	if err != nil {
		return fmt.Errorf("cannot create a file in %s: %v", dir, unwrapPath(err))
	}
	f.Close()
	return os.Remove(f.Name())
}

// unwrapPath leaves out the file name an error of package os repeats.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// checkNATS checks the NATS flags. The files are read by feed.New, which
// says what is wrong with one (still exit status 2).
func (o *options) checkNATS() []error {
	var errs []error
	for name, u := range map[string]string{"publish": o.publish, "subscribe": o.subscribe} {
		if u == "" {
			continue
		}
		if err := fleet.CheckURL(u); err != nil {
			errs = append(errs, fmt.Errorf("--%s: %v", name, err))
		}
	}
	if o.consumer != "" && o.subscribe == "" {
		errs = append(errs, errors.New("--consumer is only for --subscribe"))
	}
	a := o.natsAuth
	if !a.IsZero() && o.publish == "" && o.subscribe == "" {
		errs = append(errs, errors.New("the --nats-* flags are only for --publish and --subscribe"))
	}
	var ways []string
	for _, w := range []struct {
		flag string
		set  bool
	}{{"--nats-creds", a.CredsFile != ""}, {"--nats-nkey", a.NKeyFile != ""}, {"--nats-token-file", a.TokenFile != ""}, {"--nats-user", a.User != "" || a.PasswordFile != ""}} {
		if w.set {
			ways = append(ways, w.flag)
		}
	}
	if len(ways) > 1 {
		errs = append(errs, fmt.Errorf("%s: give one way to authenticate to NATS", strings.Join(ways, " and ")))
	}
	if a.User != "" && a.PasswordFile == "" {
		errs = append(errs, errors.New("--nats-user needs --nats-password-file"))
	}
	if a.PasswordFile != "" && a.User == "" {
		errs = append(errs, errors.New("--nats-password-file needs --nats-user"))
	}
	if a.CertFile != "" && a.KeyFile == "" {
		errs = append(errs, errors.New("--nats-cert needs --nats-key"))
	}
	if a.KeyFile != "" && a.CertFile == "" {
		errs = append(errs, errors.New("--nats-key needs --nats-cert"))
	}
	return errs
}

// config turns the options into the library's config. The command line's
// zeros ("--tick 0", "--backfill 0", an empty address) mean what they say;
// the library's zeros mean defaults, so they are translated here.
func (o *options) config() feed.Config {
	c := feed.Config{
		Logs:                o.logs,
		Syslog:              o.syslog,
		MaxSources:          o.maxSources,
		SyslogMaxConns:      o.syslogMaxConns,
		SyslogIdleTimeout:   o.syslogIdle,
		Format:              o.format,
		HTTPAddr:            o.http,
		TCPAddr:             o.tcp,
		Tick:                o.tick,
		Ring:                o.ring,
		Backfill:            o.backfill,
		Queue:               o.queue,
		MaxLineBytes:        o.maxLine,
		RotateWait:          o.rotateWait,
		StatePath:           o.state,
		BasePath:            o.basePath,
		ShutdownTimeout:     o.shutdownTimeout,
		WriteTimeout:        o.writeTimeout,
		SlowTimeout:         o.slowTimeout,
		MaxSubscribers:      o.maxSubs,
		MaxSubscribersPerIP: o.maxSubsPerIP,
		AllowOrigins:        o.allowOrigins,
		AllowHosts:          o.allowHosts,
		TrustedProxies:      o.trustedProxies,
		TLSCertFile:         o.tlsCert,
		TLSKeyFile:          o.tlsKey,
		TokenFile:           o.tokenFile,
		AuthMetrics:         o.authMetrics,
		SessionLifetime:     o.sessionLifetime,
		AdminTokenFile:      o.adminTokenFile,
		IngestTokenFile:     o.ingestTokenFile,
		IngestRatePerToken:  o.ingestRate,
		Redact:              o.redactOptions,
		Publish:             o.publish,
		Subscribe:           o.subscribe,
		Node:                o.node,
		Consumer:            o.consumer,
		NATSAuth:            o.natsAuth,
		History:             o.history,
		StatsWindow:         o.statsWindow,
		StatsDetailBytes:    int64(o.statsDetail),
		GeoIP:               o.geoip,
		Version:             version,
	}
	c.MaxSubscribersPerToken = o.maxSubsPerToken
	if c.MaxSubscribersPerToken == 0 {
		c.MaxSubscribersPerToken = -1
	}
	c.IngestRequestsPerToken = o.ingestRequests
	if c.IngestRequestsPerToken == 0 {
		c.IngestRequestsPerToken = -1
	}
	c.IngestIdleTimeout = o.ingestIdle
	if c.IngestIdleTimeout == 0 {
		c.IngestIdleTimeout = -1
	}
	if c.HTTPAddr == "" {
		c.HTTPAddr = feed.NoListen
	}
	if c.TCPAddr == "" {
		c.TCPAddr = feed.NoListen
	}
	if c.Tick == 0 {
		c.Tick = -1
	}
	if c.Backfill == 0 {
		c.Backfill = -1
	}
	if c.History == 0 {
		c.History = -1
	}
	if c.StatsDetailBytes == 0 {
		c.StatsDetailBytes = -1
	}
	// 0 on the command line means never, or no limit.
	if c.SlowTimeout == 0 {
		c.SlowTimeout = -1
	}
	if c.MaxSubscribers == 0 {
		c.MaxSubscribers = -1
	}
	if c.MaxSubscribersPerIP == 0 {
		c.MaxSubscribersPerIP = -1
	}
	if c.MaxSources == 0 {
		c.MaxSources = -1
	}
	if c.SyslogMaxConns == 0 {
		c.SyslogMaxConns = -1
	}
	if c.SyslogIdleTimeout == 0 {
		c.SyslogIdleTimeout = -1
	}
	return c
}
