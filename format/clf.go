package format

import (
	"strings"
	"sync/atomic"
	"time"

	"github.com/weblogd/weblogd/record"
)

// Parse reads one access-log line in Common or Combined Log Format, or one
// of their common variants (a vhost prefix, an X-Forwarded-For list before
// the ident, extra fields after the agent), into a record. It sets every
// field except Seq, Source and Node, which belong to the caller. Line is
// always the input, unchanged.
//
// A line that does not parse gives Record{Parsed: false, Line: line}: the
// record still reaches subscribers, as raw text.
//
// Fields that need no unescaping are substrings of line, so a typical line
// costs no allocation; a quoted field with backslash escapes costs one.
// Parse is safe for concurrent use and never panics.
func Parse(line string) record.Record {
	var r record.Record
	if parseLine(&r, line) {
		r.Parsed = true
	} else {
		r = record.Record{}
	}
	r.Line = line
	return r
}

// maxPrefixTokens is how many space-separated tokens may come before the
// time once X-Forwarded-For lists are joined: vhost, host, ident, user.
const maxPrefixTokens = 4

// timeLen is the length of "[02/Jan/2006:15:04:05 -0700]".
const timeLen = 28

// parseLine fills r from line and reports whether the line parsed. On
// false, r holds partial results that the caller throws away.
func parseLine(r *record.Record, line string) bool {
	ok, _ := parseCLF(r, line)
	return ok
}

// parseCLF is parseLine that also says, for a line that does not parse,
// the byte offset where it stopped matching.
func parseCLF(r *record.Record, line string) (ok bool, at int) {
	s := line
	// CRLF logs: the reader strips '\n' only.
	if n := len(s); n > 0 && s[n-1] == '\r' {
		s = s[:n-1]
	}

	// The tokens before '[': [vhost] host ident user. A token that ends in
	// ',' is part of an X-Forwarded-For list, so it joins the next one.
	var start, end [maxPrefixTokens]int
	n := 0
	joining := false
	i := 0
	for {
		i = skipSpaces(s, i)
		if i == len(s) {
			return false, i
		}
		j := i + 1
		for j < len(s) && s[j] != ' ' {
			j++
		}
		// The time is the first token that opens with '[' and does not
		// close it before the space inside the time ("[::1]:80" is a host).
		if s[i] == '[' && strings.IndexByte(s[i:j], ']') < 0 {
			break
		}
		if joining {
			end[n-1] = j
		} else {
			if n == maxPrefixTokens {
				return false, i
			}
			start[n], end[n] = i, j
			n++
		}
		joining = s[j-1] == ','
		i = j
	}
	switch n {
	case 1:
		// No ident and user at all (some embedded servers).
		r.Host = s[start[0]:end[0]]
	case 3:
		r.Host, r.Ident, r.User = s[start[0]:end[0]], s[start[1]:end[1]], s[start[2]:end[2]]
	case 4:
		first := s[start[0]:end[0]]
		r.Host, r.Ident, r.User = s[start[1]:end[1]], s[start[2]:end[2]], s[start[3]:end[3]]
		if xff, ok := forwardedList(first); ok {
			// An X-Forwarded-For list before the client, not a vhost:
			// the host is the client the server saw, the list a field.
			r.Fields = []record.Pair{{Name: FieldForwardedFor, Value: xff}}
		} else {
			r.VHost = first
		}
	default:
		return false, i
	}

	if len(s)-i < timeLen {
		return false, i
	}
	t, ok := parseTime(s[i : i+timeLen])
	if !ok {
		return false, i
	}
	r.Time = t
	i += timeLen

	// The request. It is never the last field (status and bytes follow),
	// so an unterminated quote here means the line is broken.
	if i == len(s) || s[i] != ' ' {
		return false, i
	}
	i = skipSpaces(s, i)
	if i == len(s) || s[i] != '"' {
		return false, i
	}
	raw, next, closed := scanQuoted(s, i)
	if !closed {
		return false, i
	}
	i = next
	req := unescape(raw)
	if m, p, v, ok := splitRequest(req); ok {
		r.Method, r.Path, r.Proto = m, p, v
	} else {
		r.Request = req
	}

	// Status: exactly three digits.
	if i == len(s) || s[i] != ' ' {
		return false, i
	}
	i = skipSpaces(s, i)
	if len(s)-i < 3 || (len(s)-i > 3 && s[i+3] != ' ') {
		return false, i
	}
	status, ok := atoi3(s[i : i+3])
	if !ok || status < 100 {
		return false, i
	}
	r.Status = status
	i += 3

	// Bytes: a decimal number or "-".
	i = skipSpaces(s, i)
	j := i
	for j < len(s) && s[j] != ' ' {
		j++
	}
	bytes, ok := parseBytes(s[i:j])
	if !ok {
		return false, i
	}
	r.Bytes = bytes
	i = skipSpaces(s, j)

	// Combined: "referer" "agent". Either may be the last field of a line
	// cut short, in which case it runs to the end of the line.
	if i < len(s) && s[i] == '"' {
		raw, i, closed = scanQuoted(s, i)
		r.Referer = unescape(raw)
		if !closed {
			return true, 0
		}
		i = skipSpaces(s, i)
		if i < len(s) && s[i] == '"' {
			raw, i, closed = scanQuoted(s, i)
			r.Agent = unescape(raw)
			if !closed {
				return true, 0
			}
		}
	}
	// Whatever follows (nginx "$http_x_forwarded_for", request time, or
	// Common format with extra fields) is kept as written.
	r.Extra = strings.Trim(s[i:], " ")
	return true, 0
}

// FieldForwardedFor names the X-Forwarded-For list that a Common or
// Combined line carries before its client address, in Record.Fields.
const FieldForwardedFor = "x_forwarded_for"

// forwardedList reports whether the first of four tokens before the time
// is an X-Forwarded-For list rather than a vhost: quoted, or holding a
// comma (no host name or host:port does). It returns the list unquoted.
func forwardedList(tok string) (string, bool) {
	if len(tok) >= 2 && tok[0] == '"' && tok[len(tok)-1] == '"' {
		return tok[1 : len(tok)-1], true
	}
	return tok, strings.IndexByte(tok, ',') >= 0
}

func skipSpaces(s string, i int) int {
	for i < len(s) && s[i] == ' ' {
		i++
	}
	return i
}

// scanQuoted reads the quoted field that starts at s[i] == '"'. It returns
// the text between the quotes, still escaped, and the index after the
// closing quote. If the line ends first, it returns the rest of the line
// and closed == false.
//
// A quote closes the field only when it is not escaped and is followed by
// a space or the end of the line. Apache (since 2.0.46) and nginx escape
// quotes, but older servers and custom formats do not; this way an inner
// quote such as `Mozilla "compatible"` stays in the value.
func scanQuoted(s string, i int) (raw string, next int, closed bool) {
	from := i + 1
	j := from
	for {
		k := strings.IndexByte(s[j:], '"')
		if k < 0 {
			return s[from:], len(s), false
		}
		q := j + k
		j = q + 1
		// The quote is escaped when an odd number of backslashes precede it.
		b := q
		for b > from && s[b-1] == '\\' {
			b--
		}
		if (q-b)%2 == 1 {
			continue
		}
		if j < len(s) && s[j] != ' ' {
			continue
		}
		return s[from:q], j, true
	}
}

// unescape decodes the backslash escapes that Apache (ap_escape_logitem)
// and nginx (ngx_http_log_escape) write: \" \\ \xHH and \b \n \r \t \v.
// Decoded bytes are kept as they are, valid UTF-8 or not; the encoders
// sanitise. An unknown escape stays as written, backslash included.
func unescape(s string) string {
	k := strings.IndexByte(s, '\\')
	if k < 0 {
		return s
	}
	buf := make([]byte, k, len(s))
	copy(buf, s[:k])
	for i := k; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			buf = append(buf, c)
			continue
		}
		if d := clfEscapes[s[i+1]]; d != 0 {
			buf = append(buf, d)
			i++
			continue
		}
		if s[i+1] == 'x' && i+3 < len(s) {
			hi, ok1 := unhex(s[i+2])
			lo, ok2 := unhex(s[i+3])
			if ok1 && ok2 {
				buf = append(buf, hi<<4|lo)
				i += 3
				continue
			}
		}
		buf = append(buf, c)
	}
	return string(buf)
}

// clfEscapes maps the byte after a backslash to the byte it stands for,
// for the one-letter escapes Apache and nginx write; 0 for the others.
var clfEscapes = [256]byte{'"': '"', '\\': '\\', 'b': '\b', 'n': '\n', 'r': '\r', 't': '\t', 'v': '\v'}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// splitRequest splits "METHOD TARGET PROTO" or "METHOD TARGET" (HTTP/0.9).
// Anything else (Apache's "-" for a timeout, nginx's "" or "hello" for a
// bad request, TLS bytes sent to a plain port) does not split, and the
// caller keeps the whole string as Request.
func splitRequest(req string) (method, target, proto string, ok bool) {
	sp := strings.IndexByte(req, ' ')
	if sp < 0 || !isMethod(req[:sp]) {
		return "", "", "", false
	}
	method, rest := req[:sp], req[sp+1:]
	sp = strings.IndexByte(rest, ' ')
	if sp < 0 {
		target = rest
	} else {
		target, proto = rest[:sp], rest[sp+1:]
		if !isProto(proto) {
			return "", "", "", false
		}
	}
	if !isTarget(target) {
		return "", "", "", false
	}
	return method, target, proto, true
}

// isMethod accepts upper-case HTTP method tokens: GET, PROPFIND, M-SEARCH.
func isMethod(s string) bool {
	if s == "" || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// isProto accepts NAME/VERSION: HTTP/1.1, HTTP/2.0, HTTP/3, RTSP/1.0.
func isProto(s string) bool {
	slash := strings.IndexByte(s, '/')
	if slash < 1 || slash == len(s)-1 {
		return false
	}
	for i := 0; i < slash; i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	for i := slash + 1; i < len(s); i++ {
		if (s[i] < '0' || s[i] > '9') && s[i] != '.' {
			return false
		}
	}
	return true
}

// isTarget accepts a non-empty target without spaces or control bytes.
// Bytes >= 0x80 are allowed: servers log raw UTF-8 paths.
func isTarget(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return false
		}
	}
	return true
}

// atoi3 parses exactly three decimal digits.
func atoi3(s string) (int, bool) {
	a, b, c := s[0]-'0', s[1]-'0', s[2]-'0'
	if a > 9 || b > 9 || c > 9 {
		return 0, false
	}
	return int(a)*100 + int(b)*10 + int(c), true
}

// parseBytes parses the response size: decimal digits, or "-" for none.
// A size that does not fit in an int64 makes the line not parse rather
// than show a made-up number; the raw line still reaches subscribers.
func parseBytes(s string) (int64, bool) {
	if s == "-" {
		return 0, true
	}
	if s == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		d := s[i] - '0'
		if d > 9 {
			return 0, false
		}
		if n > (1<<63-1-int64(d))/10 {
			return 0, false
		}
		n = n*10 + int64(d)
	}
	return n, true
}

// parseTime parses "[02/Jan/2006:15:04:05 -0700]" (s is exactly timeLen
// bytes). It is hand-written because time.Parse is several times slower
// and allocates the zone of every line.
func parseTime(s string) (time.Time, bool) {
	if s[0] != '[' || s[27] != ']' {
		return time.Time{}, false
	}
	return parseTimeLocal(s[1:27])
}

// parseTimeLocal parses "02/Jan/2006:15:04:05 -0700", the time of
// parseTime without its brackets (nginx's $time_local); s is exactly 26
// bytes.
func parseTimeLocal(s string) (time.Time, bool) {
	if s[2] != '/' || s[6] != '/' || s[11] != ':' || s[14] != ':' ||
		s[17] != ':' || s[20] != ' ' {
		return time.Time{}, false
	}
	day, ok1 := atoi2(s[0:2])
	year, ok2 := atoi2(s[7:9])
	year2, ok3 := atoi2(s[9:11])
	hour, ok4 := atoi2(s[12:14])
	minute, ok5 := atoi2(s[15:17])
	sec, ok6 := atoi2(s[18:20])
	oh, ok7 := atoi2(s[22:24])
	om, ok8 := atoi2(s[24:26])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7 && ok8) {
		return time.Time{}, false
	}
	year = year*100 + year2
	month := parseMonth(s[3:6])
	if month == 0 || day < 1 || day > daysIn(month, year) ||
		hour > 23 || minute > 59 || sec > 59 || oh > maxOffsetHours || om > 59 {
		return time.Time{}, false
	}
	off := oh*60 + om
	switch s[21] {
	case '+':
	case '-':
		off = -off
	default:
		return time.Time{}, false
	}
	return time.Date(year, month, day, hour, minute, sec, 0, zone(off)), true
}

func atoi2(s string) (int, bool) {
	a, b := s[0]-'0', s[1]-'0'
	if a > 9 || b > 9 {
		return 0, false
	}
	return int(a)*10 + int(b), true
}

// parseMonth reads the English month abbreviation that both Apache and
// nginx write, whatever the server's locale; 0 means not a month.
func parseMonth(s string) time.Month {
	switch s {
	case "Jan":
		return time.January
	case "Feb":
		return time.February
	case "Mar":
		return time.March
	case "Apr":
		return time.April
	case "May":
		return time.May
	case "Jun":
		return time.June
	case "Jul":
		return time.July
	case "Aug":
		return time.August
	case "Sep":
		return time.September
	case "Oct":
		return time.October
	case "Nov":
		return time.November
	case "Dec":
		return time.December
	}
	return 0
}

func daysIn(m time.Month, year int) int {
	switch m {
	case time.February:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case time.April, time.June, time.September, time.November:
		return 30
	}
	return 31
}

// maxOffsetHours bounds the zone offset to what RFC 3339 can write
// (±23:59); real zones stay within -12:00 and +14:00.
const maxOffsetHours = 23

// maxOffset is the largest zone offset in minutes.
const maxOffset = maxOffsetHours*60 + 59

// zones caches one *time.Location per offset in minutes, so that a line
// does not allocate one; a log has one or two offsets (summer time).
// Entries are set once and read without locks.
var zones [2*maxOffset + 1]atomic.Pointer[time.Location]

// zone returns the fixed zone for an offset in minutes east of UTC. Offset
// zero is time.UTC, so that +0000 times compare equal with == to times
// built with time.UTC.
func zone(off int) *time.Location {
	if off == 0 {
		return time.UTC
	}
	p := &zones[off+maxOffset]
	if l := p.Load(); l != nil {
		return l
	}
	// Racing callers may each build one; the first stored wins and the
	// others are garbage, which is harmless.
	p.CompareAndSwap(nil, time.FixedZone("", off*60))
	return p.Load()
}

// clf is the Parser of Common and Combined Log Format and their variants;
// name is the one it was chosen by (combined, common, vcombined).
type clf struct{ name string }

func (clf) Parse(r *record.Record, line string) (bool, int) { return parseCLF(r, line) }

func (p clf) Name() string {
	if p.name == "" {
		return "combined"
	}
	return p.name
}
