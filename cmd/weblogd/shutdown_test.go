package main_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// stalled opens a connection to addr, sends request (if any) and never
// reads from it.
func stalled(t *testing.T, addr, request string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Write([]byte(request)); err != nil {
		t.Fatal(err)
	}
}

// subscribers reads /api/status's subscribers per transport.
func subscribers(t *testing.T, p *proc) map[string]int {
	t.Helper()
	resp, err := http.Get("http://" + p.http + "/api/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct{ Subscribers map[string]int }
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st.Subscribers
}

// SIGTERM with a stalled client of every transport, at the default write
// timeout (10 s, longer than this shutdown timeout): weblogd drains what
// it read to the healthy client, ends its stream, saves its state, and
// exits 0 within the shutdown timeout.
func TestSigtermWithStalledClients(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "access.log")
	state := filepath.Join(dir, "state.json")
	appendLines(t, log, "history")
	p := start(t, nil, "--log", log, "--state", state, "--http", "127.0.0.1:0", "--tcp", "127.0.0.1:0",
		"--shutdown-timeout", "2s", "--tick", "5ms", "--slow-timeout", "0")

	// A healthy raw client, reading to the end.
	c, err := net.Dial("tcp", p.tcp)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var got atomic.Int64
	ended := make(chan string, 1)
	go func() {
		r := bufio.NewReaderSize(c, 64<<10)
		c.SetReadDeadline(time.Now().Add(4 * waitFor))
		var last string
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				ended <- fmt.Sprintf("%s then %v", last, err)
				return
			}
			if want := fmt.Sprintf(`<hit seq="%d" `, got.Load()+2); strings.HasPrefix(l, "<hit ") && !strings.HasPrefix(l, want) {
				ended <- fmt.Sprintf("%q, want %s...", l[:40], want)
				return
			}
			if strings.HasPrefix(l, "<hit ") {
				got.Add(1)
			}
			last = l
		}
	}()

	ws := "GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	stalled(t, p.tcp, "")
	stalled(t, p.http, "GET /hits HTTP/1.1\r\nHost: localhost\r\n\r\n")
	stalled(t, p.http, "GET /events HTTP/1.1\r\nHost: localhost\r\n\r\n")
	stalled(t, p.http, ws)
	deadline := time.Now().Add(waitFor)
	for s := subscribers(t, p); s["tcp"] != 2 || s["hits"] != 1 || s["events"] != 1 || s["ws"] != 1; s = subscribers(t, p) {
		if time.Now().After(deadline) {
			t.Fatalf("subscribers %v, want the stalled ones and the healthy one", s)
		}
		time.Sleep(10 * time.Millisecond)
	}

	// 8 MB, 64 KiB at a time as the healthy client takes it: more than the
	// stalled clients' socket buffers hold, so their writers are blocked.
	const n, size = 1024, 8 << 10
	line := strings.Repeat("w", size)
	for i := 0; i < n; i += 8 {
		appendLines(t, log, line, line, line, line, line, line, line, line)
		deadline := time.Now().Add(waitFor)
		for got.Load() < int64(i+8) {
			if time.Now().After(deadline) {
				t.Fatalf("the healthy client has %d records of %d", got.Load(), i+8)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}

	signalled := time.Now()
	code := p.signal(t, syscall.SIGTERM)
	took := time.Since(signalled)
	if code != 0 {
		t.Fatalf("exit status %d, want 0\n%s", code, p.stderr)
	}
	t.Logf("exited %v after SIGTERM", took.Round(time.Millisecond))
	if took > 2*time.Second {
		t.Fatalf("exited %v after SIGTERM, want within the 2s shutdown timeout", took)
	}
	select {
	case end := <-ended:
		if got.Load() != n || !strings.HasPrefix(end, "</hits>\n then EOF") {
			t.Fatalf("healthy client: %d records, then %q; want %d, then </hits> and EOF", got.Load(), end, n)
		}
	case <-time.After(waitFor):
		t.Fatal("the healthy stream did not end")
	}
	fi, err := os.Stat(state)
	if err != nil {
		t.Fatalf("no checkpoint after SIGTERM: %v", err)
	}
	b, _ := os.ReadFile(state)
	if !json.Valid(b) || fi.ModTime().Before(signalled.Add(-time.Second)) {
		t.Fatalf("checkpoint written %v (signal at %v), valid JSON %v", fi.ModTime(), signalled, json.Valid(b))
	}
}
