package main_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weblogd/weblogd/format"
)

// binary is the weblogd built once for these tests: they run the real
// program, with real signals and exit codes.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "weblogd-test-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "weblogd")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build weblogd: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const waitFor = 10 * time.Second

func TestBadFlagsExit2(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "access.log")
	file := filepath.Join(dir, "a-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// The compilers' own errors name the column; weblogd says which flag.
	const badApache = `%h %l %u %t "%r" %>s %Z`
	_, err := format.Compile(badApache)
	if err == nil {
		t.Fatalf("Compile(%q) works: the case below needs a format that cannot be read", badApache)
	}
	cases := []struct {
		name string
		args []string
		env  []string
		want string // in stderr
	}{
		{"unknown format", []string{"--log", log, "--format", "nginx"}, nil, `--format: unknown format "nginx" (one of: auto, combined, common`},
		{"bad format string", []string{"--log", log, "--format", badApache}, nil, "--format: " + err.Error()},
		{"bad format from the environment", []string{"--log", log}, []string{"WEBLOGD_FORMAT=vhost_combined"}, `--format: unknown format "vhost_combined"`},
		{"unknown flag", []string{"--log", log, "--nope"}, nil, "flag provided but not defined: -nope"},
		{"no log", nil, nil, "no --log given"},
		{"bad duration", []string{"--log", log, "--tick", "soon"}, nil, `invalid value "soon" for flag -tick`},
		{"negative tick", []string{"--log", log, "--tick", "-1s"}, nil, "--tick -1s: must not be negative"},
		{"zero ring", []string{"--log", log, "--ring", "0"}, nil, "--ring 0"},
		{"bad number", []string{"--log", log, "--queue", "many"}, nil, `invalid value "many" for flag -queue`},
		{"stray argument", []string{"--log", log, "extra"}, nil, `unexpected argument "extra"`},
		{"bad address", []string{"--log", log, "--http", "nope"}, nil, `http address "nope"`},
		{"bad glob", []string{"--log", "/tmp/[x*"}, nil, "syntax error in pattern"},
		{"bad base path", []string{"--log", log, "--base-path", "weblog"}, nil, `base path "weblog" must start with /`},
		{"bad rotate wait", []string{"--log", log, "--rotate-wait", "0s"}, nil, "--rotate-wait 0s: must be positive"},
		{"bad log format", []string{"--log", log, "--log-format", "xml"}, nil, `--log-format "xml"`},
		{"bad environment", []string{"--log", log}, []string{"WEBLOGD_RING=lots"}, "WEBLOGD_RING"},
		{"negative max subscribers", []string{"--log", log, "--max-subscribers", "-1"}, nil, "--max-subscribers -1: must not be negative"},
		{"negative per-ip limit", []string{"--log", log}, []string{"WEBLOGD_MAX_SUBSCRIBERS_PER_IP=-5"}, "--max-subscribers-per-ip -5: must not be negative"},
		{"negative slow timeout", []string{"--log", log, "--slow-timeout", "-1s"}, nil, "--slow-timeout -1s: must not be negative"},
		{"missing token file", []string{"--log", log, "--token-file", "/nonexistent/tokens"}, nil, "read the token file"},
		{"auth metrics without tokens", []string{"--log", log, "--auth-metrics"}, nil, "--auth-metrics needs --token-file"},
		{"negative per-token limit", []string{"--log", log, "--max-subscribers-per-token", "-1"}, nil, "--max-subscribers-per-token -1: must not be negative"},
		{"bad redaction", []string{"--log", log, "--redact", "ip"}, nil, `--redact: unknown redaction "ip"`},
		{"bad redaction from the environment", []string{"--log", log}, []string{"WEBLOGD_REDACT=host=/16"}, "--redact: host=/16"},
		{"hash without key", []string{"--log", log, "--redact", "host=hash"}, nil, "--redact host=hash needs --redact-key-file"},
		{"key without hash", []string{"--log", log, "--redact-key-file", log}, nil, "--redact-key-file is only for --redact host=hash"},
		{"bad session lifetime", []string{"--log", log, "--session-lifetime", "0s"}, nil, "--session-lifetime 0s: must be positive"},
		{"missing admin token file", []string{"--log", log, "--admin-token-file", "/nonexistent/admin"}, nil, "admin tokens: read the token file"},
		{"bad trusted proxy", []string{"--log", log, "--trusted-proxy", "proxy.example"}, nil, `trusted proxy "proxy.example": want an address or a CIDR`},
		{"bad trusted proxy from the environment", []string{"--log", log}, []string{"WEBLOGD_TRUSTED_PROXY=10.0.0.0/8,10.0.0.0/40"}, `trusted proxy "10.0.0.0/40"`},
		{"allowed host with a port", []string{"--log", log, "--allow-host", "example.com:8080"}, nil, `allowed host "example.com:8080": want a host name or address, without scheme or port`},
		// Root writes anywhere a mode bit forbids, so the unwritable
		// directories are ones that fail for root too.
		{"state in a missing directory", []string{"--log", log, "--state", filepath.Join(dir, "missing", "state.json")}, nil, "directory " + filepath.Join(dir, "missing") + " does not exist"},
		{"state under a regular file", []string{"--log", log, "--state", filepath.Join(file, "state.json")}, nil, file + " is not a directory"},
		{"state in an unwritable directory", []string{"--log", log, "--state", "/proc/weblogd-state.json"}, nil, "--state /proc/weblogd-state.json: cannot create a file in /proc"},
		{"state is a directory", []string{"--log", log}, []string{"WEBLOGD_STATE=" + dir}, "is a directory"},
		{"demo rate NaN", []string{"--demo", "--demo-rate", "NaN"}, nil, "--demo-rate: rate NaN: want more than 0 and at most 100000"},
		{"demo rate Inf", []string{"--demo", "--demo-rate", "Inf"}, nil, "--demo-rate: rate +Inf"},
		{"demo rate too high", []string{"--demo", "--demo-rate", "2e9"}, nil, "--demo-rate: rate 2e+09"},
		{"demo rate 0", []string{"--demo", "--demo-rate", "0"}, nil, "--demo-rate: rate 0"},
		{"demo rate negative", []string{"--demo", "--demo-rate", "-3"}, nil, "--demo-rate: rate -3"},
		{"demo log in a missing directory", []string{"--demo", "--log", filepath.Join(dir, "missing", "demo.log"), "--http", "127.0.0.1:0", "--tcp", "127.0.0.1:0"}, nil, "--demo: open the demo log"},
		{"negative history", []string{"--log", log, "--history", "-1h"}, nil, "--history -1h0m0s: must not be negative"},
		{"bad history", []string{"--log", log, "--history", "an hour"}, nil, `invalid value "an hour" for flag -history`},
		{"history longer than the window", []string{"--log", log, "--history", "48h"}, nil, "--history 48h0m0s is longer than --stats-window 24h0m0s"},
		{"the default history longer than the window", []string{"--log", log, "--stats-window", "30m"}, nil, "--history 1h0m0s is longer than --stats-window 30m0s"},
		{"zero stats window", []string{"--log", log}, []string{"WEBLOGD_STATS_WINDOW=0s"}, "--stats-window 0s: must be positive"},
		{"bad stats detail", []string{"--log", log, "--stats-detail", "64MB"}, nil, `invalid value "64MB" for flag -stats-detail: want a size in bytes`},
		{"negative stats detail", []string{"--log", log}, []string{"WEBLOGD_STATS_DETAIL=-1"}, `invalid value "-1" for WEBLOGD_STATS_DETAIL`},
		{"missing geoip database", []string{"--log", log, "--geoip", filepath.Join(dir, "none.mmdb")}, nil, "geoip database"},
		{"geoip database that is not one", []string{"--log", log, "--geoip", file}, nil, "geoip database"},
		{"port out of range", []string{"--log", log, "--http", "127.0.0.1:99999"}, nil, `http address "127.0.0.1:99999": port "99999" is not a port number`},
		{"unknown service", []string{"--log", log, "--tcp", ":nope"}, nil, `tcp address ":nope": port "nope"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// A server that starts instead of refusing is stopped, and fails.
			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			cmd := exec.CommandContext(ctx, binary, c.args...)
			cmd.Env = append(os.Environ(), c.env...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 {
				t.Fatalf("exit: %v, want status 2\n%s", err, stderr.String())
			}
			if !strings.Contains(stderr.String(), c.want) {
				t.Fatalf("stderr %q, want it to say %q", stderr.String(), c.want)
			}
			if strings.Contains(stderr.String(), "panic") {
				t.Fatalf("stderr %q: a panic", stderr.String())
			}
		})
	}
}

// A --demo refused for its rate leaves no temporary directory behind.
func TestBadDemoRateLeavesNoTemporaryFile(t *testing.T) {
	tmp := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "--demo", "--demo-rate", "2e9", "--http", "127.0.0.1:0", "--tcp", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Fatalf("exit: %v, want status 2\n%s", err, out)
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Fatalf("left in TMPDIR: %v", left)
	}
}

// --help writes flags as the documentation does, one "  --name VALUE"
// line each, with the default as the program takes it.
func TestHelpListsEveryFlag(t *testing.T) {
	out, err := exec.Command(binary, "--help").Output()
	if err != nil {
		t.Fatalf("--help: %v, want exit 0", err)
	}
	for _, f := range []string{"--log PATH", "--http ADDR", "--tcp ADDR", "--tick DURATION", "--ring N", "--backfill N", "--queue N", "--state PATH",
		"--base-path PREFIX", "--slow-timeout DURATION", "--max-subscribers N", "--max-subscribers-per-ip N", "--token-file FILE", "--auth-metrics",
		"--session-lifetime DURATION", "--max-subscribers-per-token N", "--admin-token-file FILE", "--redact OPTION", "--redact-key-file FILE",
		"--allow-host NAME", "--trusted-proxy CIDR", "--rotate-wait DURATION"} {
		if !bytes.Contains(out, []byte("\n  "+f+"\n")) {
			t.Errorf("--help has no line %q", "  "+f)
		}
	}
	for _, s := range []string{"WEBLOGD_", "(default 50ms)", "(default info)", "(default /)", "(default :8080)", "(default 1h)"} {
		if !bytes.Contains(out, []byte(s)) {
			t.Errorf("--help does not say %s", s)
		}
	}
	if bytes.Contains(out, []byte("\n  -log")) || bytes.Contains(out, []byte("string\n")) {
		t.Errorf("--help still in the flag package's own form:\n%s", out)
	}
}

// proc is a running weblogd.
type proc struct {
	cmd     *exec.Cmd
	tcp     string
	http    string
	stderr  *bytes.Buffer // complete once scanned is closed
	exited  chan error
	scanned chan struct{}
}

var addrRE = regexp.MustCompile(`http=(\S+) tcp=(\S+)`)

func start(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	return startCmd(t, cmd)
}

// startCmd starts weblogd as cmd says (its stdin, say) and waits for its
// addresses.
func startCmd(t *testing.T, cmd *exec.Cmd) *proc {
	t.Helper()
	pr, pw := io.Pipe()
	p := &proc{cmd: cmd, stderr: &bytes.Buffer{}, exited: make(chan error, 1), scanned: make(chan struct{})}
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.exited <- cmd.Wait()
		pw.Close()
	}()
	t.Cleanup(func() { cmd.Process.Kill() })
	found := make(chan []string, 1)
	go func() {
		defer close(p.scanned)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			p.stderr.WriteString(line + "\n")
			if m := addrRE.FindStringSubmatch(line); m != nil {
				found <- m
			}
		}
	}()
	select {
	case m := <-found:
		p.http, p.tcp = m[1], m[2]
	case <-time.After(waitFor):
		t.Fatal("weblogd did not log its addresses")
	}
	return p
}

func (p *proc) signal(t *testing.T, sig os.Signal) int {
	t.Helper()
	p.cmd.Process.Signal(sig)
	select {
	case err := <-p.exited:
		<-p.scanned
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(waitFor):
		t.Fatal("weblogd did not exit after the signal")
		return -1
	}
}

func appendLines(t *testing.T, path string, lines ...string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(strings.Join(lines, "\n") + "\n"); err != nil {
		t.Fatal(err)
	}
}

// SIGTERM ends the raw stream with </hits> and exits 0; the saved session
// is a well-formed document for xmllint.
func TestSigtermClosesStreamsAndExits0(t *testing.T) {
	for _, sig := range []os.Signal{syscall.SIGTERM, os.Interrupt} {
		t.Run(sig.String(), func(t *testing.T) {
			log := filepath.Join(t.TempDir(), "access.log")
			appendLines(t, log, "history")
			p := start(t, nil, "--log", log, "--http", "127.0.0.1:0", "--tcp", "127.0.0.1:0")
			c, err := net.Dial("tcp", p.tcp)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			r := bufio.NewReader(c)
			c.SetReadDeadline(time.Now().Add(waitFor))
			if l, _ := r.ReadString('\n'); l != "<hits>\n" {
				t.Fatalf("first line %q", l)
			}
			appendLines(t, log, `192.0.2.1 - - [21/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "curl/8"`, "\x00 garbage <&>")
			var session strings.Builder
			session.WriteString("<hits>\n")
			for i := 0; i < 2; i++ {
				l, err := r.ReadString('\n')
				if err != nil {
					t.Fatalf("read hit %d: %v", i, err)
				}
				session.WriteString(l)
			}
			if code := p.signal(t, sig); code != 0 {
				t.Fatalf("exit status %d after %v, want 0\n%s", code, sig, p.stderr)
			}
			rest, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			session.Write(rest)
			if string(rest) != "</hits>\n" {
				t.Fatalf("after %v the stream ended with %q, want </hits>", sig, rest)
			}
			if !strings.Contains(p.stderr.String(), "weblogd shut down") {
				t.Fatalf("no shutdown log line:\n%s", p.stderr)
			}
			lint(t, session.String())
		})
	}
}

// lint checks doc with libxml2's xmllint, a parser that is not ours, in a
// subtest of its own: without xmllint only that subtest is skipped.
func lint(t *testing.T, doc string) {
	t.Helper()
	t.Run("xmllint", func(t *testing.T) {
		cmd := exec.Command(tool(t, "xmllint", "libxml2-utils"), "--noout", "-")
		cmd.Stdin = strings.NewReader(doc)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("xmllint --noout: %v\n%s\n%s", err, out, doc)
		}
	})
}

func TestEnvironmentConfigures(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	p := start(t, []string{"WEBLOGD_LOG=" + a + "," + b, "WEBLOGD_HTTP=127.0.0.1:0", "WEBLOGD_TCP=127.0.0.1:0", "WEBLOGD_TICK=0"})
	c, err := net.Dial("tcp", p.tcp)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(waitFor))
	r.ReadString('\n')
	appendLines(t, b, "into b")
	l, err := r.ReadString('\n')
	if err != nil || !strings.Contains(l, `source="b.log"`) {
		t.Fatalf("hit %q (%v), want one from b.log", l, err)
	}
	if code := p.signal(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

// The security flags from the environment: a token file and redaction
// (a comma list with a params list inside it), seen by a raw client.
func TestEnvironmentConfiguresAuthAndRedaction(t *testing.T) {
	dir := t.TempDir()
	log, tokens := filepath.Join(dir, "access.log"), filepath.Join(dir, "tokens")
	const tok = "env-token-0123456789abcdef"
	if err := os.WriteFile(tokens, []byte(tok+" name=env\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := start(t, []string{"WEBLOGD_LOG=" + log, "WEBLOGD_HTTP=127.0.0.1:0", "WEBLOGD_TCP=127.0.0.1:0", "WEBLOGD_TICK=0",
		"WEBLOGD_TOKEN_FILE=" + tokens, "WEBLOGD_REDACT=host,params=sig,token,user"})
	dial := func(first string) *bufio.Reader {
		c, err := net.Dial("tcp", p.tcp)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetReadDeadline(time.Now().Add(waitFor))
		c.Write([]byte(first + "\n"))
		return bufio.NewReader(c)
	}
	if l, _ := dial("AUTH wrong-token-0123456789").ReadString('\n'); l != `<error reason="unauthorized"/>`+"\n" {
		t.Fatalf("a wrong token: %q", l)
	}
	r := dial("AUTH " + tok)
	if l, err := r.ReadString('\n'); err != nil || l != "<hits>\n" {
		t.Fatalf("the right token: %q, %v", l, err)
	}
	appendLines(t, log, `203.0.113.9 - frank [21/Nov/2026:10:00:00 +0100] "GET /a?sig=s1&token=t1&x=1 HTTP/1.1" 200 1 "-" "a"`)
	l, err := r.ReadString('\n')
	if err != nil || !strings.Contains(l, `host="203.0.113.0"`) || !strings.Contains(l, `user="-"`) ||
		!strings.Contains(l, "sig=redacted&amp;token=redacted&amp;x=1") {
		t.Fatalf("hit %q (%v), want the address, user and parameters masked", l, err)
	}
	if code := p.signal(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

func TestPortInUseExits1(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cmd := exec.Command(binary, "--log", filepath.Join(t.TempDir(), "x.log"), "--http", l.Addr().String(), "--tcp", "127.0.0.1:0")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("exit %v, want 1\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("listen for http")) {
		t.Fatalf("output does not say why:\n%s", out)
	}
}

func TestDemoWritesTraffic(t *testing.T) {
	log := filepath.Join(t.TempDir(), "demo.log")
	p := start(t, nil, "--demo", "--demo-rate", "50", "--log", log, "--http", "127.0.0.1:0", "--tcp", "127.0.0.1:0")
	c, err := net.Dial("tcp", p.tcp)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(waitFor))
	r.ReadString('\n')
	l, err := r.ReadString('\n')
	if err != nil || !strings.Contains(l, `status="`) || strings.Contains(l, "raw=") {
		t.Fatalf("demo hit %q (%v), want a parsed record", l, err)
	}
	if code := p.signal(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d", code)
	}
}
