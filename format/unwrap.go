package format

import (
	"strings"
	"sync"
)

// Unwrapping takes off the wrapper that a container runtime or a syslog
// relay puts around each line a web server writes, so that the line is
// parsed (and shown, and matched by q=) as the web server wrote it:
//
//   - Docker's json-file driver:
//     {"log":"<line>\n","stream":"stdout","time":"2026-12-07T10:00:00.123456789Z"}
//     A "log" without the final "\n" is the first part of a line that
//     Docker split (it does at 16 KiB); the next parts of the stream follow.
//   - CRI (containerd, CRI-O; Kubernetes node logs):
//     2026-12-07T10:00:00.123456789Z stdout F <line>
//     "P" instead of "F" marks a part of a line whose rest follows.
//   - Syslog as nginx's "access_log syslog:" writes it, RFC 3164:
//     <190>Dec  7 10:00:00 web1 nginx: <line>
//     and RFC 5424: <190>1 2026-12-07T10:00:00.000Z web1 nginx - - - <line>
//
// A line is looked at only if its first byte can open a wrapper ('{', '<',
// or a digit followed by a timestamp's '-' and 'T'), so a plain access-log
// line costs two byte comparisons. A wrapper that does not match exactly
// (cut, broken JSON, a header of another shape) is not taken off: the line
// is then a record as it is, never dropped.

// Streams of a container's output. Parts of a line join within a stream.
const (
	streamStdout = iota
	streamStderr
	numStreams
)

// unwrapped is the content of one wrapped line.
type unwrapped struct {
	text    string // what the web server wrote, or a part of it
	stream  int    // streamStdout or streamStderr
	partial bool   // the rest of the line follows in the stream's next wrapped lines

	host, tag string // a syslog header's HOSTNAME and TAG (APP-NAME); empty for "-" or none
}

// Syslog reads the header of a syslog message, RFC 5424 or RFC 3164 (the
// shapes unwrapping takes off, above): the host name and the tag (RFC
// 5424's APP-NAME; RFC 3164's TAG without its "[pid]" and ":") it names,
// each empty when the header has "-" or none, and the message after it,
// a substring of msg. ok is false when msg opens with no such header.
func Syslog(msg string) (host, tag, body string, ok bool) {
	if len(msg) == 0 || msg[0] != '<' {
		return "", "", "", false
	}
	u, ok := unwrapSyslog(msg)
	return u.host, u.tag, u.text, ok
}

// unwrap takes the wrapper off line. ok is false for a line that is not
// wrapped, or whose wrapper is not well-formed: it is taken as it is.
func unwrap(line string) (u unwrapped, ok bool) {
	if len(line) == 0 {
		return u, false
	}
	switch c := line[0]; {
	case c == '{':
		return unwrapDocker(line)
	case c == '<':
		return unwrapSyslog(line)
	case c >= '0' && c <= '9' && len(line) > 20 && line[4] == '-' && line[10] == 'T':
		return unwrapCRI(line)
	}
	return u, false
}

// unwrapDocker reads a line of Docker's json-file driver. Docker writes
// "log" first, then "stream" and "time" (and "attrs" if asked).
func unwrapDocker(line string) (u unwrapped, ok bool) {
	const key = `{"log":`
	if !strings.HasPrefix(line, key) {
		return u, false
	}
	text, rest, ok := dockerString(line[len(key):])
	if !ok {
		return u, false
	}
	rest = strings.TrimRight(rest, " \r")
	if !strings.HasSuffix(rest, "}") || (rest != "}" && rest[0] != ',') {
		return u, false
	}
	if strings.Contains(rest, `"stream":"stderr"`) {
		u.stream = streamStderr
	}
	if t, whole := strings.CutSuffix(text, "\n"); whole {
		u.text = t
	} else {
		u.text, u.partial = text, true
	}
	return u, true
}

// dockerString decodes the JSON string that s starts with and returns the
// rest of s after it. A string without escapes is a substring of s.
func dockerString(s string) (v, rest string, ok bool) {
	if len(s) == 0 || s[0] != '"' {
		return "", "", false
	}
	v, j, ok := readJSONString(s, 0)
	if !ok {
		return "", "", false
	}
	return v, s[j:], true
}

// unwrapCRI reads a line of the CRI log format: time, stream, tags (F or
// P, possibly more joined by ':'), then the line itself.
func unwrapCRI(line string) (u unwrapped, ok bool) {
	ts, rest, ok := strings.Cut(line, " ")
	if !ok || len(ts) < 20 || ts[7] != '-' || ts[13] != ':' {
		return u, false
	}
	stream, rest, ok := strings.Cut(rest, " ")
	switch {
	case !ok:
		return u, false
	case stream == "stdout":
	case stream == "stderr":
		u.stream = streamStderr
	default:
		return u, false
	}
	tags, text, _ := strings.Cut(rest, " ")
	switch {
	case tags == "F" || strings.HasPrefix(tags, "F:"):
	case tags == "P" || strings.HasPrefix(tags, "P:"):
		u.partial = true
	default:
		return u, false
	}
	u.text = text
	return u, true
}

// unwrapSyslog reads a syslog header: RFC 5424 when the priority is
// followed by the version "1 ", RFC 3164 otherwise.
func unwrapSyslog(line string) (u unwrapped, ok bool) {
	end := strings.IndexByte(line, '>')
	if end < 2 || end > 4 {
		return u, false
	}
	for _, c := range []byte(line[1:end]) {
		if c < '0' || c > '9' {
			return u, false
		}
	}
	s := line[end+1:]
	if strings.HasPrefix(s, "1 ") {
		return unwrap5424(s[2:])
	}
	return unwrap3164(s)
}

// unwrap5424 reads what follows "<PRI>1 ": time, host, app, procid and
// msgid (each a token, "-" if none), structured data ("-" or one or more
// "[...]"), then the message, which may open with a BOM.
func unwrap5424(s string) (u unwrapped, ok bool) {
	for i := range 5 {
		var tok string
		if tok, s, ok = strings.Cut(s, " "); !ok || tok == "" {
			return u, false
		}
		switch {
		case tok == "-":
		case i == 1:
			u.host = tok
		case i == 2:
			u.tag = tok
		}
	}
	switch {
	case strings.HasPrefix(s, "-"):
		s = s[1:]
	case strings.HasPrefix(s, "["):
		for len(s) > 0 && s[0] == '[' {
			n := sdElement(s)
			if n < 0 {
				return u, false
			}
			s = s[n:]
		}
	default:
		return u, false
	}
	switch {
	case s == "":
	case s[0] == ' ':
		s = strings.TrimPrefix(s[1:], "\uFEFF")
	default:
		return u, false
	}
	u.text = s
	return u, true
}

// sdElement returns the length of the structured-data element "[...]" at
// the start of s, or -1 if it is not closed. In its quoted values '\'
// escapes '"', '\' and ']'.
func sdElement(s string) int {
	quoted := false
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if quoted {
				i++
			}
		case '"':
			quoted = !quoted
		case ']':
			if !quoted {
				return i + 1
			}
		}
	}
	return -1
}

// unwrap3164 reads what follows "<PRI>": a time ("Dec  7 10:00:00", or
// one ISO 8601 token as some relays write), the host (left out by
// syslog(3) on the local socket), then the tag ("nginx:" or
// "nginx[123]:") and a space before the message.
func unwrap3164(s string) (u unwrapped, ok bool) {
	switch {
	case len(s) > 16 && s[3] == ' ' && s[6] == ' ' && s[9] == ':' && s[12] == ':' && s[15] == ' ':
		s = s[16:]
	case len(s) > 0 && s[0] >= '0' && s[0] <= '9':
		var tok string
		if tok, s, ok = strings.Cut(s, " "); !ok || len(tok) < 19 || tok[10] != 'T' {
			return u, false
		}
	default:
		return u, false
	}
	host, s, ok := strings.Cut(s, " ")
	if !ok || host == "" {
		return u, false
	}
	tag, msg, _ := strings.Cut(s, " ")
	if len(host) > 1 && host[len(host)-1] == ':' {
		// No host: the C library's syslog(3) leaves it out on the local
		// socket ("<13>Dec  7 10:00:00 nginx[42]: ..."). A host name
		// never ends in ':'.
		tag, msg, host = host, s, "-"
	}
	if len(tag) < 2 || tag[len(tag)-1] != ':' {
		return u, false
	}
	tag = tag[:len(tag)-1]
	if i := strings.IndexByte(tag, '['); i > 0 && tag[len(tag)-1] == ']' {
		tag = tag[:i] // nginx[123]: the process id is no part of the name
	}
	if host != "-" {
		u.host = host
	}
	u.tag, u.text = tag, msg
	return u, true
}

// joiner joins the parts of lines (CRI "P" lines, Docker's split lines)
// of one source, each stream apart. A joined line is cut at max bytes:
// the cut line is delivered at once and the rest of it dropped, as the
// tailer does with a long plain line, so a joiner never holds more than
// max bytes a stream. It is a source's: its lines come from one tailer
// at a time (and the backfill before it), but the lock keeps it safe
// regardless.
type joiner struct {
	max int

	mu   sync.Mutex
	part [numStreams]struct {
		buf  []byte
		open bool // a line has begun
		cut  bool // it was cut and delivered; its rest is dropped
	}
}

// add takes the content of a wrapped line. It returns the whole line, and
// whether it was cut, once there is one; ok is false while a line is
// being joined (or the rest of a cut one dropped).
func (j *joiner) add(u unwrapped) (line string, cut, ok bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	p := &j.part[u.stream]
	if !p.open {
		if !u.partial {
			return u.text, false, true
		}
		p.open = true
	}
	if p.cut {
		if !u.partial {
			p.open, p.cut = false, false
		}
		return "", false, false
	}
	if room := j.max - len(p.buf); len(u.text) > room {
		p.buf = append(p.buf, u.text[:max(room, 0)]...)
		line = string(p.buf)
		p.buf = p.buf[:0]
		p.cut = u.partial // the rest still to come is dropped
		p.open = u.partial
		return line, true, true
	}
	p.buf = append(p.buf, u.text...)
	if u.partial {
		return "", false, false
	}
	line = string(p.buf)
	p.buf, p.open = p.buf[:0], false
	return line, false, true
}
