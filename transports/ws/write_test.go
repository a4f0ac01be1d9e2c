package ws

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/weblogd/weblogd/record"
	"github.com/weblogd/weblogd/transports"
)

// readFrame reads one unmasked frame as a client receives it (RFC 6455,
// 5.2), independently of putHeader.
func readFrame(t *testing.T, r io.Reader) (fin bool, op byte, payload []byte) {
	t.Helper()
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		t.Fatalf("read header: %v", err)
	}
	if h[1]&0x80 != 0 {
		t.Fatal("a server frame is masked")
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		io.ReadFull(r, b[:])
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		io.ReadFull(r, b[:])
		n = binary.BigEndian.Uint64(b[:])
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		t.Fatalf("read %d bytes of payload: %v", n, err)
	}
	return h[0]&0x80 != 0, h[0] & 0x0f, payload
}

// Frames of every length class, written one at a time and several in one
// writev over a real loopback connection, arrive whole and in order.
func TestWireFrames(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	w := &wire{conn: server, dl: (*transports.Drain)(nil).Track(server.SetWriteDeadline), timeout: 5 * time.Second}
	defer w.Close()

	sizes := []int{0, 1, 125, 126, 127, 65535, 65536, 200000}
	var frames [][]byte
	var want [][]byte
	for i, n := range sizes {
		p := bytes.Repeat([]byte{byte('a' + i)}, n)
		want = append(want, p)
		frames = append(frames, appendFrame(nil, websocket.TextMessage, p))
	}
	done := make(chan error, 1)
	go func() {
		for _, f := range frames { // one at a time
			if err := w.write(f); err != nil {
				done <- err
				return
			}
		}
		done <- w.write(frames...) // all in one writev
	}()
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	for round := range 2 {
		for i, p := range want {
			fin, op, got := readFrame(t, client)
			if !fin || op != websocket.TextMessage || !bytes.Equal(got, p) {
				t.Fatalf("round %d frame %d: fin=%v op=%d len=%d, want a final text frame of %d bytes", round, i, fin, op, len(got), len(p))
			}
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("write: %v", err)
	}

	// A control frame, and a records frame with its header in place.
	if err := w.control(websocket.PingMessage, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if _, op, p := readFrame(t, client); op != websocket.PingMessage || string(p) != "hi" {
		t.Fatalf("ping: op=%d payload=%q", op, p)
	}
	recs := []*record.Record{{Seq: 7, Source: "a.log", Line: "x"}}
	go w.write(recordsFrame(recs))
	if _, op, p := readFrame(t, client); op != websocket.TextMessage || !bytes.HasPrefix(p, []byte(`{"type":"hits","hits":[{"seq":7,`)) {
		t.Fatalf("records frame: op=%d payload=%q", op, p)
	}
}
