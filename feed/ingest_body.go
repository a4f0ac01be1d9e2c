package feed

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"unicode/utf16"
	"unicode/utf8"
)

// bodyLines reads the lines of an /ingest body as it arrives: text, one
// line per "\n", or JSON (bodyJSON). Each call to next returns one line,
// cut at max bytes (cut set) as a file's would be, in a buffer that the
// next call reuses; io.EOF at the end of the body.
type bodyLines interface {
	next() (line []byte, cut bool, err error)
}

// errBadJSON wraps what is wrong with a JSON body; the answer is 400.
var errBadJSON = errors.New("bad JSON")

// bodyText splits a body at "\n", as the tailer splits a file: a trailing
// "\r" goes, a longer line is cut at max and the rest of it skipped, and
// a last line without "\n" is a line (the request ended it).
type bodyText struct {
	br  *bufio.Reader
	max int
	buf []byte
}

func (b *bodyText) next() ([]byte, bool, error) {
	b.buf = b.buf[:0]
	n := 0 // bytes of the line, kept or not
	for {
		chunk, err := b.br.ReadSlice('\n')
		end := err == nil
		if end {
			chunk = chunk[:len(chunk)-1]
		}
		// Keep one byte beyond max: a line of max bytes and "\r" is whole.
		if room := b.max + 1 - len(b.buf); room > 0 {
			b.buf = append(b.buf, chunk[:min(room, len(chunk))]...)
		}
		n += len(chunk)
		switch {
		case end:
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if n == 0 {
				return nil, false, io.EOF
			}
		default:
			return nil, false, err
		}
		if n <= b.max+1 && n > 0 && b.buf[n-1] == '\r' {
			b.buf, n = b.buf[:n-1], n-1
		}
		if n > b.max {
			return b.buf[:b.max], true, nil
		}
		return b.buf, false, nil
	}
}

// bodyJSON reads what Vector's and Fluent Bit's HTTP outputs send: JSON
// objects, one per line (ndjson) or in arrays (a batch), or both in turn.
// An object's line is its "message" member (Vector), else its "log"
// member (Fluent Bit, Docker), when that is a string; else the object
// itself, as it came, so that a JSON access log (Caddy, Traefik) shipped
// as it is parses with its format. A string in place of an object is a
// line too. The body is scanned as it streams, never held: a member's
// value and the object are kept up to max bytes, the rest is read and
// skipped, and such a line is cut.
type bodyJSON struct {
	br  *bufio.Reader
	max int
	in  int // array nesting at the top: 0 or 1

	raw   []byte // the object as it came, up to max+1 bytes
	rawOn bool
	msg   []byte // the "message" or "log" string, decoded, up to max+1 bytes
	rank  int    // which one msg holds: 0 none, 1 "log", 2 "message"
	key   []byte // the member name being read, up to maxKey bytes
}

// maxKey bounds the member names kept for comparing: longer ones are
// none of the names looked for.
const maxKey = 16

// jsonDepth bounds nesting inside an object: no shipper sends more, and
// a body of "[[[[..." is refused rather than counted.
const jsonDepth = 512

func (j *bodyJSON) get() (byte, error) {
	c, err := j.br.ReadByte()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return 0, err
	}
	if j.rawOn && len(j.raw) <= j.max {
		j.raw = append(j.raw, c)
	}
	return c, nil
}

// plain consumes the bytes of a string, up to (not including) the next
// quote, backslash or control character, among those already buffered;
// the run it returns is valid until the next read. Strings are where a
// body's bytes are, and this takes them a buffer at a time.
func (j *bodyJSON) plain() []byte {
	n := j.br.Buffered()
	if n == 0 {
		return nil
	}
	buf, _ := j.br.Peek(n)
	k := 0
	for k < len(buf) {
		if c := buf[k]; c == '"' || c == '\\' || c < 0x20 {
			break
		}
		k++
	}
	run := buf[:k]
	if j.rawOn && len(j.raw) <= j.max {
		j.raw = append(j.raw, run[:min(len(run), j.max+1-len(j.raw))]...)
	}
	j.br.Discard(k)
	return run
}

// space skips white space and returns the next byte, consumed.
func (j *bodyJSON) space() (byte, error) {
	for {
		c, err := j.get()
		if err != nil || !isJSONSpace(c) {
			return c, err
		}
	}
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func badJSON(format string, a ...any) error {
	return fmt.Errorf("%w: %s", errBadJSON, fmt.Sprintf(format, a...))
}

func (j *bodyJSON) next() ([]byte, bool, error) {
	for {
		j.rawOn = false
		c, err := j.space()
		if errors.Is(err, io.ErrUnexpectedEOF) {
			if j.in > 0 {
				return nil, false, badJSON("the body ends inside an array")
			}
			return nil, false, io.EOF
		}
		if err != nil {
			return nil, false, err
		}
		switch {
		case c == '[' && j.in == 0:
			j.in = 1
			if c, err = j.space(); err != nil {
				return nil, false, err
			}
			if c == ']' {
				j.in = 0
				continue
			}
			j.br.UnreadByte()
			continue
		case c == ',' && j.in > 0:
			continue
		case c == ']' && j.in > 0:
			j.in = 0
			continue
		case c == '{':
			return j.object()
		case c == '"':
			j.msg = j.msg[:0]
			cut, err := j.str(&j.msg, j.max)
			return j.msg, cut, err
		default:
			return nil, false, badJSON("want an object or an array of objects, got %q", c)
		}
	}
}

// object reads the rest of an object whose "{" was read.
func (j *bodyJSON) object() ([]byte, bool, error) {
	j.raw = append(j.raw[:0], '{')
	j.rawOn = true
	j.msg = j.msg[:0]
	j.rank = 0
	c, err := j.space()
	if err != nil {
		return nil, false, err
	}
	var cut bool
	if c != '}' {
		for {
			if c != '"' {
				return nil, false, badJSON("want a member name, got %q", c)
			}
			j.key = j.key[:0]
			if _, err := j.str(&j.key, maxKey); err != nil {
				return nil, false, err
			}
			if c, err = j.space(); err != nil {
				return nil, false, err
			}
			if c != ':' {
				return nil, false, badJSON("want ':' after a member name, got %q", c)
			}
			if c, err = j.space(); err != nil {
				return nil, false, err
			}
			rank := 0
			switch string(j.key) {
			case "message":
				rank = 2
			case "log":
				rank = 1
			}
			if c == '"' && rank > j.rank {
				j.msg = j.msg[:0]
				if cut, err = j.str(&j.msg, j.max); err != nil {
					return nil, false, err
				}
				j.rank = rank
			} else if err := j.skip(c); err != nil {
				return nil, false, err
			}
			if c, err = j.space(); err != nil {
				return nil, false, err
			}
			if c == '}' {
				break
			}
			if c != ',' {
				return nil, false, badJSON("want ',' or '}' after a member, got %q", c)
			}
			if c, err = j.space(); err != nil {
				return nil, false, err
			}
		}
	}
	j.rawOn = false
	if j.rank > 0 {
		return j.msg, cut, nil
	}
	if len(j.raw) > j.max {
		return j.raw[:j.max], true, nil
	}
	return j.raw, false, nil
}

// str decodes a string whose opening quote was read into *dst, keeping at
// most limit bytes; cut says whether it was longer.
func (j *bodyJSON) str(dst *[]byte, limit int) (cut bool, err error) {
	put := func(b ...byte) {
		if len(*dst)+len(b) > limit {
			cut = true
			return
		}
		*dst = append(*dst, b...)
	}
	var pending rune = -1 // a high surrogate waiting for its low half
	for {
		if run := j.plain(); len(run) > 0 {
			if pending >= 0 {
				put(runeError...)
				pending = -1
			}
			if room := limit - len(*dst); room < len(run) {
				*dst = append(*dst, run[:max(room, 0)]...)
				cut = true
			} else {
				*dst = append(*dst, run...)
			}
		}
		c, err := j.get()
		if err != nil {
			return cut, err
		}
		if c == '"' {
			if pending >= 0 {
				put(runeError...)
			}
			return cut, nil
		}
		if c < 0x20 {
			return cut, badJSON("a control character in a string")
		}
		if c != '\\' {
			if pending >= 0 {
				put(runeError...)
				pending = -1
			}
			put(c)
			continue
		}
		if c, err = j.get(); err != nil {
			return cut, err
		}
		var r rune
		switch c {
		case '"', '\\', '/':
			r = rune(c)
		case 'b':
			r = '\b'
		case 'f':
			r = '\f'
		case 'n':
			r = '\n'
		case 'r':
			r = '\r'
		case 't':
			r = '\t'
		case 'u':
			for range 4 {
				if c, err = j.get(); err != nil {
					return cut, err
				}
				d := hexVal(c)
				if d < 0 {
					return cut, badJSON("bad \\u escape")
				}
				r = r<<4 | rune(d)
			}
		default:
			return cut, badJSON("bad escape \\%c", c)
		}
		switch {
		case pending >= 0 && utf16.IsSurrogate(r) && r >= 0xdc00:
			r = utf16.DecodeRune(pending, r)
			pending = -1
		case pending >= 0:
			put(runeError...)
			pending = -1
		}
		if utf16.IsSurrogate(r) && r < 0xdc00 {
			pending = r
			continue
		}
		var u [utf8.UTFMax]byte
		put(u[:utf8.EncodeRune(u[:], r)]...)
	}
}

var runeError = []byte(string(utf8.RuneError))

func hexVal(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// skip reads the rest of a value whose first byte c was read.
func (j *bodyJSON) skip(c byte) error {
	depth := 0
	for {
		switch c {
		case '"':
			if err := j.skipStr(); err != nil {
				return err
			}
		case '{', '[':
			if depth++; depth > jsonDepth {
				return badJSON("nested deeper than %d", jsonDepth)
			}
		case '}', ']':
			depth--
		case ',', ':', ' ', '\t', '\n', '\r':
		default:
			if err := j.scalar(c); err != nil {
				return err
			}
		}
		if depth <= 0 {
			if depth < 0 {
				return badJSON("unexpected %q", c)
			}
			return nil
		}
		var err error
		if c, err = j.get(); err != nil {
			return err
		}
	}
}

// scalar reads the rest of a number or a literal whose first byte c was
// read, and checks it.
func (j *bodyJSON) scalar(c byte) error {
	var tok [32]byte
	tok[0] = c
	n := 1
	for {
		if _, err := j.br.Peek(1); err != nil {
			if errors.Is(err, io.EOF) {
				break // a body may end after a scalar inside nothing
			}
			return err
		}
		buf, _ := j.br.Peek(j.br.Buffered())
		k := 0
		for k < len(buf) && isScalar(buf[k]) {
			k++
		}
		if n+k > len(tok) {
			return badJSON("a number or literal longer than %d bytes", len(tok))
		}
		n += copy(tok[n:], buf[:k])
		if j.rawOn && len(j.raw) <= j.max {
			j.raw = append(j.raw, buf[:min(k, j.max+1-len(j.raw))]...)
		}
		j.br.Discard(k)
		if k < len(buf) {
			break
		}
	}
	if !validScalar(tok[:n]) {
		return badJSON("unexpected %q", string(tok[:n]))
	}
	return nil
}

// validScalar says whether s is true, false, null or a JSON number.
func validScalar(s []byte) bool {
	switch string(s) {
	case "true", "false", "null":
		return true
	}
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() int {
		k := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		return i - k
	}
	if d := digits(); d == 0 || d > 1 && s[i-d] == '0' {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

// isScalar says whether c can be part of a number or a literal.
func isScalar(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || c == '-' || c == '+' || c == '.' || c == 'E'
}

func (j *bodyJSON) skipStr() error {
	for {
		j.plain()
		c, err := j.get()
		if err != nil {
			return err
		}
		switch {
		case c == '"':
			return nil
		case c == '\\':
			if _, err := j.get(); err != nil {
				return err
			}
		case c < 0x20:
			return badJSON("a control character in a string")
		}
	}
}
