package ws

import (
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// sent records the control frames the reader writes.
type sent []string

func (s *sent) control(t int, data []byte) error {
	*s = append(*s, fmt.Sprintf("%d:%q", t, data))
	return nil
}

// frame builds a client frame: masked, as a client must, unless unmasked.
func frame(fin bool, op int, payload []byte, unmasked bool) []byte {
	b0 := byte(op)
	if fin {
		b0 |= 0x80
	}
	out := []byte{b0}
	mask := byte(0x80)
	if unmasked {
		mask = 0
	}
	switch n := len(payload); {
	case n < 126:
		out = append(out, mask|byte(n))
	case n < 1<<16:
		out = append(out, mask|126)
		out = binary.BigEndian.AppendUint16(out, uint16(n))
	default:
		out = append(out, mask|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	if !unmasked {
		out = append(out, key[:]...)
	}
	for i, c := range payload {
		if !unmasked {
			c ^= key[i&3]
		}
		out = append(out, c)
	}
	return out
}

func TestFrames(t *testing.T) {
	closeBody := binary.BigEndian.AppendUint16(nil, websocket.CloseGoingAway)
	cases := []struct {
		name  string
		input [][]byte
		sent  []string // control frames answered
		err   string   // what ends the reader; "" for nothing yet
	}{
		{"ping answered with its payload", [][]byte{frame(true, websocket.PingMessage, []byte("hi"), false)},
			[]string{`10:"hi"`}, ""},
		{"empty ping", [][]byte{frame(true, websocket.PingMessage, nil, false)}, []string{`10:""`}, ""},
		{"pong, then messages discarded", [][]byte{frame(true, websocket.PongMessage, []byte("x"), false),
			frame(true, websocket.TextMessage, []byte("hello"), false),
			frame(false, websocket.BinaryMessage, make([]byte, 300), false), frame(true, 0, make([]byte, 3000), false)},
			nil, ""},
		{"close answered with its code", [][]byte{frame(true, websocket.CloseMessage, append(closeBody, "bye"...), false)},
			[]string{`8:"\x03\xe9"`}, "websocket: close 1001 (going away): bye"},
		{"close without a code", [][]byte{frame(true, websocket.CloseMessage, nil, false)},
			[]string{`8:"\x03\xe8"`}, "websocket: close 1005 (no status)"},
		{"ping between the fragments of a message", [][]byte{frame(false, websocket.TextMessage, []byte("a"), false),
			frame(true, websocket.PingMessage, []byte("p"), false), frame(true, 0, []byte("b"), false)},
			[]string{`10:"p"`}, ""},
		{"unmasked frame", [][]byte{frame(true, websocket.TextMessage, []byte("x"), true)},
			[]string{`8:"\x03\xea"`}, "websocket: protocol error"},
		{"unknown opcode", [][]byte{frame(true, 3, nil, false)}, []string{`8:"\x03\xea"`}, "websocket: protocol error"},
		{"fragmented ping", [][]byte{frame(false, websocket.PingMessage, nil, false)}, []string{`8:"\x03\xea"`}, "websocket: protocol error"},
		{"message over the limit", [][]byte{frame(true, websocket.TextMessage, make([]byte, maxMessageSize+1), false)},
			[]string{`8:"\x03\xf1"`}, websocket.ErrReadLimit.Error()},
		{"text split inside a character across frames and reads", [][]byte{frame(false, websocket.TextMessage, []byte("\xe1"), false),
			frame(false, 0, []byte("\xbd"), false), frame(true, 0, []byte("\xb9!"), false)}, nil, ""},
		{"invalid UTF-8 text", [][]byte{frame(true, websocket.TextMessage, []byte("a\xed\xa0\x80"), false)},
			[]string{`8:"\x03\xef"`}, errInvalidText.Error()},
		{"continuation with no message", [][]byte{frame(true, 0, []byte("x"), false)}, []string{`8:"\x03\xea"`}, "websocket: protocol error"},
		{"close with one byte", [][]byte{frame(true, websocket.CloseMessage, []byte{3}, false)}, []string{`8:"\x03\xea"`}, "websocket: protocol error"},
		{"fragments over the limit", [][]byte{frame(false, websocket.TextMessage, make([]byte, maxMessageSize), false),
			frame(true, 0, []byte("x"), false)}, []string{`8:"\x03\xf1"`}, websocket.ErrReadLimit.Error()},
	}
	for _, c := range cases {
		var all []byte
		for _, f := range c.input {
			all = append(all, f...)
		}
		// Whatever the reads bring: all at once, and a byte at a time.
		for _, step := range []int{len(all), 1, 7} {
			t.Run(fmt.Sprintf("%s/%d", c.name, step), func(t *testing.T) {
				var f frames
				var s sent
				var err error
				for i := 0; i < len(all) && err == nil; i += step {
					err = f.feed(all[i:min(i+step, len(all))], &s)
				}
				got := ""
				if err != nil {
					got = err.Error()
				}
				if got != c.err {
					t.Fatalf("feed()=%q, want %q", got, c.err)
				}
				if fmt.Sprint([]string(s)) != fmt.Sprint(c.sent) {
					t.Fatalf("answered %v, want %v", s, c.sent)
				}
			})
		}
	}
}

// Whatever the bytes, the reader neither panics nor holds more than its
// fixed buffers, and answers at most one close.
func FuzzFrames(f *testing.F) {
	f.Add(frame(true, websocket.PingMessage, []byte("hi"), false))
	f.Add(frame(true, websocket.CloseMessage, []byte{3, 232}, false))
	f.Add(append(frame(false, websocket.TextMessage, []byte("a"), false), frame(true, 0, []byte("b"), false)...))
	f.Add(frame(true, websocket.TextMessage, make([]byte, 200), false))
	f.Add(append(frame(false, websocket.TextMessage, []byte("\xce"), false), frame(true, 0, []byte("\xba"), false)...))
	f.Add(frame(true, websocket.CloseMessage, []byte{3, 232, 0xff}, false))
	f.Fuzz(func(t *testing.T, data []byte) {
		var fr frames
		var s sent
		err := fr.feed(data, &s)
		closes := 0
		for _, x := range s {
			if x[0] == '8' {
				closes++
			}
		}
		if closes > 1 || closes == 1 && err == nil {
			t.Fatalf("answered %v, err %v", s, err)
		}
		var ce *websocket.CloseError
		if err != nil && !errors.As(err, &ce) && !errors.Is(err, errProtocol) && !errors.Is(err, websocket.ErrReadLimit) &&
			!errors.Is(err, errInvalidText) {
			t.Fatalf("feed()=%v", err)
		}
	})
}

// Text checked in pieces cut anywhere is judged as utf8.Valid judges it
// whole: a character cut by the end of a piece is kept, not refused.
func FuzzUTF8Tail(f *testing.F) {
	f.Add([]byte("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"), uint8(1))
	f.Add([]byte("a\xed\xa0\x80b"), uint8(2))
	f.Add([]byte("\xf4\x8f\xbf\xbf\xf4\x90"), uint8(3))
	f.Fuzz(func(t *testing.T, text []byte, step uint8) {
		var u utf8Tail
		var h header // no mask: the pieces are the text
		ok := true
		n := int(step%8) + 1
		for i := 0; i < len(text) && ok; i += n {
			ok = u.valid(text[i:min(i+n, len(text))], &h, uint64(i))
		}
		ok = ok && u.n == 0
		if ok != utf8.Valid(text) {
			t.Fatalf("in pieces of %d: %v, utf8.Valid: %v", n, ok, utf8.Valid(text))
		}
	})
}
