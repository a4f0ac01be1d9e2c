package main

import (
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "weblogd.conf")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func envOf(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// Each flag comes from the first source that has it: the command line,
// then the environment, then the config file, then the default. A
// repeatable flag is taken whole from one source, never merged.
func TestConfigFilePrecedence(t *testing.T) {
	conf := writeConfig(t, `# weblogd settings
log = /var/log/a.log
log = /var/log/b.log   
tick = 7ms
ring=123
http =
tcp = "127.0.0.1:9999"
base-path = /weblog/
allow-origin = https://ops.example.com
allow-host = weblog.example.com
allow-host = ops.example.com
trusted-proxy = 10.0.0.0/8
trusted-proxy = 127.0.0.1
demo = true
`)
	cases := []struct {
		name string
		args []string
		env  func(string) string
		want func(o *options) bool
	}{
		{"file only", []string{"--config", conf}, envOf(), func(o *options) bool {
			return reflect.DeepEqual([]string(o.logs), []string{"/var/log/a.log", "/var/log/b.log"}) &&
				o.tick == 7*time.Millisecond && o.ring == 123 && o.http == "" && o.tcp == "127.0.0.1:9999" &&
				o.basePath == "/weblog/" && len(o.allowOrigins) == 1 && o.demo && o.queue == 4096 &&
				reflect.DeepEqual(o.config().AllowHosts, []string{"weblog.example.com", "ops.example.com"}) &&
				reflect.DeepEqual(o.config().TrustedProxies, []string{"10.0.0.0/8", "127.0.0.1"})
		}},
		{"repeatable security flags from the environment", []string{"--config", conf}, envOf("WEBLOGD_TRUSTED_PROXY", "192.0.2.0/24, ::1", "WEBLOGD_ALLOW_HOST", "a.example"), func(o *options) bool {
			return reflect.DeepEqual(o.config().TrustedProxies, []string{"192.0.2.0/24", "::1"}) && reflect.DeepEqual(o.config().AllowHosts, []string{"a.example"})
		}},
		{"config named in the environment", nil, envOf("WEBLOGD_CONFIG", conf), func(o *options) bool {
			return o.ring == 123 && len(o.logs) == 2
		}},
		{"environment over file", []string{"--config", conf}, envOf("WEBLOGD_TICK", "9ms", "WEBLOGD_LOG", "/x.log,/y.log"), func(o *options) bool {
			return o.tick == 9*time.Millisecond && reflect.DeepEqual([]string(o.logs), []string{"/x.log", "/y.log"}) && o.ring == 123
		}},
		{"command line over environment and file", []string{"--config", conf, "--tick", "11ms", "--log", "/z.log"},
			envOf("WEBLOGD_TICK", "9ms", "WEBLOGD_LOG", "/x.log"), func(o *options) bool {
				return o.tick == 11*time.Millisecond && reflect.DeepEqual([]string(o.logs), []string{"/z.log"}) && o.ring == 123
			}},
		{"an empty value in the file means empty", []string{"--config", conf, "--log", "/z.log"}, envOf(), func(o *options) bool {
			return o.config().HTTPAddr == "-"
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o, err := parseFlags(c.args, c.env, io.Discard)
			if err != nil {
				t.Fatalf("parseFlags()=%v", err)
			}
			if !c.want(o) {
				t.Fatalf("options %+v", o)
			}
		})
	}
}

// A config file's mistakes are reported with the file and line, and stop
// the start: a misspelt key must not be ignored.
func TestConfigFileErrors(t *testing.T) {
	cases := []struct {
		text string
		want string // after "<path>:"
	}{
		{"log = /a.log\nlgo = /b.log\n", `2: unknown key "lgo"`},
		{"# fine\n\ntick = soon\n", `3: invalid value "soon" for tick`},
		{"log /a.log\n", `1: want key = value`},
		{"tick = 1s\ntick = 2s\n", `2: tick is set again (first on line 1)`},
		{"config = /etc/other.conf\n", `1: unknown key "config"`},
		{"--log = /a.log\n", `1: unknown key "--log"`},
		{`base-path = "/unterminated` + "\n", `1: value of base-path: bad quoted string`},
		{"ring = -1\nlog = /a.log\n", ``}, // checked like a flag: below
	}
	for _, c := range cases {
		conf := writeConfig(t, c.text)
		_, err := parseFlags([]string{"--config", conf}, envOf(), io.Discard)
		if c.want == "" {
			if err == nil || !strings.Contains(err.Error(), "--ring -1: must not be negative") {
				t.Errorf("%q: parseFlags()=%v, want the value checked like the flag's", c.text, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), conf+":"+c.want) {
			t.Errorf("%q: parseFlags()=%v, want %s:%s", c.text, err, conf, c.want)
		}
	}
	if _, err := parseFlags([]string{"--config", "/nonexistent/weblogd.conf"}, envOf(), io.Discard); err == nil ||
		!strings.Contains(err.Error(), "/nonexistent/weblogd.conf") {
		t.Errorf("missing file: parseFlags()=%v, want an error naming it", err)
	}
}

// The example config in deploy/ is valid.
func TestExampleConfigParses(t *testing.T) {
	o, err := parseFlags([]string{"--config", "../../deploy/weblogd.conf"}, envOf(), io.Discard)
	if err != nil {
		t.Fatalf("deploy/weblogd.conf: %v", err)
	}
	if len(o.logs) == 0 {
		t.Fatal("deploy/weblogd.conf names no log")
	}
	if c := o.config(); c.History != time.Hour || c.StatsWindow != 24*time.Hour || c.StatsDetailBytes != 64<<20 {
		t.Fatalf("deploy/weblogd.conf: history %v, stats window %v, stats detail %d; want 1h, 24h, 64 MiB", c.History, c.StatsWindow, c.StatsDetailBytes)
	}
}

func TestHealthURL(t *testing.T) {
	cases := []struct {
		env  []string
		want string
	}{
		{nil, "http://127.0.0.1:8080/healthz"},
		{[]string{"WEBLOGD_HTTP", "0.0.0.0:9000"}, "http://127.0.0.1:9000/healthz"},
		{[]string{"WEBLOGD_HTTP", "[::]:9000"}, "http://[::1]:9000/healthz"},
		{[]string{"WEBLOGD_HTTP", "localhost:9000", "WEBLOGD_BASE_PATH", "/weblog"}, "http://localhost:9000/weblog/healthz"},
		{[]string{"WEBLOGD_TLS_CERT", "/c.pem", "WEBLOGD_TLS_KEY", "/k.pem", "WEBLOGD_BASE_PATH", "/a/b/"}, "https://127.0.0.1:8080/a/b/healthz"},
	}
	for _, c := range cases {
		o, err := loadOptions(nil, envOf(c.env...), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := healthURL(o); got != c.want || err != nil {
			t.Errorf("%v: healthURL()=%q, %v; want %q", c.env, got, err, c.want)
		}
	}
}
