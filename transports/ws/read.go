package ws

import (
	"encoding/binary"
	"errors"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// frames reads the peer's frames from bytes as they arrive, in pieces of
// any size: it discards messages, answers pings and a close, and returns
// the error that ends the connection: the peer's close
// (*websocket.CloseError), a message over maxMessageSize
// (websocket.ErrReadLimit, answered with 1009), text that is not UTF-8
// (errInvalidText, answered with 1007), or a protocol error (answered with
// 1002). It checks what RFC 6455 asks of a server's reader, sections 5
// to 7: masking, reserved bits and opcodes, whole control frames of at
// most 125 bytes, the order of a fragmented message's frames, UTF-8 text
// (also split across frames and reads) and close codes and reasons.
// Writes are write.go's.
//
// Why not gorilla's NextReader: it blocks a goroutine for as long as the
// peer is silent, and that goroutine (8 KiB of stack where NextReader
// blocks) is most of what an idle subscriber costs. Fed from whatever a
// read found, this parser lets an idle connection wait with no goroutine
// at all (transports.Poller).
type frames struct {
	head      [14]byte // the frame's header, as far as it came
	n         int      // bytes of head
	payload   [125]byte
	h         header // the frame being read, once its header is whole
	got       int    // control payload bytes so far
	skip      uint64 // data payload bytes still to discard
	message   uint64 // bytes of the message so far
	inFrame   bool   // the header is whole, the payload is not
	inMessage bool   // a message's first frame came, its last has not
	text      bool   // the message under way is text: its payload must be UTF-8
	utf       utf8Tail
}

var (
	// errProtocol is a frame this server does not accept from a client.
	errProtocol = errors.New("websocket: protocol error")
	// errInvalidText is a text message, or a close reason, that is not
	// UTF-8.
	errInvalidText = errors.New("websocket: invalid UTF-8 in text")
)

// controller writes control frames: a *wire.
type controller interface {
	control(op int, payload []byte) error
}

func (f *frames) feed(data []byte, ws controller) error {
	for len(data) > 0 {
		if !f.inFrame {
			k := copy(f.head[f.n:headLen(f.head[:f.n])], data)
			f.n += k
			data = data[k:]
			if f.n >= 2 && f.head[1]&0x80 == 0 {
				return f.fail(ws, errProtocol) // a client's frames are masked
			}
			if f.n < headLen(f.head[:f.n]) {
				continue // the rest of the header is still on its way
			}
			h, err := parseHeader(f.head[:f.n])
			if err != nil {
				return f.fail(ws, err)
			}
			f.h, f.inFrame, f.got = h, true, 0
			if !h.control {
				// A message is one data frame, or a first one and
				// continuations up to one with fin, and nothing but
				// control frames comes between them.
				if h.opcode == 0 && !f.inMessage || h.opcode != 0 && f.inMessage {
					return f.fail(ws, errProtocol)
				}
				if h.opcode != 0 {
					f.inMessage, f.text, f.message = true, h.opcode == websocket.TextMessage, 0
				}
				f.message += h.length
				if h.length > maxMessageSize || f.message > maxMessageSize {
					ws.control(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseMessageTooBig, ""))
					return websocket.ErrReadLimit
				}
				f.skip = h.length
			}
		}
		if f.h.control {
			k := copy(f.payload[f.got:f.h.length], data)
			f.got += k
			data = data[k:]
			if uint64(f.got) < f.h.length {
				continue
			}
			f.inFrame, f.n = false, 0
			p := f.payload[:f.got]
			f.h.unmask(p)
			switch f.h.opcode {
			case websocket.CloseMessage:
				return f.closed(ws, p)
			case websocket.PingMessage:
				ws.control(websocket.PongMessage, p)
			}
			continue
		}
		k := min(uint64(len(data)), f.skip)
		if f.text && !f.utf.valid(data[:k], &f.h, f.h.length-f.skip) {
			return f.invalidText(ws)
		}
		f.skip -= k
		data = data[k:]
		if f.skip == 0 {
			f.inFrame, f.n = false, 0
			if f.h.fin {
				if f.text && f.utf.n > 0 {
					return f.invalidText(ws) // it ends inside a character
				}
				f.message, f.inMessage, f.text = 0, false, false
			}
		}
	}
	return nil
}

// between reports whether no frame or message is under way: nothing of
// the state is needed for what comes next.
func (f *frames) between() bool { return f.n == 0 && !f.inFrame && !f.inMessage }

// utf8Tail checks text that arrives in pieces cut anywhere: it keeps the
// start of a character that the end of a piece cut.
type utf8Tail struct {
	b [utf8.UTFMax - 1]byte
	n int
}

// valid unmasks masked (which starts off bytes into its frame's payload,
// for the mask) and reports whether it continues the text so far as
// UTF-8; a character it leaves unfinished is kept for the next piece.
func (u *utf8Tail) valid(masked []byte, h *header, off uint64) bool {
	var buf [256]byte
	for len(masked) > 0 {
		p := buf[:copy(buf[:], masked)]
		masked = masked[len(p):]
		for i := range p {
			p[i] ^= h.mask[(off+uint64(i))&3]
		}
		off += uint64(len(p))
		if !u.write(p) {
			return false
		}
	}
	return true
}

func (u *utf8Tail) write(p []byte) bool {
	if u.n > 0 {
		// Finish the character the previous piece cut.
		var c [utf8.UTFMax]byte
		k := copy(c[:], u.b[:u.n])
		for ; len(p) > 0 && !utf8.FullRune(c[:k]); k++ {
			c[k], p = p[0], p[1:]
		}
		if !utf8.FullRune(c[:k]) {
			u.n = copy(u.b[:], c[:k])
			return true
		}
		if r, size := utf8.DecodeRune(c[:k]); r == utf8.RuneError && size == 1 {
			return false
		}
		u.n = 0
	}
	for len(p) > 0 {
		if p[0] < utf8.RuneSelf {
			p = p[1:]
			continue
		}
		if !utf8.FullRune(p) { // a character's valid start, cut
			u.n = copy(u.b[:], p)
			return true
		}
		r, size := utf8.DecodeRune(p)
		if r == utf8.RuneError && size == 1 {
			return false
		}
		p = p[size:]
	}
	return true
}

// invalidText answers text that is not UTF-8 with 1007 before the reader
// gives up.
func (f *frames) invalidText(ws controller) error {
	ws.control(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseInvalidFramePayloadData, ""))
	return errInvalidText
}

// headLen is how long the header that starts with b is: 2 bytes until
// its length byte is known.
func headLen(b []byte) int {
	if len(b) < 2 {
		return 2
	}
	n := 2 + 4 // and the mask
	switch b[1] & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	return n
}

type header struct {
	fin, control bool
	opcode       int
	length       uint64
	mask         [4]byte
}

// parseHeader parses a whole frame header (RFC 6455, 5.2) and checks what
// a server must: no extension is in use (no RSV bits), the opcode is
// known, control frames are whole and at most 125 bytes.
func parseHeader(b []byte) (h header, err error) {
	h.fin = b[0]&0x80 != 0
	h.opcode = int(b[0] & 0x0f)
	h.control = h.opcode&0x8 != 0
	switch h.opcode {
	case websocket.TextMessage, websocket.BinaryMessage, 0, // 0: a continuation
		websocket.CloseMessage, websocket.PingMessage, websocket.PongMessage:
	default:
		return h, errProtocol
	}
	if b[0]&0x70 != 0 {
		return h, errProtocol
	}
	h.length = uint64(b[1] & 0x7f)
	rest := b[2:]
	switch h.length {
	case 126:
		h.length, rest = uint64(binary.BigEndian.Uint16(rest)), rest[2:]
	case 127:
		h.length, rest = binary.BigEndian.Uint64(rest), rest[8:]
	}
	if h.control && (h.length > 125 || !h.fin) {
		return h, errProtocol
	}
	copy(h.mask[:], rest)
	return h, nil
}

func (h *header) unmask(b []byte) {
	for i := range b {
		b[i] ^= h.mask[i&3]
	}
}

// fail answers a protocol error with 1002 before the reader gives up.
func (f *frames) fail(ws controller, err error) error {
	ws.control(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseProtocolError, ""))
	return err
}

// closed answers the peer's close frame with its code, as the protocol
// asks, and returns it as a *websocket.CloseError. A close frame is empty,
// or a code a peer may send and a UTF-8 reason (RFC 6455, 5.5.1, 7.4);
// anything else is answered as a protocol error, or 1007 for the reason.
func (f *frames) closed(ws controller, payload []byte) error {
	ce := &websocket.CloseError{Code: websocket.CloseNoStatusReceived}
	reply := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	switch {
	case len(payload) == 1:
		return f.fail(ws, errProtocol)
	case len(payload) >= 2:
		ce.Code = int(binary.BigEndian.Uint16(payload))
		if !sendableCloseCode(ce.Code) {
			return f.fail(ws, errProtocol)
		}
		if !utf8.Valid(payload[2:]) {
			return f.invalidText(ws)
		}
		ce.Text = string(payload[2:])
		reply = websocket.FormatCloseMessage(ce.Code, "")
	}
	ws.control(websocket.CloseMessage, reply)
	return ce
}

// sendableCloseCode reports whether a peer may send code in a close frame:
// one of the protocol's own that means something on the wire (1004 is
// reserved, 1005, 1006 and 1015 are for reporting only), or one of those
// registered for libraries (3000-3999) or private (4000-4999).
func sendableCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	default:
		return code >= 3000 && code <= 4999
	}
}
