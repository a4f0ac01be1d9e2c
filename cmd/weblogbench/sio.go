package main

// A minimal socket.io client over the engine.io WebSocket transport, enough
// to subscribe to frontail: the open packet, the namespace connect, pings
// answered (or sent, for engine.io 3), and "line" events decoded.
//
// Engine.io packets are one WebSocket text message each: a type digit
// (0 open, 1 close, 2 ping, 3 pong, 4 message, 5 upgrade, 6 noop) and data.
// A message packet carries a socket.io packet: a type digit (0 connect,
// 1 disconnect, 2 event, 3 ack, 4 error, 5 binary event, 6 binary ack), for
// binary types an attachment count and '-', the namespace and ',' unless it
// is "/", an ack id, and a JSON payload:
//
//	42/ns,["line","203.0.113.9 - - [...] \"GET /bench/7/1763712000000000000 HTTP/1.1\" ..."]
//
// With engine.io 3 (socket.io 2, which frontail 4.9 uses) the client sends
// pings and the server answers pongs; with engine.io 4 (socket.io 3 and
// later) the server pings and the client answers. Either way this client
// answers a ping with a pong, and with engine.io 3 it pings as well.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// sioConfig says how socket.io subscribers connect.
type sioConfig struct {
	eio       int    // engine.io protocol version, 3 or 4
	namespace string // "/" or "/name"; "" finds it in the server's page
}

// sioConn is a connected socket.io subscription.
type sioConn struct {
	c            *websocket.Conn
	nsp          []byte // the namespace as packets name it: "" for "/"
	eio          int
	pingInterval time.Duration

	mu       sync.Mutex // one writer at a time: the reader's pongs, the pinger's pings
	lastPing time.Time
}

func (sc *sioConn) send(msg string) error {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return sc.c.WriteMessage(websocket.TextMessage, []byte(msg))
}

// eioPacket splits an engine.io packet into its type and data.
func eioPacket(b []byte) (typ byte, data []byte, ok bool) {
	if len(b) == 0 || b[0] < '0' || b[0] > '6' {
		return 0, nil, false
	}
	return b[0], b[1:], true
}

// sioPacket splits a socket.io packet into its type, namespace ("" for "/")
// and payload (after any attachment count and ack id).
func sioPacket(b []byte) (typ byte, nsp, payload []byte, ok bool) {
	if len(b) == 0 || b[0] < '0' || b[0] > '6' {
		return 0, nil, nil, false
	}
	typ, b = b[0], b[1:]
	if typ == '5' || typ == '6' { // binary: "<attachments>-"
		i := bytes.IndexByte(b, '-')
		if i < 0 {
			return 0, nil, nil, false
		}
		b = b[i+1:]
	}
	if len(b) > 0 && b[0] == '/' {
		i := bytes.IndexByte(b, ',')
		if i < 0 { // "40/ns": the namespace runs to the end
			return typ, b, nil, true
		}
		nsp, b = b[:i], b[i+1:]
	}
	for len(b) > 0 && b[0] >= '0' && b[0] <= '9' { // an ack id
		b = b[1:]
	}
	return typ, nsp, b, true
}

// sioEvent returns the arguments after the event name when payload is the
// event name's event: `["line","..."]` gives `"..."]`.
func sioEvent(payload []byte, name string) ([]byte, bool) {
	if len(payload) < len(name)+4 || payload[0] != '[' || payload[1] != '"' {
		return nil, false
	}
	rest, ok := bytes.CutPrefix(payload[2:], []byte(name))
	if !ok || len(rest) < 2 || rest[0] != '"' {
		return nil, false
	}
	rest = rest[1:]
	switch rest[0] {
	case ',':
		return rest[1:], true
	case ']':
		return nil, true
	}
	return nil, false
}

// sioHandshake reads the open packet, connects to the namespace and waits
// until the server confirms it, so that a subscriber returned is one the
// server broadcasts to.
func sioHandshake(c *websocket.Conn, cfg sioConfig, deadline time.Time) (*sioConn, error) {
	sc := &sioConn{c: c, eio: cfg.eio, pingInterval: 25 * time.Second, lastPing: time.Now()}
	if cfg.namespace != "/" {
		sc.nsp = []byte(cfg.namespace)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer c.SetReadDeadline(deadline)
	_, msg, err := c.ReadMessage()
	if err != nil {
		return nil, fmt.Errorf("open packet: %w", err)
	}
	typ, data, ok := eioPacket(msg)
	if !ok || typ != '0' {
		return nil, fmt.Errorf("want an open packet, got %.80q", msg)
	}
	var open struct {
		PingInterval int `json:"pingInterval"`
	}
	if err := json.Unmarshal(data, &open); err != nil {
		return nil, fmt.Errorf("open packet %.80q: %v", msg, err)
	}
	if open.PingInterval > 0 {
		sc.pingInterval = time.Duration(open.PingInterval) * time.Millisecond
	}
	// Socket.io 2 joins "/" by itself; other namespaces, and every one
	// with socket.io 3 and later, are asked for.
	if len(sc.nsp) > 0 {
		err = sc.send("40" + string(sc.nsp) + ",")
	} else if cfg.eio >= 4 {
		err = sc.send("40")
	}
	if err != nil {
		return nil, fmt.Errorf("connect to namespace %s: %w", cfg.namespace, err)
	}
	for {
		_, msg, err := c.ReadMessage()
		if err != nil {
			return nil, fmt.Errorf("connect to namespace %s: %w", cfg.namespace, err)
		}
		typ, data, ok := eioPacket(msg)
		if !ok {
			return nil, fmt.Errorf("not an engine.io packet: %.80q", msg)
		}
		switch typ {
		case '1':
			return nil, errors.New("the server closed the session")
		case '2':
			if err := sc.send("3" + string(data)); err != nil {
				return nil, err
			}
		case '4':
			st, nsp, payload, ok := sioPacket(data)
			if !ok || !bytes.Equal(nsp, sc.nsp) {
				continue
			}
			switch st {
			case '0':
				return sc, nil
			case '4':
				return nil, fmt.Errorf("namespace %s refused: %.120s", cfg.namespace, payload)
			}
		}
	}
}

// readSocketIO reads engine.io packets until the connection is closed,
// answering pings and accounting for the lines of "line" events; like
// readWS, through one fixed buffer.
func (s *sub) readSocketIO(sc *sioConn, bufSize int) {
	buf := make([]byte, bufSize)
	head := len(sc.nsp) + 64 // room for the packet's head: 42/ns,["line",
	for {
		_, r, err := sc.c.NextReader()
		if err != nil {
			s.err = err
			return
		}
		n, done, err := readHead(r, buf, head)
		now := time.Now().UnixNano()
		if err != nil {
			s.err = err
			return
		}
		typ, data, ok := eioPacket(buf[:n])
		if !ok {
			continue // the rest of the message is dropped by NextReader
		}
		switch typ {
		case '1':
			s.err = errors.New("socket.io: the server closed the session")
			return
		case '2':
			if err := sc.send("3" + string(data)); err != nil {
				s.err = err
				return
			}
		case '4':
			st, nsp, payload, ok := sioPacket(data)
			if !ok || !bytes.Equal(nsp, sc.nsp) {
				continue
			}
			switch st {
			case '1':
				s.err = errors.New("socket.io: the server disconnected the namespace")
				return
			case '2':
				if args, ok := sioEvent(payload, "line"); ok {
					if err := s.scanMessage(r, buf, n-len(args), n, done, now); err != nil {
						s.err = err
						return
					}
				}
			}
		}
	}
}

// sioPinger sends engine.io 3 pings to every subscriber that needs them,
// from one goroutine, until stopped.
func sioPinger(conns []*conn) (stop func()) {
	var scs []*sioConn
	for _, c := range conns {
		if c != nil && c.sio != nil && c.sio.eio < 4 {
			scs = append(scs, c.sio)
		}
	}
	if len(scs) == 0 {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				for _, sc := range scs {
					if now.Sub(sc.lastPing) >= sc.pingInterval/2 {
						sc.lastPing = now
						sc.send("2") // an error shows in the reader
					}
				}
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done); <-finished }) }
}

// nsConnect matches how frontail's page names its namespace:
// io.connect('/<md5 of the file list>', ...).
var nsConnect = regexp.MustCompile(`io\.connect\(\s*['"](/[^'"]*)['"]`)

// discoverNamespace reads the server's page for the namespace its own
// client joins; "/" when it names none.
func discoverNamespace(ctx context.Context, httpAddr string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+httpAddr+"/", nil)
	if err != nil {
		return "", err
	}
	tr := &http.Transport{DialContext: (&net.Dialer{}).DialContext, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return "", fmt.Errorf("find the socket.io namespace: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("find the socket.io namespace: %w", err)
	}
	if m := nsConnect.FindSubmatch(b); m != nil {
		return string(m[1]), nil
	}
	return "/", nil
}
