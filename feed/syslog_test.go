package feed_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weblogd/weblogd/feed"
	"github.com/weblogd/weblogd/record"
)

// syslogLine is an access line as nginx writes it; %s is the path.
const syslogLine = `203.0.113.9 - frank [07/Dec/2026:10:00:00 +0000] "GET %s HTTP/1.1" 200 2326 "http://example.com/" "curl/8.5.0"`

// TestSyslogLogger: util-linux logger sends real access lines over UDP,
// TCP (newline framing and octet counting) and a unix datagram socket, in
// RFC 3164 and RFC 5424. Each is a record whose source is HOSTNAME/TAG
// from the header and whose line is the message, parsed.
func TestSyslogLogger(t *testing.T) {
	bin := tool(t, "logger", "bsdutils")
	sock := filepath.Join(t.TempDir(), "syslog.sock")
	srv := startServer(t, feed.Config{Syslog: []string{"udp://127.0.0.1:0", "tcp://127.0.0.1:0", "unix://" + sock}, Backfill: -1})
	addrs := srv.SyslogAddrs()
	udpPort := fmt.Sprint(addrs[0].(*net.UDPAddr).Port)
	tcpPort := fmt.Sprint(addrs[1].(*net.TCPAddr).Port)
	c := collect(t, srv, 0)

	cases := []struct {
		name string
		args []string
	}{
		{"udp-3164", []string{"--server", "127.0.0.1", "--port", udpPort, "--udp", "--rfc3164"}},
		{"udp-5424", []string{"--server", "127.0.0.1", "--port", udpPort, "--udp", "--rfc5424"}},
		{"tcp-3164", []string{"--server", "127.0.0.1", "--port", tcpPort, "--tcp", "--rfc3164"}},
		{"tcp-5424-octet", []string{"--server", "127.0.0.1", "--port", tcpPort, "--tcp", "--octet-count", "--rfc5424"}},
		{"tcp-3164-octet", []string{"--server", "127.0.0.1", "--port", tcpPort, "--tcp", "--octet-count", "--rfc3164"}},
		{"unix-3164", []string{"--socket", sock, "--socket-errors=on", "--rfc3164"}},
		{"unix-5424", []string{"--socket", sock, "--socket-errors=on", "--rfc5424"}},
	}
	host, _ := os.Hostname()
	for i, tc := range cases {
		path := "/" + tc.name
		args := append(tc.args, "-t", "nginx", "--", fmt.Sprintf(syslogLine, path))
		if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s: logger %v: %v: %s", tc.name, args, err, out)
		}
		got := waitRecords(t, c, i+1)
		rec := got[i]
		wantSource := host + "/nginx"
		if rec.Source != wantSource || !rec.Parsed || rec.Path != path || rec.User != "frank" || rec.Status != 200 || rec.Agent != "curl/8.5.0" {
			t.Errorf("%s: record source %q parsed %v path %q user %q status %d agent %q; line %q", tc.name, rec.Source, rec.Parsed, rec.Path, rec.User, rec.Status, rec.Agent, rec.Line)
		}
	}

	code, metrics := httpGet(t, "http://"+srv.HTTPAddr().String()+"/metrics")
	for _, want := range []string{`weblogd_syslog_messages_total{listener="udp://127.0.0.1:0"} 2`, `weblogd_syslog_messages_total{listener="tcp://127.0.0.1:0"} 3`,
		`weblogd_syslog_dropped_total{listener="udp://127.0.0.1:0"} 0`, `weblogd_records_ingested_total{source="` + host + `/nginx"}`} {
		if code != 200 || !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestSyslogRawAndLimits: a datagram with no syslog header is still a
// record (raw, source syslog) and counted; one longer than the maximum
// line is cut and counted; a flood of invented host names fills the
// source bound, past which their lines are counted under one overflow
// source while each record keeps its name; TCP connections past the
// maximum are refused, and an idle one is closed.
func TestSyslogRawAndLimits(t *testing.T) {
	srv := startServer(t, feed.Config{Syslog: []string{"udp://127.0.0.1:0", "tcp://127.0.0.1:0"}, Backfill: -1,
		MaxLineBytes: 200, MaxSources: 10, SyslogMaxConns: 2, SyslogIdleTimeout: 300 * time.Millisecond})
	addrs := srv.SyslogAddrs()
	c := collect(t, srv, 0)
	u, err := net.Dial("udp", addrs[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	send := func(msg string) {
		t.Helper()
		if _, err := u.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	send("\x00 not syslog at all")
	send("<190>Dec  7 10:00:00 web1 nginx: " + strings.Repeat("x", 300))
	got := waitRecords(t, c, 2)
	if got[0].Source != "syslog" || got[0].Parsed || got[0].Line != "\x00 not syslog at all" {
		t.Errorf("unreadable datagram: %+v", got[0])
	}
	if got[1].Source != "web1/nginx" || len(got[1].Line) > 200 {
		t.Errorf("long datagram: source %q, line of %d bytes", got[1].Source, len(got[1].Line))
	}
	for i := range 50 {
		send(fmt.Sprintf("<190>Dec  7 10:00:00 invented%d nginx: "+syslogLine, i, "/flood"))
		waitRecords(t, c, 3+i) // one at a time: UDP on loopback may drop a burst
	}
	got = waitRecords(t, c, 52)
	if last := got[51]; last.Source != "invented49/nginx" || !last.Parsed {
		t.Errorf("an overflowed record: %+v", last)
	}
	rows := statusRows(t, srv)
	overflow, streams := uint64(0), 0
	for _, r := range rows {
		if r.Kind == "syslog" {
			streams++
		}
		if r.Name == "(overflow)" {
			overflow = r.Records
		}
	}
	// syslog, web1/nginx and 8 invented names fill the 10; 42 overflow.
	if streams != 11 || overflow != 42 {
		t.Errorf("%d syslog sources, %d records in the overflow; want 11 and 42", streams, overflow)
	}
	code, metrics := httpGet(t, "http://"+srv.HTTPAddr().String()+"/metrics")
	for _, want := range []string{`weblogd_syslog_unreadable_total{listener="udp://127.0.0.1:0"} 1`,
		`weblogd_lines_truncated_total{source="web1/nginx"} 1`, `weblogd_records_ingested_total{source="(overflow)"} 42`} {
		if code != 200 || !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// TCP: two connections are served, the third is closed at once.
	var conns []net.Conn
	for range 2 {
		cn, err := net.Dial("tcp", addrs[1].String())
		if err != nil {
			t.Fatal(err)
		}
		defer cn.Close()
		conns = append(conns, cn)
	}
	conns[0].Write([]byte("<190>Dec  7 10:00:00 web1 nginx: one\n"))
	two := "<190>Dec  7 10:00:00 web1 nginx: two"
	fmt.Fprintf(conns[1], "%d %s", len(two), two)
	got = waitRecords(t, c, 54)
	if got[52].Line+got[53].Line != "onetwo" && got[52].Line+got[53].Line != "twoone" {
		t.Errorf("TCP lines: %q %q", got[52].Line, got[53].Line)
	}
	third, err := net.Dial("tcp", addrs[1].String())
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	third.SetReadDeadline(time.Now().Add(waitFor))
	if _, err := third.Read(make([]byte, 1)); err == nil {
		t.Error("a third connection past the maximum of 2 was not closed")
	}
	// Idle: closed by the server after the idle timeout.
	conns[0].SetReadDeadline(time.Now().Add(waitFor))
	start := time.Now()
	if _, err := conns[0].Read(make([]byte, 1)); err == nil || time.Since(start) > waitFor/2 {
		t.Errorf("an idle connection: %v after %v", err, time.Since(start))
	}
}

// statusRow is a source of /api/status, with the fields of streams.
type statusRow struct {
	Name    string `json:"name"`
	Kind    string `json:"kind"`
	State   string `json:"state"`
	Records uint64 `json:"records"`
}

func statusRows(t *testing.T, srv *feed.Server) []statusRow {
	t.Helper()
	var st struct {
		Sources []statusRow `json:"sources"`
	}
	getJSON(t, "http://"+srv.HTTPAddr().String()+"/api/status", &st)
	return st.Sources
}

// TestSyslogNginx: a real nginx with access_log syslog:server=... serves
// real requests; each request's line arrives by UDP as a record of the
// source HOST/nginx, parsed as Combined.
func TestSyslogNginx(t *testing.T) {
	bin := nginxBinary(t)
	srv := startServer(t, feed.Config{Syslog: []string{"udp://127.0.0.1:0"}, Backfill: -1})
	c := collect(t, srv, 0)
	dir := t.TempDir()
	port := freeLoopbackPort(t)
	conf := fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid "%[1]s/nginx.pid";
error_log "%[1]s/error.log" notice;
events { worker_connections 64; }
http {
    client_body_temp_path "%[1]s/client_body";
    proxy_temp_path "%[1]s/proxy";
    fastcgi_temp_path "%[1]s/fastcgi";
    uwsgi_temp_path "%[1]s/uwsgi";
    scgi_temp_path "%[1]s/scgi";
    access_log syslog:server=%[3]s,tag=nginx combined;
    server {
        listen 127.0.0.1:%[2]d;
        location / { return 200 "hello\n"; }
    }
}
`, dir, port, srv.SyslogAddrs()[0].String())
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, "-p", dir+"/", "-c", confPath, "-e", filepath.Join(dir, "error.log"))
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGQUIT)
		cmd.Wait()
	}()
	client := &http.Client{Timeout: time.Second}
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(waitFor)
	var up bool
	for !up && time.Now().Before(deadline) {
		if resp, err := client.Get(url + "/up"); err == nil {
			resp.Body.Close()
			up = resp.StatusCode == 200
		} else {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if !up {
		b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
		t.Fatalf("nginx did not come up: %s%s", out.String(), b)
	}
	for i := range 5 {
		req, _ := http.NewRequest("GET", fmt.Sprintf("%s/page/%d?q=x", url, i), nil)
		req.Header.Set("User-Agent", "syslog-test/1.0")
		req.Header.Set("Referer", "http://example.com/")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	host, _ := os.Hostname()
	var pages []*record.Record
	waitUntil(t, func() bool {
		pages = nil
		for _, r := range c.records() {
			if strings.HasPrefix(r.Path, "/page/") {
				pages = append(pages, r)
			}
		}
		return len(pages) == 5
	})
	for i, r := range pages {
		if r.Source != host+"/nginx" || !r.Parsed || r.Path != fmt.Sprintf("/page/%d?q=x", i) || r.Status != 200 || r.Agent != "syslog-test/1.0" ||
			r.Referer != "http://example.com/" || r.Host != "127.0.0.1" || r.Method != "GET" {
			t.Errorf("nginx's line %d: source %q %+v", i, r.Source, r)
		}
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	code, body := httpGet(t, url)
	if code != 200 {
		t.Fatalf("GET %s: %d %s", url, code, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("GET %s: %v: %s", url, err, body)
	}
}

// TestSyslogShutdown: shutdown is not held by a TCP sender that is in the
// middle of an octet-counted message, nor by an idle one; the unix socket
// file is removed, and a stale one left behind is replaced at start.
func TestSyslogShutdown(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s.sock")
	stale, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	stale.Close() // the file stays, as after a crash
	srv, stop := stopServerFunc(t, feed.Config{Syslog: []string{"tcp://127.0.0.1:0", "unix://" + sock}, HTTPAddr: "127.0.0.1:0", TCPAddr: feed.NoListen})
	for _, msg := range []string{"100 <190>Dec  7 10:00:00 web1 nginx: cut", ""} {
		c, err := net.Dial("tcp", srv.SyslogAddrs()[0].String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte(msg))
	}
	time.Sleep(50 * time.Millisecond) // both connections accepted
	start := time.Now()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("shutdown took %v with syslog senders connected", took)
	}
	if _, err := os.Lstat(sock); !os.IsNotExist(err) {
		t.Errorf("the unix socket is still there after shutdown: %v", err)
	}
}

// TestSyslogBeyondLoopbackWarns: a listener open beyond loopback is said
// once at start, as a warning naming it; a loopback one is not.
func TestSyslogBeyondLoopbackWarns(t *testing.T) {
	for _, tc := range []struct {
		url  string
		warn bool
	}{{"udp://0.0.0.0:0", true}, {"tcp://127.0.0.1:0", false}} {
		var logs lockedBuffer
		_, stop := stopServerFunc(t, feed.Config{Syslog: []string{tc.url}, HTTPAddr: "127.0.0.1:0", TCPAddr: feed.NoListen,
			Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		stop()
		n := strings.Count(logs.String(), "syslog has no authentication")
		if tc.warn && (n != 1 || !strings.Contains(logs.String(), "level=WARN msg=\"syslog listening beyond loopback")) || !tc.warn && n != 0 {
			t.Errorf("%s: %d warnings in:\n%s", tc.url, n, logs.String())
		}
	}
}

// TestSyslogLocalSocket: the C library's syslog(3) writes to a local
// socket without a host name ("<13>Dec  7 10:00:00 nginx[42]: ..."): the
// source is the tag alone.
func TestSyslogLocalSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "log")
	srv := startServer(t, feed.Config{Syslog: []string{"unix://" + sock}, Backfill: -1})
	c := collect(t, srv, 0)
	conn, err := net.Dial("unixgram", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "<13>%s nginx[42]: "+syslogLine, time.Now().Format(time.Stamp), "/local")
	rec := waitRecords(t, c, 1)[0]
	if rec.Source != "nginx" || !rec.Parsed || rec.Path != "/local" {
		t.Fatalf("record source %q parsed %v path %q", rec.Source, rec.Parsed, rec.Path)
	}
}
