package feed_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/weblogd/weblogd/feed"
)

// soakEnv turns the soak test on: WEBLOGD_SOAK=2m go test -run Soak ./feed/
// It is off by default because it runs for minutes; it is bounded by the
// duration given and stops by itself.
const soakEnv = "WEBLOGD_SOAK"

var (
	soakMark = regexp.MustCompile(`/soak/(\d+)`)
	soakGap  = regexp.MustCompile(`<gap |"type":"gap"`)
)

// soakClient reads one stream and keeps the numbers of the soak lines it
// got, in order, and whether it ever saw a gap (then it did not keep up).
type soakClient struct {
	name string
	mu   sync.Mutex
	got  []int
	gaps int
	err  error
}

func (c *soakClient) scan(text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if soakGap.MatchString(text) {
		c.gaps++
	}
	for _, m := range soakMark.FindAllStringSubmatch(text, -1) {
		n, _ := strconv.Atoi(m[1])
		c.got = append(c.got, n)
	}
}

func (c *soakClient) readLines(r io.Reader) {
	br := bufio.NewReaderSize(r, 1<<16)
	for {
		l, err := br.ReadString('\n')
		c.scan(l)
		if err != nil {
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			return
		}
	}
}

// TestSoakRotation writes steadily to a log that is rotated by rename every
// few seconds, nginx-style (the writer keeps writing to the renamed file for
// a moment before it reopens the path), with a subscriber of every transport
// connected, and checks that every subscriber that kept up got every line
// exactly once, in order.
func TestSoakRotation(t *testing.T) {
	v := os.Getenv(soakEnv)
	if v == "" {
		t.Skipf("set %s=2m (a duration) to run the soak test", soakEnv)
	}
	dur, err := time.ParseDuration(v)
	if err != nil || dur <= 0 || dur > time.Hour {
		t.Fatalf("%s=%q: want a duration up to 1h", soakEnv, v)
	}
	const (
		rate        = 500 // lines per second
		rotateEvery = 3 * time.Second
		nginxLag    = 200 * time.Millisecond // writes to the renamed file before reopening
	)
	dir := t.TempDir()
	log := filepath.Join(dir, "access.log")
	writeLines(t, log)
	srv := startServer(t, feed.Config{Logs: []string{log}, Backfill: -1})

	ctx, cancel := context.WithTimeout(context.Background(), dur+time.Minute)
	defer cancel()
	var clients []*soakClient
	var wg sync.WaitGroup
	start := func(name string, read func(c *soakClient) error) {
		c := &soakClient{name: name}
		clients = append(clients, c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := read(c); err != nil {
				c.mu.Lock()
				c.err = err
				c.mu.Unlock()
			}
		}()
	}
	ready := make(chan struct{}, 8)
	httpGetStream := func(path string) func(c *soakClient) error {
		return func(c *soakClient) error {
			req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+srv.HTTPAddr().String()+path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			ready <- struct{}{}
			c.readLines(resp.Body)
			return nil
		}
	}
	start("tcp", func(c *soakClient) error {
		conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", srv.TCPAddr().String())
		if err != nil {
			return err
		}
		defer conn.Close()
		context.AfterFunc(ctx, func() { conn.Close() })
		br := bufio.NewReader(conn)
		if _, err := br.ReadString('\n'); err != nil { // <hits>: subscribed
			return err
		}
		ready <- struct{}{}
		c.readLines(br)
		return nil
	})
	start("hits", httpGetStream("/hits"))
	start("ndjson", httpGetStream("/hits?format=ndjson"))
	start("events", httpGetStream("/events"))
	start("ws", func(c *soakClient) error {
		conn, _, err := websocket.DefaultDialer.DialContext(ctx, "ws://"+srv.HTTPAddr().String()+"/ws", nil)
		if err != nil {
			return err
		}
		defer conn.Close()
		context.AfterFunc(ctx, func() { conn.Close() })
		ready <- struct{}{}
		for {
			_, msg, err := conn.ReadMessage()
			if err != nil {
				return nil
			}
			c.scan(string(msg))
		}
	})
	for range clients {
		select {
		case <-ready:
		case <-time.After(waitFor):
			t.Fatal("a soak client did not connect")
		}
	}
	// Subscriptions exist once the stream's first bytes arrived, except for
	// the HTTP ones, whose headers are flushed just after subscribing.
	waitUntil(t, func() bool { return subscribersTotal(t, srv) >= len(clients) })

	f, err := os.OpenFile(log, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	n, rotations := 0, 0
	tick := time.NewTicker(time.Second / rate)
	defer tick.Stop()
	end := time.Now().Add(dur)
	nextRotate := time.Now().Add(rotateEvery)
	var reopenAt time.Time
	for time.Now().Before(end) {
		<-tick.C
		n++
		fmt.Fprintf(f, `192.0.2.1 - - [21/Nov/2026:10:00:00 +0000] "GET /soak/%d HTTP/1.1" 200 1 "-" "soak"`+"\n", n)
		now := time.Now()
		if !reopenAt.IsZero() && now.After(reopenAt) {
			f.Close()
			if f, err = os.OpenFile(log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err != nil {
				t.Fatal(err)
			}
			reopenAt = time.Time{}
		}
		if reopenAt.IsZero() && now.After(nextRotate) {
			if err := os.Rename(log, log+".1"); err != nil {
				t.Fatal(err)
			}
			rotations++
			reopenAt, nextRotate = now.Add(nginxLag), now.Add(rotateEvery)
		}
	}
	f.Close()
	t.Logf("wrote %d lines through %d rotations in %v", n, rotations, dur)

	deadline := time.Now().Add(30 * time.Second)
	for _, c := range clients {
		for {
			c.mu.Lock()
			done := len(c.got) > 0 && c.got[len(c.got)-1] == n || c.err != nil
			c.mu.Unlock()
			if done || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	cancel()
	wg.Wait()
	for _, c := range clients {
		missing, dups, disorder := 0, 0, 0
		seen := make(map[int]int, n)
		for i, v := range c.got {
			seen[v]++
			if i > 0 && v <= c.got[i-1] {
				disorder++
			}
		}
		for i := 1; i <= n; i++ {
			switch seen[i] {
			case 0:
				missing++
			case 1:
			default:
				dups += seen[i] - 1
			}
		}
		t.Logf("%-7s got %d lines: %d missing, %d duplicated, %d out of order, %d gaps", c.name, len(c.got), missing, dups, disorder, c.gaps)
		if c.gaps > 0 {
			t.Logf("%s fell behind (gaps): not held to exactly-once", c.name)
			continue
		}
		if missing+dups+disorder > 0 {
			t.Errorf("%s: %d missing, %d duplicated, %d out of order of %d lines", c.name, missing, dups, disorder, n)
		}
	}
}

// subscribersTotal reads the subscriber count from /api/status.
func subscribersTotal(t *testing.T, srv *feed.Server) int {
	t.Helper()
	_, body := httpGet(t, "http://"+srv.HTTPAddr().String()+"/api/status")
	m := regexp.MustCompile(`"subscribers": (\d+)\s*\n\s*}`).FindStringSubmatch(body)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}
