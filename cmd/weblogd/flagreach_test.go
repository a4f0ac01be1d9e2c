package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/weblogd/weblogd/feed"
)

// Every flag, set to a value other than its default, changes what the
// server is given: feed.Config, or the options main acts on itself (the
// logger, the demo writer, --version). A flag that is
// parsed and checked but never handed on fails here, and a new flag
// without a case here fails too.
func TestEveryFlagReachesTheServer(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "hash.key")
	conf := filepath.Join(dir, "weblogd.conf")
	if err := os.WriteFile(key, []byte("0123456789abcdef0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, []byte("ring = 77\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state.json")

	type view struct {
		o *options
		c feed.Config
	}
	cases := []struct {
		flag string
		args []string // the flag and any it needs; --log base.log comes first
		got  func(v view) any
		want any
	}{
		{"log", []string{"--log", "other.log"}, func(v view) any { return []string(v.c.Logs) }, []string{"base.log", "other.log"}},
		{"syslog", []string{"--syslog", "udp://127.0.0.1:5514"}, func(v view) any { return []string(v.c.Syslog) }, []string{"udp://127.0.0.1:5514"}},
		{"max-sources", []string{"--max-sources", "0"}, func(v view) any { return v.c.MaxSources }, -1},
		{"syslog-max-conns", []string{"--syslog-max-conns", "3"}, func(v view) any { return v.c.SyslogMaxConns }, 3},
		{"syslog-idle-timeout", []string{"--syslog-idle-timeout", "0s"}, func(v view) any { return v.c.SyslogIdleTimeout }, time.Duration(-1)},
		{"format", []string{"--format", "caddy"}, func(v view) any { return v.c.Format }, "caddy"},
		{"http", []string{"--http", "127.0.0.1:1234"}, func(v view) any { return v.c.HTTPAddr }, "127.0.0.1:1234"},
		{"tcp", []string{"--tcp", "127.0.0.1:1235"}, func(v view) any { return v.c.TCPAddr }, "127.0.0.1:1235"},
		{"tick", []string{"--tick", "7ms"}, func(v view) any { return v.c.Tick }, 7 * time.Millisecond},
		{"ring", []string{"--ring", "123"}, func(v view) any { return v.c.Ring }, 123},
		{"backfill", []string{"--backfill", "7"}, func(v view) any { return v.c.Backfill }, 7},
		{"history", []string{"--history", "0"}, func(v view) any { return v.c.History }, time.Duration(-1)},
		{"stats-window", []string{"--stats-window", "2h"}, func(v view) any { return v.c.StatsWindow }, 2 * time.Hour},
		{"stats-detail", []string{"--stats-detail", "3MiB"}, func(v view) any { return v.c.StatsDetailBytes }, int64(3 << 20)},
		{"geoip", []string{"--geoip", "countries.mmdb"}, func(v view) any { return v.c.GeoIP }, "countries.mmdb"},
		{"queue", []string{"--queue", "99"}, func(v view) any { return v.c.Queue }, 99},
		{"max-line", []string{"--max-line", "1000"}, func(v view) any { return v.c.MaxLineBytes }, 1000},
		{"rotate-wait", []string{"--rotate-wait", "250ms"}, func(v view) any { return v.c.RotateWait }, 250 * time.Millisecond},
		{"state", []string{"--state", state}, func(v view) any { return v.c.StatePath }, state},
		{"base-path", []string{"--base-path", "/weblog"}, func(v view) any { return v.c.BasePath }, "/weblog"},
		{"allow-origin", []string{"--allow-origin", "https://a.example"}, func(v view) any { return []string(v.c.AllowOrigins) }, []string{"https://a.example"}},
		{"allow-host", []string{"--allow-host", "logs.example"}, func(v view) any { return []string(v.c.AllowHosts) }, []string{"logs.example"}},
		{"trusted-proxy", []string{"--trusted-proxy", "10.0.0.1"}, func(v view) any { return []string(v.c.TrustedProxies) }, []string{"10.0.0.1"}},
		{"shutdown-timeout", []string{"--shutdown-timeout", "3s"}, func(v view) any { return v.c.ShutdownTimeout }, 3 * time.Second},
		{"write-timeout", []string{"--write-timeout", "4s"}, func(v view) any { return v.c.WriteTimeout }, 4 * time.Second},
		{"slow-timeout", []string{"--slow-timeout", "6s"}, func(v view) any { return v.c.SlowTimeout }, 6 * time.Second},
		{"max-subscribers", []string{"--max-subscribers", "11"}, func(v view) any { return v.c.MaxSubscribers }, 11},
		{"max-subscribers-per-ip", []string{"--max-subscribers-per-ip", "12"}, func(v view) any { return v.c.MaxSubscribersPerIP }, 12},
		{"max-subscribers-per-token", []string{"--max-subscribers-per-token", "13"}, func(v view) any { return v.c.MaxSubscribersPerToken }, 13},
		{"token-file", []string{"--token-file", "tokens"}, func(v view) any { return v.c.TokenFile }, "tokens"},
		{"auth-metrics", []string{"--token-file", "tokens", "--auth-metrics"}, func(v view) any { return v.c.AuthMetrics }, true},
		{"session-lifetime", []string{"--session-lifetime", "2h"}, func(v view) any { return v.c.SessionLifetime }, 2 * time.Hour},
		{"admin-token-file", []string{"--admin-token-file", "admin"}, func(v view) any { return v.c.AdminTokenFile }, "admin"},
		{"ingest-token-file", []string{"--ingest-token-file", "ingest"}, func(v view) any { return v.c.IngestTokenFile }, "ingest"},
		{"ingest-requests-per-token", []string{"--ingest-requests-per-token", "3"}, func(v view) any { return v.c.IngestRequestsPerToken }, 3},
		{"ingest-rate-per-token", []string{"--ingest-rate-per-token", "1000"}, func(v view) any { return v.c.IngestRatePerToken }, 1000},
		{"ingest-idle-timeout", []string{"--ingest-idle-timeout", "90s"}, func(v view) any { return v.c.IngestIdleTimeout }, 90 * time.Second},
		{"redact", []string{"--redact", "query"}, func(v view) any { return v.c.Redact.Query }, true},
		{"redact-key-file", []string{"--redact", "host=hash", "--redact-key-file", key}, func(v view) any { return string(v.c.Redact.HashKey) }, "0123456789abcdef0123456789abcdef"},
		{"publish", []string{"--publish", "nats://pub:4222"}, func(v view) any { return v.c.Publish }, "nats://pub:4222"},
		{"subscribe", []string{"--subscribe", "nats://sub:4222"}, func(v view) any { return v.c.Subscribe }, "nats://sub:4222"},
		{"node", []string{"--node", "web-3"}, func(v view) any { return v.c.Node }, "web-3"},
		{"consumer", []string{"--subscribe", "nats://sub:4222", "--consumer", "edges"}, func(v view) any { return v.c.Consumer }, "edges"},
		{"nats-creds", []string{"--publish", "nats://p:4222", "--nats-creds", "c"}, func(v view) any { return v.c.NATSAuth.CredsFile }, "c"},
		{"nats-nkey", []string{"--publish", "nats://p:4222", "--nats-nkey", "n"}, func(v view) any { return v.c.NATSAuth.NKeyFile }, "n"},
		{"nats-token-file", []string{"--publish", "nats://p:4222", "--nats-token-file", "t"}, func(v view) any { return v.c.NATSAuth.TokenFile }, "t"},
		{"nats-user", []string{"--publish", "nats://p:4222", "--nats-user", "u", "--nats-password-file", "pw"}, func(v view) any { return v.c.NATSAuth.User }, "u"},
		{"nats-password-file", []string{"--publish", "nats://p:4222", "--nats-user", "u", "--nats-password-file", "pw"}, func(v view) any { return v.c.NATSAuth.PasswordFile }, "pw"},
		{"nats-ca", []string{"--publish", "nats://p:4222", "--nats-ca", "ca"}, func(v view) any { return v.c.NATSAuth.CAFile }, "ca"},
		{"nats-cert", []string{"--publish", "nats://p:4222", "--nats-cert", "crt", "--nats-key", "k"}, func(v view) any { return v.c.NATSAuth.CertFile }, "crt"},
		{"nats-key", []string{"--publish", "nats://p:4222", "--nats-cert", "crt", "--nats-key", "k"}, func(v view) any { return v.c.NATSAuth.KeyFile }, "k"},
		{"tls-cert", []string{"--tls-cert", "cert.pem", "--tls-key", "key.pem"}, func(v view) any { return v.c.TLSCertFile }, "cert.pem"},
		{"tls-key", []string{"--tls-cert", "cert.pem", "--tls-key", "key.pem"}, func(v view) any { return v.c.TLSKeyFile }, "key.pem"},
		{"config", []string{"--config", conf}, func(v view) any { return v.c.Ring }, 77},
		// The rest main acts on itself.
		{"log-level", []string{"--log-level", "debug"}, func(v view) any {
			return newLogger(v.o, io.Discard).Enabled(context.Background(), slog.LevelDebug)
		}, true},
		{"log-format", []string{"--log-format", "json"}, func(v view) any {
			var b bytes.Buffer
			newLogger(v.o, &b).Info("x")
			return bytes.HasPrefix(b.Bytes(), []byte("{"))
		}, true},
		{"demo", []string{"--demo"}, func(v view) any { return v.o.demo }, true},
		{"demo-rate", []string{"--demo-rate", "17"}, func(v view) any { return v.o.demoRate }, 17.0},
		{"version", []string{"--version"}, func(v view) any { return v.o.version }, true},
	}

	parse := func(t *testing.T, args []string) view {
		t.Helper()
		o, err := parseFlags(append([]string{"--log", "base.log"}, args...), func(string) string { return "" }, io.Discard)
		if err != nil {
			t.Fatalf("parseFlags(%q): %v", args, err)
		}
		return view{o, o.config()}
	}
	base := parse(t, nil)
	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.flag] = true
		t.Run(c.flag, func(t *testing.T) {
			if got := c.got(base); reflect.DeepEqual(got, c.want) {
				t.Fatalf("without --%s it is already %v: the case tests nothing", c.flag, got)
			}
			if got := c.got(parse(t, c.args)); !reflect.DeepEqual(got, c.want) {
				t.Errorf("%q: got %v, want %v", c.args, got, c.want)
			}
		})
	}
	newFlagSet(&options{}, io.Discard).VisitAll(func(f *flag.Flag) {
		if !covered[f.Name] {
			t.Errorf("--%s has no case here: add one that shows its value reaches the server", f.Name)
		}
	})
}
