package ws

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/gorilla/websocket"
)

// frames reads the peer's frames from bytes as they arrive, in pieces of
// any size: it discards messages, answers pings and a close, and returns
// the error that ends the connection: the peer's close
// (*websocket.CloseError), a message over maxMessageSize
// (websocket.ErrReadLimit, answered with 1009), or a protocol error
// (answered with 1002). Writes are write.go's.
//
// Why not gorilla's NextReader: it blocks a goroutine for as long as the
// peer is silent, and that goroutine (8 KiB of stack where NextReader
// parks) is most of what an idle subscriber costs. Fed from whatever a
// read found, this parser lets an idle connection wait with no goroutine
// at all (transports.Idle).
type frames struct {
	head    [14]byte // the frame's header, as far as it came
	n       int      // bytes of head
	payload [125]byte
	h       header // the frame being read, once its header is whole
	got     int    // control payload bytes so far
	skip    uint64 // data payload bytes still to discard
	message uint64 // bytes of the message so far
	inFrame bool   // the header is whole, the payload is not
}

// errProtocol is a frame this server does not accept from a client.
var errProtocol = errors.New("websocket: protocol error")

// controlWait bounds the write of a pong or a close frame from the reader.
const controlWait = 5 * time.Second

// controller writes control frames: a *wire.
type controller interface {
	WriteControl(messageType int, data []byte, deadline time.Time) error
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
				f.message += h.length
				if h.length > maxMessageSize || f.message > maxMessageSize {
					ws.WriteControl(websocket.CloseMessage,
						websocket.FormatCloseMessage(websocket.CloseMessageTooBig, ""), time.Now().Add(controlWait))
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
				return closed(ws, p)
			case websocket.PingMessage:
				ws.WriteControl(websocket.PongMessage, p, time.Now().Add(controlWait))
			}
			continue
		}
		k := min(uint64(len(data)), f.skip)
		f.skip -= k
		data = data[k:]
		if f.skip == 0 {
			f.inFrame, f.n = false, 0
			if f.h.fin {
				f.message = 0
			}
		}
	}
	return nil
}

// between reports whether no frame or message is under way: nothing of
// the state is needed for what comes next.
func (f *frames) between() bool { return f.n == 0 && !f.inFrame && f.message == 0 }

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
	ws.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.CloseProtocolError, ""), time.Now().Add(controlWait))
	return err
}

// closed answers the peer's close frame with its code, as the protocol
// asks, and returns it as a *websocket.CloseError.
func closed(ws controller, payload []byte) error {
	ce := &websocket.CloseError{Code: websocket.CloseNoStatusReceived}
	reply := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	if len(payload) >= 2 {
		ce.Code = int(binary.BigEndian.Uint16(payload))
		ce.Text = string(payload[2:])
		reply = websocket.FormatCloseMessage(ce.Code, "")
	}
	ws.WriteControl(websocket.CloseMessage, reply, time.Now().Add(controlWait))
	return ce
}
