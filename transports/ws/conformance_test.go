package ws

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// conformanceCase is raw client frames, each written on its own (a frame
// cut into several writes reaches the reader in pieces), and what the
// server must answer: pongs, then a close frame with a code, or (close 0)
// nothing more, shown by the pong to a probe ping sent after the frames.
type conformanceCase struct {
	name   string
	writes [][]byte
	pongs  []string
	close  int
}

// closeFrame is a client's close frame with code and reason.
func closeFrame(code int, reason string) []byte {
	return frame(true, websocket.CloseMessage, append(binary.BigEndian.AppendUint16(nil, uint16(code)), reason...), false)
}

// bytewise cuts b into writes of one byte.
func bytewise(b []byte) [][]byte {
	out := make([][]byte, len(b))
	for i := range b {
		out[i] = b[i : i+1]
	}
	return out
}

// conformanceCases are the cases of RFC 6455, sections 5 to 7, in the
// spirit of the Autobahn test suite's sections 1 to 7 and 9, that apply
// to a server whose clients send it nothing but control frames.
func conformanceCases() []conformanceCase {
	text := func(fin bool, s string) []byte { return frame(fin, websocket.TextMessage, []byte(s), false) }
	cont := func(fin bool, s string) []byte { return frame(fin, 0, []byte(s), false) }
	ping := func(s string) []byte { return frame(true, websocket.PingMessage, []byte(s), false) }
	withBits := func(bits byte, f []byte) []byte { f[0] |= bits; return f }
	const kosme = "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5" // κόσμε
	cases := []conformanceCase{
		// Framing (Autobahn 1, 2, 3, 4).
		{name: "ping with a payload", writes: [][]byte{ping("hello")}, pongs: []string{"hello"}},
		{name: "empty ping", writes: [][]byte{ping("")}, pongs: []string{""}},
		{name: "ping of 125 bytes", writes: [][]byte{ping(strings.Repeat("p", 125))}, pongs: []string{strings.Repeat("p", 125)}},
		{name: "ping of 125 bytes a byte at a time", writes: bytewise(ping(strings.Repeat("q", 125))), pongs: []string{strings.Repeat("q", 125)}},
		{name: "ten pings", writes: bytewise(bytesOf(10, ping("x"))), pongs: strings.Split(strings.Repeat("x", 10), "")},
		{name: "unsolicited pong", writes: [][]byte{frame(true, websocket.PongMessage, nil, false)}},
		{name: "unsolicited pong with a payload", writes: [][]byte{frame(true, websocket.PongMessage, []byte("unasked"), false)}},
		{name: "pong then ping", writes: [][]byte{frame(true, websocket.PongMessage, []byte("a"), false), ping("b")}, pongs: []string{"b"}},
		{name: "unmasked client frame", writes: [][]byte{frame(true, websocket.TextMessage, []byte("x"), true)}, close: 1002},
		{name: "unmasked ping", writes: [][]byte{frame(true, websocket.PingMessage, []byte("x"), true)}, close: 1002},
		{name: "ping of 126 bytes", writes: [][]byte{ping(strings.Repeat("p", 126))}, close: 1002},
		{name: "fragmented ping", writes: [][]byte{frame(false, websocket.PingMessage, []byte("a"), false), cont(true, "b")}, close: 1002},
		{name: "fragmented close", writes: [][]byte{frame(false, websocket.CloseMessage, nil, false)}, close: 1002},
		{name: "RSV1 on text", writes: [][]byte{withBits(0x40, text(true, "x"))}, close: 1002},
		{name: "RSV2 on a ping", writes: [][]byte{withBits(0x20, ping("x"))}, close: 1002},
		{name: "RSV3 after a good ping", writes: [][]byte{ping("ok"), withBits(0x10, text(true, "x"))}, pongs: []string{"ok"}, close: 1002},
		{name: "all RSV bits on binary", writes: [][]byte{withBits(0x70, frame(true, websocket.BinaryMessage, []byte{1}, false))}, close: 1002},
		// Fragmentation (Autobahn 5).
		{name: "continuation with no message", writes: [][]byte{cont(true, "x")}, close: 1002},
		{name: "unfinished continuation with no message", writes: [][]byte{cont(false, "x"), cont(true, "y")}, close: 1002},
		{name: "continuation after a whole message", writes: [][]byte{text(true, "a"), cont(true, "b")}, close: 1002},
		{name: "text inside a fragmented message", writes: [][]byte{text(false, "a"), text(true, "b")}, close: 1002},
		{name: "binary inside a fragmented text", writes: [][]byte{text(false, "a"), frame(true, websocket.BinaryMessage, []byte("b"), false)}, close: 1002},
		{name: "valid fragmented text", writes: [][]byte{text(false, "frag"), cont(false, "men"), cont(true, "ted")}},
		{name: "fragmented text with empty fragments", writes: [][]byte{text(false, ""), cont(false, ""), cont(true, "")}},
		{name: "pings between fragments", writes: [][]byte{text(false, "a"), ping("1"), cont(false, "b"), ping("2"), cont(true, "c")}, pongs: []string{"1", "2"}},
		{name: "fragmented binary", writes: [][]byte{frame(false, websocket.BinaryMessage, []byte{0xff}, false), cont(true, "\xfe")}},
		// UTF-8 (Autobahn 6).
		{name: "valid text", writes: [][]byte{text(true, kosme)}},
		{name: "valid text a byte at a time", writes: bytewise(text(true, kosme))},
		{name: "valid text fragmented inside characters", writes: fragments(kosme)},
		{name: "empty text", writes: [][]byte{text(true, "")}},
		{name: "U+FFFD and the last code point", writes: [][]byte{text(true, "\xef\xbf\xbd\xf4\x8f\xbf\xbf")}},
		{name: "invalid UTF-8 in text", writes: [][]byte{text(true, kosme+"\xed\xa0\x80edited")}, close: 1007},
		{name: "invalid UTF-8 in fragmented text", writes: fragments(kosme + "\xed\xa0\x80edited"), close: 1007},
		{name: "invalid UTF-8 a byte at a time", writes: bytewise(text(true, "ab\xc0\xafcd")), close: 1007},
		{name: "a lone continuation byte", writes: [][]byte{text(true, "\x80")}, close: 1007},
		{name: "beyond U+10FFFF", writes: [][]byte{text(true, "\xf4\x90\x80\x80")}, close: 1007},
		{name: "a text that ends inside a character", writes: [][]byte{text(true, "ok\xce")}, close: 1007},
		{name: "a fragmented text that ends inside a character", writes: [][]byte{text(false, "ok"), cont(false, "\xe1\xbd"), cont(true, "")}, close: 1007},
		{name: "invalid UTF-8 in binary is not checked", writes: [][]byte{frame(true, websocket.BinaryMessage, []byte("\xff\xfe\x80"), false)}},
		// Closing (Autobahn 7).
		{name: "close without a code", writes: [][]byte{frame(true, websocket.CloseMessage, nil, false)}, close: 1000},
		{name: "close with a 1-byte payload", writes: [][]byte{frame(true, websocket.CloseMessage, []byte{0x03}, false)}, close: 1002},
		{name: "close with a reason of 123 bytes", writes: [][]byte{closeFrame(1000, strings.Repeat("r", 123))}, close: 1000},
		{name: "close with a reason of 124 bytes", writes: [][]byte{closeFrame(1000, strings.Repeat("r", 124))}, close: 1002},
		{name: "close with an invalid UTF-8 reason", writes: [][]byte{closeFrame(1000, "bad \xce\xba\xed\xa0\x80")}, close: 1007},
		{name: "close with a UTF-8 reason", writes: [][]byte{closeFrame(1001, kosme)}, close: 1001},
		{name: "close after a fragment", writes: [][]byte{text(false, "a"), closeFrame(1000, "")}, close: 1000},
		// Limits (Autobahn 9, scaled to what a client may send here).
		{name: "message over the limit", writes: [][]byte{text(true, strings.Repeat("x", maxMessageSize+1))}, close: 1009},
		{name: "fragments over the limit", writes: [][]byte{text(false, strings.Repeat("x", maxMessageSize)), cont(true, "x")}, close: 1009},
		{name: "message at the limit", writes: [][]byte{text(true, strings.Repeat("x", maxMessageSize))}},
	}
	for _, op := range []int{3, 4, 5, 6, 7, 11, 12, 13, 14, 15} {
		cases = append(cases, conformanceCase{name: fmt.Sprintf("reserved opcode %d", op),
			writes: [][]byte{frame(true, op, nil, false)}, close: 1002})
	}
	for _, code := range []int{0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535} {
		cases = append(cases, conformanceCase{name: fmt.Sprintf("close code %d", code),
			writes: [][]byte{closeFrame(code, "")}, close: 1002})
	}
	for _, code := range []int{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999} {
		cases = append(cases, conformanceCase{name: fmt.Sprintf("close code %d echoed", code),
			writes: [][]byte{closeFrame(code, "reason")}, close: code})
	}
	return cases
}

func bytesOf(n int, b []byte) []byte {
	var out []byte
	for range n {
		out = append(out, b...)
	}
	return out
}

// fragments sends s as a text message of one frame per byte, each written
// on its own: characters are cut across frames.
func fragments(s string) [][]byte {
	out := [][]byte{frame(len(s) == 1, websocket.TextMessage, []byte(s[:1]), false)}
	for i := 1; i < len(s); i++ {
		out = append(out, frame(i == len(s)-1, 0, []byte(s[i:i+1]), false))
	}
	return out
}

// handshake opens a WebSocket connection to s with raw bytes, as a
// client library would, and returns it with its reader past the 101
// answer.
func handshake(t *testing.T, s *testServer) (net.Conn, *bufio.Reader) {
	t.Helper()
	c := s.dial(t)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", s.addr)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read the handshake's answer: %v", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %s, want 101", resp.Status)
	}
	return c, br
}

// The server's reader against raw client frames over a real connection,
// plain and TLS: each case's pongs, then its close code (or none: the
// connection stays open and answers a probe ping). Over TLS each write is
// a record of its own, so the reader gets frames cut where the records
// are.
func TestConformance(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "tls"}[useTLS], func(t *testing.T) {
			conformance(t, startServer(t, useTLS))
		})
	}
}

func conformance(t *testing.T, s *testServer) {
	for _, c := range conformanceCases() {
		t.Run(c.name, func(t *testing.T) {
			conn, br := handshake(t, s)
			writes := c.writes
			if c.close == 0 {
				writes = append(writes, frame(true, websocket.PingMessage, []byte("probe"), false))
			}
			wrote := make(chan struct{})
			defer func() { conn.Close(); <-wrote }()
			go func() {
				defer close(wrote)
				for _, w := range writes {
					if _, err := conn.Write(w); err != nil {
						return // the server has closed: what it said is checked below
					}
				}
			}()
			var pongs []string
			for {
				_, op, payload := readFrame(t, br)
				switch op {
				case websocket.PongMessage:
					pongs = append(pongs, string(payload))
					if c.close == 0 && string(payload) == "probe" {
						pongs = pongs[:len(pongs)-1]
						if fmt.Sprint(pongs) != fmt.Sprint(c.pongs) {
							t.Fatalf("pongs %q, want %q", pongs, c.pongs)
						}
						return
					}
					continue
				case websocket.CloseMessage:
				default:
					t.Fatalf("frame of opcode %d %q, want a pong or a close", op, payload)
				}
				code := 1005
				if len(payload) >= 2 {
					code = int(binary.BigEndian.Uint16(payload))
				}
				if code != c.close || fmt.Sprint(pongs) != fmt.Sprint(c.pongs) {
					t.Fatalf("pongs %q then close %d (%q), want pongs %q then close %d", pongs, code, payload, c.pongs, c.close)
				}
				// After its close frame the server closes the connection.
				if n, err := br.Read(make([]byte, 1)); err == nil {
					t.Fatalf("read %d bytes after the close frame, want the end of the connection", n)
				}
				return
			}
		})
	}
}
