package main_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weblogd/weblogd/certs/certstest"
)

// runBinary runs weblogd to its end and returns its exit status and
// output.
func runBinary(t *testing.T, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return code, o.String(), e.String()
}

func TestVersionSubcommand(t *testing.T) {
	code, sub, _ := runBinary(t, nil, "version")
	_, flag, _ := runBinary(t, nil, "--version")
	if code != 0 || sub != flag || !strings.HasPrefix(sub, "weblogd ") {
		t.Fatalf("weblogd version: exit %d, %q; --version: %q; want the same line and exit 0", code, sub, flag)
	}
	if code, _, stderr := runBinary(t, nil, "version", "extra"); code != 2 || !strings.Contains(stderr, "takes no arguments") {
		t.Fatalf("weblogd version extra: exit %d, %q; want 2 and why", code, stderr)
	}
}

// Settings that cannot work stop weblogd with status 2 and one line that
// names the culprit: the TLS pair half given, a config file's line.
func TestBadSettingsExit2(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "access.log")
	cert := certstest.Write(t, dir, "weblogd")
	conf := filepath.Join(dir, "weblogd.conf")
	if err := os.WriteFile(conf, []byte("log = "+log+"\n\ntikc = 1s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		env  []string
		want string
	}{
		{"cert without key", []string{"--log", log, "--tls-cert", cert.CertFile}, nil, "--tls-cert given without --tls-key"},
		{"key without cert, from the environment", []string{"--log", log}, []string{"WEBLOGD_TLS_KEY=" + cert.KeyFile}, "--tls-key given without --tls-cert"},
		{"missing certificate", []string{"--log", log, "--tls-cert", dir + "/nope.pem", "--tls-key", cert.KeyFile}, nil, "nope.pem"},
		{"key of another certificate", []string{"--log", log, "--tls-cert", cert.CertFile, "--tls-key", certstest.Write(t, dir, "other").KeyFile}, nil, "private key does not match public key"},
		{"config file's unknown key", []string{"--config", conf}, nil, conf + `:3: unknown key "tikc"`},
		{"config file from the environment", nil, []string{"WEBLOGD_CONFIG=" + conf}, conf + `:3: unknown key "tikc"`},
		{"missing config file", []string{"--config", dir + "/none.conf"}, nil, "none.conf"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runBinary(t, c.env, c.args...)
			if code != 2 || !strings.Contains(stderr, c.want) {
				t.Fatalf("exit %d, stderr %q; want 2 and %q", code, stderr, c.want)
			}
			if first := strings.SplitN(stderr, "\n", 2)[0]; !strings.Contains(first, c.want) {
				t.Fatalf("the first line %q does not say %q", first, c.want)
			}
		})
	}
}

// A config file configures the real program; the command line wins.
func TestConfigFileRuns(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	conf := filepath.Join(dir, "weblogd.conf")
	text := "# test\nlog = " + a + "\nlog = " + b + "\nhttp = 127.0.0.1:0\ntcp = 127.0.0.1:1\ntick = 0s\n"
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	p := start(t, nil, "--config", conf, "--tcp", "127.0.0.1:0")
	c, err := net.Dial("tcp", p.tcp)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(waitFor))
	r.ReadString('\n')
	appendLines(t, b, "into b")
	if l, err := r.ReadString('\n'); err != nil || !strings.Contains(l, `source="b.log"`) {
		t.Fatalf("hit %q (%v), want one from b.log, the config file's second log", l, err)
	}
	if code := p.signal(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

// weblogd with TLS from the environment: both ports speak TLS, and its
// health check finds it from the same environment (with --insecure for a
// certificate it does not trust).
func TestTLSFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "access.log")
	cert := certstest.Write(t, dir, "weblogd")
	env := []string{"WEBLOGD_TLS_CERT=" + cert.CertFile, "WEBLOGD_TLS_KEY=" + cert.KeyFile}
	p := start(t, env, "--log", log, "--http", "127.0.0.1:0", "--tcp", "127.0.0.1:0")

	c, err := tls.DialWithDialer(&net.Dialer{Timeout: waitFor}, "tcp", p.tcp, &tls.Config{RootCAs: cert.Pool})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(waitFor))
	if l, _ := r.ReadString('\n'); l != "<hits>\n" {
		t.Fatalf("first line over TLS %q", l)
	}
	appendLines(t, log, `192.0.2.1 - - [21/Nov/2026:10:00:00 +0000] "GET /tls HTTP/1.1" 200 5 "-" "curl/8"`)
	if l, err := r.ReadString('\n'); err != nil || !strings.Contains(l, `path="/tls"`) {
		t.Fatalf("hit %q (%v)", l, err)
	}

	env = append(env, "WEBLOGD_HTTP="+p.http)
	if code, _, stderr := runBinary(t, env, "healthcheck"); code != 1 || !strings.Contains(stderr, "certificate") {
		t.Errorf("healthcheck of an untrusted certificate: exit %d, %q; want 1 and why", code, stderr)
	}
	if code, stdout, stderr := runBinary(t, env, "healthcheck", "--insecure"); code != 0 || stdout != "https://"+p.http+"/healthz: 200 OK\n" {
		t.Errorf("healthcheck --insecure: exit %d, %q %q; want 0 and the URL's 200", code, stdout, stderr)
	}
	if code := p.signal(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d\n%s", code, p.stderr)
	}
}

func TestHealthcheck(t *testing.T) {
	dir := t.TempDir()
	p := start(t, nil, "--log", filepath.Join(dir, "access.log"), "--http", "127.0.0.1:0", "--tcp", "", "--base-path", "/weblog/")
	defer p.signal(t, syscall.SIGTERM)
	unavailable := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "not yet", http.StatusServiceUnavailable)
	}))
	defer unavailable.Close()
	// A server that takes the connection and never answers: the kernel
	// accepts it into the backlog.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()

	conf := filepath.Join(dir, "weblogd.conf")
	if err := os.WriteFile(conf, []byte("http = "+p.http+"\nbase-path = /weblog/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		env  []string
		args []string
		code int
		want string // in the output
	}{
		{"found from the config file", nil, []string{"--config", conf}, 0, "http://" + p.http + "/weblog/healthz: 200 OK"},
		{"found from WEBLOGD_CONFIG", []string{"WEBLOGD_CONFIG=" + conf}, nil, 0, "http://" + p.http + "/weblog/healthz: 200 OK"},
		{"url", nil, []string{"--url", "http://" + p.http + "/weblog/healthz"}, 0, "200 OK"},
		{"found from the environment", []string{"WEBLOGD_HTTP=" + p.http, "WEBLOGD_BASE_PATH=/weblog"}, nil, 0, "http://" + p.http + "/weblog/healthz: 200 OK"},
		{"wrong base path", []string{"WEBLOGD_HTTP=" + p.http}, nil, 1, "404"},
		{"503", nil, []string{"--url", unavailable.URL + "/healthz"}, 1, "503 Service Unavailable"},
		{"nothing listening", nil, []string{"--url", "http://" + closed.Addr().String() + "/healthz"}, 1, "connection refused"},
		{"no answer in 2 s", nil, []string{"--url", "http://" + silent.Addr().String() + "/healthz"}, 1, "Timeout"},
		{"HTTP off", []string{"WEBLOGD_HTTP=-"}, nil, 2, "the HTTP server is off"},
		{"bad url", nil, []string{"--url", "localhost:8080"}, 2, `--url "localhost:8080"`},
		{"bad flag", nil, []string{"--nope"}, 2, "flag provided but not defined: -nope"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			code, stdout, stderr := runBinary(t, c.env, append([]string{"healthcheck"}, c.args...)...)
			took := time.Since(start)
			if code != c.code || !strings.Contains(stdout+stderr, c.want) {
				t.Fatalf("exit %d, %q %q; want %d and %q", code, stdout, stderr, c.code, c.want)
			}
			if c.name == "no answer in 2 s" && (took < 2*time.Second || took > 4*time.Second) {
				t.Fatalf("gave up after %v, want after 2 s", took)
			}
		})
	}
}

// With --auth-metrics closing /healthz, healthcheck finds the server's
// token file in its configuration and sends its first token.
func TestHealthcheckWithAuthMetrics(t *testing.T) {
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte("# probes\nprobe-token-0123456789abcdef name=probe\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := start(t, nil, "--log", filepath.Join(dir, "access.log"), "--http", "127.0.0.1:0", "--tcp", "",
		"--token-file", tokens, "--auth-metrics")
	defer p.signal(t, syscall.SIGTERM)
	conf := filepath.Join(dir, "weblogd.conf")
	if err := os.WriteFile(conf, []byte("http = "+p.http+"\ntoken-file = "+tokens+"\nauth-metrics = true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"found from the config file", []string{"--config", conf}, 0, "200 OK"},
		{"url and token file", []string{"--url", "http://" + p.http + "/healthz", "--token-file", tokens}, 0, "200 OK"},
		{"url without a token", []string{"--url", "http://" + p.http + "/healthz"}, 1, "401"},
	} {
		code, stdout, stderr := runBinary(t, nil, append([]string{"healthcheck"}, c.args...)...)
		if code != c.code || !strings.Contains(stdout+stderr, c.want) {
			t.Errorf("%s: exit %d, %q %q; want %d and %q", c.name, code, stdout, stderr, c.code, c.want)
		}
	}
}
