package feed_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weblogd/weblogd/certs/certstest"
	"github.com/weblogd/weblogd/feed"
)

// session is a raw client's output as it arrives, as `nc host 8888 >
// saved.xml` saves it.
type session struct {
	mu  sync.Mutex
	b   bytes.Buffer
	end chan struct{} // closed when the client has read the end of the stream
}

func (s *session) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *session) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var seqAttr = regexp.MustCompile(`<hit seq="(\d+)"`)

// seqs returns the seqs of the whole hits received so far.
func (s *session) seqs() []uint64 {
	text := s.String()
	text = text[:strings.LastIndexByte(text, '\n')+1]
	var out []uint64
	for _, m := range seqAttr.FindAllStringSubmatch(text, -1) {
		n, _ := strconv.ParseUint(m[1], 10, 64)
		out = append(out, n)
	}
	return out
}

// halfCloser starts a raw client that sends input, then closes its side
// for writing, and saves what it reads until the server closes.
type halfCloser func(t *testing.T, addr, input string) *session

// goClient is a Go client that half-closes with CloseWrite, over plain
// TCP or TLS.
func goClient(dial func(addr string) (net.Conn, error)) halfCloser {
	return func(t *testing.T, addr, input string) *session {
		t.Helper()
		c, err := dial(addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if input != "" {
			if _, err := io.WriteString(c, input); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
			t.Fatalf("CloseWrite()=%v", err)
		}
		s := &session{end: make(chan struct{})}
		go func() {
			defer close(s.end)
			c.SetReadDeadline(time.Now().Add(time.Minute))
			io.Copy(s, c)
		}()
		return s
	}
}

// ncClient runs the nc binary at path: its standard input is input
// (/dev/null when empty), its standard output the session.
func ncClient(path string, args ...string) halfCloser {
	return func(t *testing.T, addr, input string) *session {
		t.Helper()
		host, port, _ := net.SplitHostPort(addr)
		cmd := exec.Command(path, append(args, host, port)...)
		if input != "" {
			cmd.Stdin = strings.NewReader(input)
		}
		s := &session{end: make(chan struct{})}
		var stderr strings.Builder
		cmd.Stdout, cmd.Stderr = s, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() {
			defer close(s.end)
			if err := cmd.Wait(); err != nil {
				t.Logf("%s: %v\n%s", path, err, stderr.String())
			}
		}()
		t.Cleanup(func() {
			cmd.Process.Kill()
			<-s.end
		})
		return s
	}
}

// ncClients are the nc binaries installed: CI has ncat (Debian's ncat,
// which is also its nc), a desktop often OpenBSD's netcat, which
// half-closes only with -N.
func ncClients(t *testing.T) map[string]halfCloser {
	out := map[string]halfCloser{}
	if path, err := exec.LookPath("ncat"); err == nil {
		out["ncat"] = ncClient(path)
	}
	if path, err := exec.LookPath("nc"); err == nil {
		real, _ := filepath.EvalSymlinks(path)
		help, _ := exec.Command(path, "-h").CombinedOutput()
		switch {
		case filepath.Base(real) == "ncat":
		case bytes.Contains(help, []byte("OpenBSD netcat")):
			out["nc -N"] = ncClient(path, "-N")
		default:
			out["nc"] = ncClient(path)
		}
	}
	if len(out) == 0 {
		// The Go clients still run; the skip says what was left out.
		t.Run("nc", func(t *testing.T) { missing(t, "nc", "ncat") })
	}
	return out
}

// statusFunc returns a function that GETs /api/status of srv, over TLS
// when it serves TLS.
func statusFunc(t *testing.T, srv *feed.Server, tlsOn bool, pool *x509.CertPool) func() statusDoc {
	if !tlsOn {
		return func() statusDoc { return getStatus(t, srv) }
	}
	tc := newTLSClients(t, pool)
	return func() statusDoc { return tc.status(t, srv) }
}

// A raw client that stops sending (it closed its side for writing, as nc
// does when its standard input ends) still gets the stream: the backlog
// it asked for, every new record, and "</hits>" at shutdown, so that its
// saved session is a well-formed XML document. Whether it sent nothing
// (`nc host 8888 < /dev/null > saved.xml`) or a command first (`echo
// "SINCE 40" | nc host 8888`), over plain TCP or TLS (both waiting in the
// poller).
func TestRawHalfClosedClientGetsTheStream(t *testing.T) {
	cert := certstest.Write(t, t.TempDir(), "weblogd")
	type client struct {
		name  string
		start halfCloser
		tls   bool
	}
	clients := []client{
		{"go", goClient(func(addr string) (net.Conn, error) { return net.Dial("tcp", addr) }), false},
		{"go over TLS", goClient(func(addr string) (net.Conn, error) { return dialTLS(addr, cert.Pool, nil) }), true},
	}
	for name, c := range ncClients(t) {
		clients = append(clients, client{name, c, false})
	}
	const history = 45
	for _, cl := range clients {
		for _, input := range []string{"", "SINCE 40\n"} {
			t.Run(fmt.Sprintf("%s/%q", cl.name, input), func(t *testing.T) {
				lines := make([]string, history)
				for i := range lines {
					lines[i] = accessLine("203.0.113.9", "GET", fmt.Sprintf("/old/%d", i+1), 200, "history")
				}
				log := tempLog(t, lines...)
				c := feed.Config{Logs: []string{log}, HTTPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0"}
				if cl.tls {
					c.TLSCertFile, c.TLSKeyFile = cert.CertFile, cert.KeyFile
				}
				srv, stop := stopServerFunc(t, c)
				status := statusFunc(t, srv, cl.tls, cert.Pool)
				s := cl.start(t, srv.TCPAddr().String(), input)
				var want []uint64
				if input != "" {
					want = seqRange(41, history)
				}
				waitUntil(t, func() bool {
					return strings.HasPrefix(s.String(), "<hits>\n") && len(s.seqs()) == len(want)
				})
				waitUntil(t, func() bool { return status().Subscribers["tcp"] == 1 })
				for i := range 3 {
					writeLines(t, log, accessLine("203.0.113.9", "GET", fmt.Sprintf("/new/%d", i), 200, "live"))
					want = append(want, history+uint64(i)+1)
					waitUntil(t, func() bool { return len(s.seqs()) == len(want) })
				}
				if got := s.seqs(); fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("received %v, want %v", got, want)
				}
				if err := stop(); err != nil {
					t.Fatalf("Run()=%v", err)
				}
				select {
				case <-s.end:
				case <-time.After(waitFor):
					t.Fatalf("the stream did not end at shutdown; so far:\n%s", s)
				}
				doc := []byte(s.String())
				if !bytes.HasSuffix(doc, []byte("</hits>\n")) {
					t.Fatalf("session does not end with </hits>: ...%q", doc[max(0, len(doc)-80):])
				}
				d := xml.NewDecoder(bytes.NewReader(doc))
				for {
					_, err := d.Token()
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						t.Fatalf("session is not well-formed XML: %v\n%s", err, doc)
					}
				}
				xmllint(t, doc)
				if got := s.seqs(); fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("session holds %v, want %v", got, want)
				}
			})
		}
	}
}

// A half-closed client that then goes away for good is found out by the
// writes to it: the server lets it go as soon as records are written,
// whether its connection waits in the poller or is read by a goroutine of
// its own (TLS).
func TestRawHalfClosedClientThatGoesIsDropped(t *testing.T) {
	cert := certstest.Write(t, t.TempDir(), "weblogd")
	for _, tlsOn := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", tlsOn), func(t *testing.T) {
			log := tempLog(t)
			c := feed.Config{Logs: []string{log}}
			if tlsOn {
				c.TLSCertFile, c.TLSKeyFile = cert.CertFile, cert.KeyFile
			}
			srv := startServer(t, c)
			status := statusFunc(t, srv, tlsOn, cert.Pool)
			var rc *rawClient
			if tlsOn {
				rc = dialRawTLS(t, srv, cert.Pool)
				if err := rc.c.(*tls.Conn).CloseWrite(); err != nil {
					t.Fatal(err)
				}
			} else {
				rc = dialRaw(t, srv)
				if err := rc.c.(*net.TCPConn).CloseWrite(); err != nil {
					t.Fatal(err)
				}
			}
			writeLines(t, log, combined)
			l := rc.line(t)
			if l == "" { // what the server writes to learn whether the client is still there
				l = rc.line(t)
			}
			if h := decodeHit(t, l); h.Seq != 1 {
				t.Fatalf("hit %+v, want seq 1", h)
			}
			waitUntil(t, func() bool { return status().Subscribers["tcp"] == 1 })
			rc.c.Close()
			// Each record written to the closed client brings back a reset,
			// and a write after that fails.
			waitUntil(t, func() bool {
				writeLines(t, log, combined)
				time.Sleep(20 * time.Millisecond)
				return status().Subscribers["tcp"] == 0
			})
		})
	}
}

// A half-closed client that stops reading too is cut by the write
// deadline, as any client that stops reading.
func TestRawHalfClosedClientThatStopsReadingIsCut(t *testing.T) {
	log := tempLog(t)
	srv := startServer(t, feed.Config{Logs: []string{log}, WriteTimeout: time.Second, SlowTimeout: -1})
	rc := dialRaw(t, srv)
	if err := rc.c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	waitSubscribers(t, srv, map[string]int64{"tcp": 1})
	cut := func() bool {
		mfs, _ := scrape(t, srv)
		v, _ := value(mfs, "weblogd_disconnects_total", "transport", "tcp", "reason", "write_timeout")
		return v == 1
	}
	const size = 8 << 10
	writeBurst(t, srv, log, burstBytes/size, size, cut)
	waitSubscribers(t, srv, map[string]int64{"tcp": 0})
}

// A client that closes its connection sends the same end of input as one
// that only stops sending: the server tells them apart at once, without
// waiting for a record to write, since the client that has gone answers
// the server's next write (a newline) with a reset.
func TestRawClosedClientIsLetGoWithoutRecords(t *testing.T) {
	cert := certstest.Write(t, t.TempDir(), "weblogd")
	for _, tlsOn := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", tlsOn), func(t *testing.T) {
			c := feed.Config{Logs: []string{tempLog(t)}}
			if tlsOn {
				c.TLSCertFile, c.TLSKeyFile = cert.CertFile, cert.KeyFile
			}
			srv := startServer(t, c)
			status := statusFunc(t, srv, tlsOn, cert.Pool)
			for range 5 {
				var rc *rawClient
				if tlsOn {
					rc = dialRawTLS(t, srv, cert.Pool)
				} else {
					rc = dialRaw(t, srv)
				}
				waitUntil(t, func() bool { return status().Subscribers["tcp"] == 1 })
				rc.c.Close()
				waitUntil(t, func() bool { return status().Subscribers["tcp"] == 0 })
			}
		})
	}
}
