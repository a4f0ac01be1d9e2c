package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestEIOPacket(t *testing.T) {
	for _, tc := range []struct {
		in   string
		typ  byte
		data string
		ok   bool
	}{
		{`0{"sid":"x","pingInterval":25000}`, '0', `{"sid":"x","pingInterval":25000}`, true},
		{"2", '2', "", true},
		{"3probe", '3', "probe", true},
		{`42/ns,["line","x"]`, '4', `2/ns,["line","x"]`, true},
		{"", 0, "", false},
		{"7", 0, "", false},
		{"x", 0, "", false},
	} {
		typ, data, ok := eioPacket([]byte(tc.in))
		if typ != tc.typ || string(data) != tc.data || ok != tc.ok {
			t.Errorf("eioPacket(%q) = %q, %q, %v; want %q, %q, %v", tc.in, typ, data, ok, tc.typ, tc.data, tc.ok)
		}
	}
}

func TestSIOPacket(t *testing.T) {
	for _, tc := range []struct {
		in           string
		typ          byte
		nsp, payload string
		ok           bool
	}{
		{"0", '0', "", "", true},                                                // connected to "/"
		{"0/afa4,", '0', "/afa4", "", true},                                     // socket.io 2: connected to a namespace
		{"0/afa4", '0', "/afa4", "", true},                                      // without the comma
		{`0/afa4,{"sid":"y"}`, '0', "/afa4", `{"sid":"y"}`, true},               // socket.io 3 and later
		{`2/afa4,["line","a \"b\""]`, '2', "/afa4", `["line","a \"b\""]`, true}, // an event
		{`2["line","x"]`, '2', "", `["line","x"]`, true},                        // an event on "/"
		{`212["ack me"]`, '2', "", `["ack me"]`, true},                          // with an ack id
		{`2/ns,7["e"]`, '2', "/ns", `["e"]`, true},                              // namespace and ack id
		{`51-/ns,["b",{"_placeholder":true,"num":0}]`, '5', "/ns", `["b",{"_placeholder":true,"num":0}]`, true},
		{`4/ns,{"message":"no"}`, '4', "/ns", `{"message":"no"}`, true},
		{"1/ns,", '1', "/ns", "", true},
		{"51", 0, "", "", false}, // binary without its '-'
		{"", 0, "", "", false},
		{"9", 0, "", "", false},
	} {
		typ, nsp, payload, ok := sioPacket([]byte(tc.in))
		if typ != tc.typ || string(nsp) != tc.nsp || string(payload) != tc.payload || ok != tc.ok {
			t.Errorf("sioPacket(%q) = %q, %q, %q, %v; want %q, %q, %q, %v", tc.in, typ, nsp, payload, ok, tc.typ, tc.nsp, tc.payload, tc.ok)
		}
	}
}

func TestSIOEvent(t *testing.T) {
	for _, tc := range []struct {
		in, args string
		ok       bool
	}{
		{`["line","203.0.113.9 - - \"GET /bench/1/2 HTTP/1.1\""]`, `"203.0.113.9 - - \"GET /bench/1/2 HTTP/1.1\""]`, true},
		{`["line"]`, "", true},
		{`["lines","x"]`, "", false},
		{`["options:lines",2000]`, "", false},
		{`{"line":"x"}`, "", false},
		{`[`, "", false},
	} {
		args, ok := sioEvent([]byte(tc.in), "line")
		if string(args) != tc.args || ok != tc.ok {
			t.Errorf("sioEvent(%q) = %q, %v; want %q, %v", tc.in, args, ok, tc.args, tc.ok)
		}
	}
}

func TestDigits(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int64
		rest string
		ok   bool
	}{
		{"0/", 0, "/", true},
		{"42 HTTP", 42, " HTTP", true},
		{"12345678", 12345678, "", true},
		{"123456789/", 123456789, "/", true},
		{"1763712000123456789\"", 1763712000123456789, "\"", true},
		{"17637120001234567891", 1763712000123456789, "1", true}, // at most 19 digits
		{"1234567a9", 1234567, "a9", true},
		{"12345678:0", 12345678, ":0", true},
		{"/", 0, "/", false},
		{"", 0, "", false},
	} {
		n, rest, ok := digits([]byte(tc.in))
		if n != tc.n || string(rest) != tc.rest || ok != tc.ok {
			t.Errorf("digits(%q) = %d, %q, %v; want %d, %q, %v", tc.in, n, rest, ok, tc.n, tc.rest, tc.ok)
		}
	}
}

// TestMarkers checks the marker parsing in each encoding the tool meets,
// and that scanMessage finds every marker whatever the buffer's size, also
// when a marker is cut between two pieces.
func TestMarkers(t *testing.T) {
	// Written 5 ms ago: scanMessage stamps what it reads with the clock.
	now := time.Now().UnixNano()
	stamp := strconv.FormatInt(now-5_000_000, 10)
	line := func(n int) string {
		return `203.0.113.9 - - [21/Nov/2026:10:00:00 +0000] "GET /bench/` + strconv.Itoa(n) + `/` + stamp + ` HTTP/1.1" 200 2326 "https://www.example.com/" "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"`
	}
	var jsonBatch bytes.Buffer
	jsonBatch.WriteString(`{"type":"hits","hits":[`)
	for n := range 5 {
		if n > 0 {
			jsonBatch.WriteByte(',')
		}
		jsonBatch.Write(record(nil, int64(n), now-5_000_000))
	}
	jsonBatch.WriteString("]}")
	for _, tc := range []struct {
		name, in  string
		delivered int64
		warm      bool
	}{
		{"raw line", line(3), 1, false},
		{"xml", `<hit seq="9" source="a.log" method="GET" path="/bench/0/` + stamp + `" proto="HTTP/1.1" status="200"/>` + "\n", 1, false},
		{"sse", "id: 9\nevent: hit\ndata: {\"seq\":9,\"path\":\"/bench/1/" + stamp + "\",\"status\":200}\n\n", 1, false},
		{"json batch", jsonBatch.String(), 5, false},
		{"socket.io args", strconv.Quote(line(2)) + "]", 1, false},
		{"warm-up", `"GET /bench/w/` + stamp + ` HTTP/1.1"`, 0, true},
		{"no numbers", `GET /bench/x/1 /bench/1 /bench/2/ /bench/`, 0, false},
		{"slashes and b's", `/b/bb/ben/bench /bench/4/` + stamp + ` /benc`, 1, false},
	} {
		for _, size := range []int{markerMax + 1, markerMax + 7, 100, 4 << 10} {
			s := newSub(0, "ws", 10, &histogram{})
			buf := make([]byte, size)
			if err := s.scanMessage(strings.NewReader(tc.in), buf, 0, 0, false, now); err != nil {
				t.Fatal(err)
			}
			if s.delivered.Load() != tc.delivered || s.warm.Load() != tc.warm || s.dups != 0 || s.unexpected != 0 {
				t.Errorf("%s through %d bytes: delivered %d, warm %v, dups %d, unexpected %d; want %d, %v, 0, 0",
					tc.name, size, s.delivered.Load(), s.warm.Load(), s.dups, s.unexpected, tc.delivered, tc.warm)
			}
			if tc.delivered > 0 {
				if ps, _ := s.hist.percentiles(1); ps[0] < 5_000_000 || ps[0] > int64(5*time.Millisecond+5*time.Second) {
					t.Errorf("%s through %d bytes: latency %d ns, want 5 ms and the test's own time", tc.name, size, ps[0])
				}
			}
		}
	}
}

// followLog calls send with each whole line appended to path, until ctx
// ends: the tail -F of the in-test servers.
func followLog(ctx context.Context, path string, send func(line []byte)) {
	var off int64
	var partial []byte
	for ctx.Err() == nil {
		f, err := os.Open(path)
		if err == nil {
			f.Seek(off, 0)
			buf := make([]byte, 64<<10)
			for {
				n, _ := f.Read(buf)
				if n == 0 {
					break
				}
				off += int64(n)
				partial = append(partial, buf[:n]...)
				for {
					i := bytes.IndexByte(partial, '\n')
					if i < 0 {
						break
					}
					send(partial[:i])
					partial = partial[i+1:]
				}
			}
			f.Close()
		}
		time.Sleep(time.Millisecond)
	}
}

// peerServer is a tiny in-test server in the manner of websocketd (each
// line a WebSocket text message) or frontail (socket.io 2: engine.io 3,
// a namespace named in its page, each line a "line" event).
type peerServer struct {
	socketIO bool
	mu       sync.Mutex
	clients  map[*websocket.Conn]bool
}

const testNamespace = "/0123456789abcdef"

func (p *peerServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p.socketIO && r.URL.Path == "/" {
		fmt.Fprintf(w, "<script>var socket = new io.connect('%s', { path: '/socket.io' });</script>", testNamespace)
		return
	}
	c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
	if err != nil {
		return
	}
	if p.socketIO {
		if r.URL.Query().Get("EIO") != "3" || r.URL.Path != "/socket.io/" {
			c.Close()
			return
		}
		c.WriteMessage(websocket.TextMessage, []byte(`0{"sid":"abc","upgrades":[],"pingInterval":1000,"pingTimeout":5000}`))
		c.WriteMessage(websocket.TextMessage, []byte(`40`))
		// The namespace join, then pings (answered with pongs) until
		// the client goes away.
		joined := false
		for {
			_, msg, err := c.ReadMessage()
			if err != nil {
				c.Close()
				return
			}
			switch {
			case string(msg) == "40"+testNamespace+",":
				c.WriteMessage(websocket.TextMessage, []byte("40"+testNamespace+","))
				c.WriteMessage(websocket.TextMessage, []byte("42"+testNamespace+`,["options:lines",2000]`))
				if !joined {
					joined = true
					p.add(c)
					go p.drain(c)
					return
				}
			case string(msg) == "2":
				c.WriteMessage(websocket.TextMessage, []byte("3"))
			}
		}
	}
	p.add(c)
	go p.drain(c)
}

func (p *peerServer) add(c *websocket.Conn) {
	p.mu.Lock()
	p.clients[c] = true
	p.mu.Unlock()
}

// drain reads what the client sends (engine.io 3 pings) until it goes.
func (p *peerServer) drain(c *websocket.Conn) {
	defer func() {
		p.mu.Lock()
		delete(p.clients, c)
		p.mu.Unlock()
		c.Close()
	}()
	for {
		_, msg, err := c.ReadMessage()
		if err != nil {
			return
		}
		if p.socketIO && string(msg) == "2" {
			p.mu.Lock()
			c.WriteMessage(websocket.TextMessage, []byte("3"))
			p.mu.Unlock()
		}
	}
}

func (p *peerServer) send(line []byte) {
	msg := line
	if p.socketIO {
		q, _ := json.Marshal(string(line))
		msg = append([]byte("42"+testNamespace+`,["line",`), q...)
		msg = append(msg, ']')
	}
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, msg)
	if err != nil {
		panic(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.clients {
		c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		c.WritePreparedMessage(pm)
	}
}

// TestPeerKinds runs the tool briefly against in-test servers that speak
// like websocketd (ws-lines) and frontail (socketio), with the tool's own
// flags, and checks that every line reached every subscriber once.
func TestPeerKinds(t *testing.T) {
	for _, kind := range []string{"ws-lines", "socketio"} {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			logPath := filepath.Join(dir, "access.log")
			if err := os.WriteFile(logPath, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			ps := &peerServer{socketIO: kind == "socketio", clients: map[*websocket.Conn]bool{}}
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			srv := &http.Server{Handler: ps}
			go srv.Serve(l)
			defer srv.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go followLog(ctx, logPath, ps.send)

			report := filepath.Join(dir, "report.json")
			var stdout, stderr strings.Builder
			code := run([]string{"--target", l.Addr().String(), "--log", logPath, "--target-pid", strconv.Itoa(os.Getpid()),
				"--transport", kind, "--subs", "20", "--rate", "200", "--duration", "1s", "--stalled", "1",
				"--connect-timeout", "10s", "--json", report, "--quiet"}, &stdout, &stderr)
			if code != 0 {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
			}
			t.Logf("\n%s", stdout.String())
			var r result
			b, err := os.ReadFile(report)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &r); err != nil {
				t.Fatal(err)
			}
			if r.LinesWritten != 200 || r.Deliveries != 20*200 || r.SubsComplete != 20 || r.Stalled != 1 {
				t.Errorf("written %d, deliveries %d, complete %d, stalled %d: want 200, 4000, 20, 1",
					r.LinesWritten, r.Deliveries, r.SubsComplete, r.Stalled)
			}
			if r.Lost != 0 || r.Duplicated != 0 || r.Reordered != 0 || r.Gaps != 0 || r.Unexpected != 0 || r.EndedEarly != 0 {
				t.Errorf("lost %d, duplicated %d, reordered %d, gaps %d, unexpected %d, ended early %d: want 0",
					r.Lost, r.Duplicated, r.Reordered, r.Gaps, r.Unexpected, r.EndedEarly)
			}
			if r.Latency.Count != uint64(r.Deliveries) || !(r.Latency.P99Ms > 0) {
				t.Errorf("latency %+v: want a sample per delivery", r.Latency)
			}
		})
	}
}
