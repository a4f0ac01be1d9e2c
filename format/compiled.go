package format

import (
	"strings"
	"time"

	"github.com/weblogd/weblogd/record"
)

// A program is a compiled nginx log_format or Apache LogFormat: the
// literal text the line starts with, then one slot per variable or
// directive, each followed by the literal text up to the next one. Parse
// walks it once over the line; values are substrings of the line unless
// they need unescaping. A program is never changed after compiling, so
// one is safe to share between sources.
type program struct {
	name    string
	lead    string // literal text before the first slot
	slots   []slot
	esc     escaping // how the server escaped the values
	nfields int      // slots of kind kField, to size Fields once
	pieces  bool     // time comes in strftime pieces, put together at the end
	path    bool     // the path is built from a kURI and its query
}

// slot reads one value of the line.
type slot struct {
	kind  kind
	mode  mode
	class class    // the bytes a value of mode byClass may hold
	width int      // the length of a value of mode fixed
	esc   escaping // how the server escaped the value
	name  string   // the name under Fields, for kind kField
	lit   string   // the literal text after the value, up to the next slot
	label string   // the variable or directive as the format writes it
	col   int      // its column in the format, for errors
}

// mode says how a slot finds where its value ends.
type mode uint8

const (
	toLit   mode = iota // at the first unescaped occurrence of lit
	toLast              // lit ends the line: the value runs up to it
	toEnd               // the value is the rest of the line
	fixed               // width bytes, then lit
	byClass             // the bytes of class, then lit
)

// class is a set of bytes for a value that another slot follows with
// nothing between them ("$uri$is_args$args", "%U%q").
type class uint8

const (
	noClass  class = iota
	cDigits        // 0-9
	cNumber        // a decimal number or "-"
	cHost          // a host name or address, with its port
	cPath          // a path, up to its query
	cTarget        // anything up to a space
	cQmark         // "?" or nothing
	cLetters       // A-Z a-z
	cWord          // letters, digits, '.', '-', '_'
)

func (c class) has(b byte) bool {
	switch c {
	case cDigits:
		return '0' <= b && b <= '9'
	case cNumber:
		return '0' <= b && b <= '9' || b == '.' || b == '-'
	case cHost:
		return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' ||
			b == '.' || b == '-' || b == '_' || b == ':' || b == '[' || b == ']'
	case cPath:
		return b > ' ' && b != '?' && b != '"' && b != 0x7f
	case cTarget:
		return b > ' ' && b != '"' && b != 0x7f
	case cLetters:
		return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z'
	case cWord:
		return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' ||
			b == '.' || b == '-' || b == '_'
	}
	return false
}

// escaping is how a server escaped the values it wrote.
type escaping uint8

const (
	escBackslash escaping = iota // \xHH, \" \\ \n ...: nginx's default and Apache
	escJSON                      // nginx escape=json: \" \\ \n \uXXXX ...
	escNone                      // nginx escape=none: as is
)

// kind is what a slot's value sets in the record.
type kind uint8

const (
	kField     kind = iota // appended to Fields under the slot's name
	kHost                  // Host
	kIdent                 // Ident
	kUser                  // User
	kVHost                 // VHost
	kPort                  // a port just after a kVHost and ':': VHost becomes "host:port"
	kRequest               // Method, Path and Proto, or Request
	kMethod                // Method
	kPath                  // Path: the request target with its query
	kURI                   // Path: the path alone, joined by a query that follows
	kArgs                  // the query without '?' (nginx $args)
	kQuery                 // the query with its '?' or empty (Apache %q)
	kIsArgs                // nginx $is_args, "?" or empty, between kURI and kArgs
	kProto                 // Proto
	kStatus                // Status
	kBytes                 // Bytes
	kReferer               // Referer
	kAgent                 // Agent
	kSeconds               // Duration, decimal seconds
	kMillis                // Duration, milliseconds
	kMicros                // Duration, microseconds
	kUpstream              // UpstreamDuration: nginx's list of decimal seconds
	kTimeLocal             // Time: 10/Oct/2000:13:55:36 -0700
	kTimeCLF               // Time: [10/Oct/2000:13:55:36 -0700]
	kTimeISO               // Time: ISO 8601, YYYY-MM-DDThh:mm:ss±hh:mm
	kMsec                  // Time: seconds since the epoch with a fraction (nginx $msec)
	kEpochMS               // Time: milliseconds since the epoch
	kEpochUS               // Time: microseconds since the epoch

	// The pieces of a strftime time, put together once the line is read.
	kYear      // %Y
	kYear2     // %y
	kMonth     // %m
	kMonthName // %b %B
	kDay       // %d %e
	kHour      // %H
	kHour12    // %I
	kAMPM      // %p
	kMinute    // %M
	kSecond    // %S
	kZone      // %z: +0200
	kFracMS    // Apache %{msec_frac}t
	kFracUS    // Apache %{usec_frac}t
	kSkip      // read and ignored: day names, zone names, day of the year
)

// isPiece reports whether k is a piece of a strftime time.
func (k kind) isPiece() bool { return k >= kYear }

// whole reports whether k is a whole time.
func (k kind) whole() bool { return k >= kTimeLocal && k < kYear }

// state is what Parse remembers from one slot to another.
type state struct {
	vhost    int // where the VHost value started
	uri      span
	query    span
	qmark    bool // the query is kQuery, with its '?'
	uriRaw   string
	queryRaw string
	time     time.Time // a whole time, when pieces may join it
	tp       timeParts
}

type span struct{ from, to int }

// maxTries bounds how many times Parse goes back to an earlier value to
// try its literal's next occurrence, so that no line costs more than a
// few passes over it.
const maxTries = 32

// mark is a value that ended at the first occurrence of its literal and
// might end at a later one: an unquoted "$request" holds spaces.
type mark struct {
	k, from, end int
	nfields      int // len(r.Fields) before the slot
}

// Parse reads line into r by the program. Each value ends at the first
// occurrence of the literal that follows it; when the rest of the line
// then does not fit, Parse tries the next occurrence for the values
// before, a bounded number of times. It never panics: every index is
// checked against the line's length.
func (p *program) Parse(r *record.Record, line string) (bool, int) {
	s := line
	if n := len(s); n > 0 && s[n-1] == '\r' {
		s = s[:n-1]
	}
	if !strings.HasPrefix(s, p.lead) {
		return false, commonPrefix(s, p.lead)
	}
	i := len(p.lead)
	at := -1 // where the line first did not fit
	var st state
	var marks [8]mark
	nm, tries := 0, 0
	for k := 0; ; {
		if k == len(p.slots) {
			if i == len(s) {
				break
			}
		} else {
			sl := &p.slots[k]
			end, next := sl.find(s, i)
			nf := len(r.Fields)
			if end >= 0 && p.set(r, &st, sl, s, i, end) {
				if sl.mode == toLit {
					if nm == len(marks) {
						copy(marks[:], marks[1:])
						nm--
					}
					marks[nm] = mark{k: k, from: i, end: end, nfields: nf}
					nm++
				}
				i = next
				k++
				continue
			}
		}
		if at < 0 {
			at = i
		}
		for {
			if nm == 0 || tries == maxTries {
				return false, at
			}
			tries++
			m := &marks[nm-1]
			sl := &p.slots[m.k]
			j := indexLit(s, m.from, m.end+1, sl.lit, sl.esc != escNone)
			if j < 0 {
				nm--
				continue
			}
			m.end = j
			r.Fields = r.Fields[:m.nfields]
			if p.set(r, &st, sl, s, m.from, j) {
				k, i = m.k+1, j+len(sl.lit)
				break
			}
		}
	}
	if !p.finish(r, &st, s) {
		return false, len(s)
	}
	return true, 0
}

func (p *program) Name() string { return p.name }

// find returns where the value that starts at s[i] ends, and where the
// next slot starts; end < 0 when the line does not fit.
func (sl *slot) find(s string, i int) (end, next int) {
	switch sl.mode {
	case toLit:
		j := indexLit(s, i, i, sl.lit, sl.esc != escNone)
		if j < 0 {
			return -1, 0
		}
		return j, j + len(sl.lit)
	case toLast:
		end = len(s) - len(sl.lit)
		if end < i || s[end:] != sl.lit || (sl.lit[0] == '"' && sl.esc != escNone && escaped(s, i, end)) {
			return -1, 0
		}
		return end, len(s)
	case toEnd:
		return len(s), len(s)
	case fixed:
		end = i + sl.width
		if end > len(s) {
			return -1, 0
		}
	case byClass:
		end = i
		for end < len(s) && sl.class.has(s[end]) {
			end++
		}
		if sl.class == cQmark && end < len(s) && s[end] == '?' {
			end++
		}
	}
	if !strings.HasPrefix(s[end:], sl.lit) {
		return -1, 0
	}
	return end, end + len(sl.lit)
}

// indexLit returns the index of the first occurrence of lit in s from i
// on, or -1, for a value that starts at from. With escapes, a quote that
// a backslash escapes is part of the value, not its end.
func indexLit(s string, from, i int, lit string, esc bool) int {
	for {
		if i > len(s) {
			return -1
		}
		var k int
		if len(lit) == 1 {
			k = strings.IndexByte(s[i:], lit[0])
		} else {
			k = strings.Index(s[i:], lit)
		}
		if k < 0 {
			return -1
		}
		j := i + k
		if esc && lit[0] == '"' && escaped(s, from, j) {
			i = j + 1
			continue
		}
		return j
	}
}

// escaped reports whether s[q] follows an odd number of backslashes that
// start at from or later.
func escaped(s string, from, q int) bool {
	b := q
	for b > from && s[b-1] == '\\' {
		b--
	}
	return (q-b)%2 == 1
}

func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// text returns a value with the server's escapes decoded.
func (sl *slot) text(v string) string { return decode(sl.esc, v) }

// decode returns v with the escapes of esc decoded.
func decode(esc escaping, v string) string {
	switch esc {
	case escBackslash:
		return unescape(v)
	case escJSON:
		return unescapeJSON(v)
	}
	return v
}

// set stores the value s[i:end] of one slot; false if it is not a value
// of its kind.
func (p *program) set(r *record.Record, st *state, sl *slot, s string, i, end int) bool {
	v := s[i:end]
	switch sl.kind {
	case kField:
		if r.Fields == nil {
			r.Fields = make([]record.Pair, 0, p.nfields)
		}
		r.Fields = append(r.Fields, record.Pair{Name: sl.name, Value: sl.text(v)})
	case kVHost:
		st.vhost = i
		r.VHost = sl.text(v)
	case kPort:
		r.VHost = s[st.vhost:end]
	case kURI:
		st.uri, st.uriRaw = span{i, end}, v
		r.Path = sl.text(v)
	case kArgs, kQuery:
		st.query, st.queryRaw, st.qmark = span{i, end}, v, sl.kind == kQuery
	case kIsArgs:
		if v != "" && v != "?" {
			return false
		}
		// Without a query nginx writes $args, which it does not have, as
		// "-": "$uri$is_args$args" is "/path-", and the '-' is not the
		// path's.
		if v == "" && st.uri.to == i && st.uri.to > st.uri.from && s[i-1] == '-' {
			st.uri.to--
			st.uriRaw = s[st.uri.from:st.uri.to]
			r.Path = sl.text(st.uriRaw)
		}
	case kTimeLocal, kTimeCLF, kTimeISO, kMsec, kEpochMS, kEpochUS:
		t, ok := wholeTime(sl.kind, v)
		if !ok {
			return false
		}
		if p.pieces {
			st.time = t
		} else {
			r.Time = t
		}
	default:
		if sl.kind.isPiece() {
			return st.tp.set(sl.kind, v)
		}
		return setValue(r, sl.kind, sl.text(v))
	}
	return true
}

// wholeTime parses a time of one of the whole-time kinds.
func wholeTime(k kind, v string) (time.Time, bool) {
	switch k {
	case kTimeLocal:
		if len(v) == 26 {
			return parseTimeLocal(v)
		}
	case kTimeCLF:
		if len(v) == timeLen {
			return parseTime(v)
		}
	case kTimeISO:
		return parseISOTime(v)
	case kMsec:
		return unixSeconds(v)
	case kEpochMS, kEpochUS:
		unit := time.Millisecond
		if k == kEpochUS {
			unit = time.Microsecond
		}
		if d, ok := decimalDuration(v, unit); ok {
			return time.Unix(0, int64(d)).UTC(), true
		}
	}
	return time.Time{}, false
}

// setValue stores a decoded value of a record field's kind. The JSON
// preset uses it too, so both read a variable the same way.
func setValue(r *record.Record, k kind, v string) bool {
	switch k {
	case kHost:
		r.Host = v
	case kIdent:
		r.Ident = v
	case kUser:
		r.User = v
	case kVHost:
		r.VHost = v
	case kRequest:
		// Both cases set all four: a value tried again must not leave
		// the last try's.
		if m, t, pr, ok := splitRequest(v); ok {
			r.Method, r.Path, r.Proto, r.Request = m, t, pr, ""
		} else {
			r.Method, r.Path, r.Proto, r.Request = "", "", "", v
		}
	case kMethod:
		r.Method = v
	case kPath, kURI:
		r.Path = v
	case kProto:
		r.Proto = v
	case kStatus:
		if len(v) != 3 {
			return false
		}
		n, ok := atoi3(v)
		if !ok || n < 100 {
			return false
		}
		r.Status = n
	case kBytes:
		n, ok := parseBytes(v)
		if !ok {
			return false
		}
		r.Bytes = n
	case kReferer:
		r.Referer = v
	case kAgent:
		r.Agent = v
	case kSeconds, kMillis, kMicros:
		if v == "-" {
			r.Duration = record.Duration{}
			return true
		}
		unit := time.Second
		if k == kMillis {
			unit = time.Millisecond
		} else if k == kMicros {
			unit = time.Microsecond
		}
		d, j, ok := scanSeconds(v, 0)
		if unit != time.Second || j != len(v) {
			d, ok = decimalDuration(v, unit)
		}
		if !ok {
			return false
		}
		r.Duration = record.Took(d)
	case kUpstream:
		d, ok := parseUpstream(v)
		if !ok {
			return false
		}
		r.UpstreamDuration = d
	default:
		return false
	}
	return true
}

// finish puts together what several slots give: the path and its query,
// and a time in pieces.
func (p *program) finish(r *record.Record, st *state, s string) bool {
	if p.path && st.query.to > st.query.from {
		q, sep := st.queryRaw, "?"
		if st.qmark {
			sep = "" // Apache's %q has its '?'
		} else if q == "-" {
			q = "" // nginx's $args when there is none
		}
		follows := st.uri.to == st.query.from && st.qmark ||
			st.uri.to+1 == st.query.from && s[st.uri.to] == '?'
		switch {
		case q == "":
		case follows && strings.IndexByte(s[st.uri.from:st.query.to], '\\') < 0:
			// The query follows the path in the line: one substring.
			r.Path = s[st.uri.from:st.query.to]
		default:
			r.Path = decode(p.esc, st.uriRaw) + sep + decode(p.esc, q)
		}
	}
	if p.pieces {
		t, ok := st.tp.build(st.time)
		if !ok {
			return false
		}
		r.Time = t
	}
	return true
}

// parseUpstream sums nginx's list of upstream times: "0.010, 0.020 :
// 0.005", where ", " separates upstreams tried in turn and " : " the
// groups of an internal redirect; "-" (no answer) parts are left out,
// and a list of only "-" says nothing.
func parseUpstream(s string) (record.Duration, bool) {
	var sum time.Duration
	set := false
	for i := 0; i < len(s); {
		switch s[i] {
		case ' ', ',', ':':
			i++
			continue
		case '-':
			i++
		default:
			d, j, ok := scanSeconds(s, i)
			if !ok {
				return record.Duration{}, false
			}
			sum, set, i = sum+d, true, j
		}
		if i < len(s) && s[i] != ' ' && s[i] != ',' && s[i] != ':' {
			return record.Duration{}, false
		}
	}
	if !set {
		return record.Duration{}, true
	}
	return record.Took(sum), true
}

// scanSeconds reads the seconds at s[i] ("0.023"), exactly to the
// nanosecond, and returns where they end: parseUpstream reads a list
// with it. Reading in one pass, without decimalDuration's division, makes
// BenchmarkCompiledNginx/timed about a twelfth quicker.
func scanSeconds(s string, i int) (time.Duration, int, bool) {
	start := i
	var whole int64
	for ; i < len(s) && s[i]-'0' <= 9; i++ {
		if whole > (1<<63-1)/int64(time.Second)/10 {
			return 0, i, false
		}
		whole = whole*10 + int64(s[i]-'0')
	}
	if i == start {
		return 0, i, false
	}
	var frac int64
	digits := 0
	if i < len(s) && s[i] == '.' {
		i++
		from := i
		for ; i < len(s) && s[i]-'0' <= 9; i++ {
			if digits < 9 {
				frac = frac*10 + int64(s[i]-'0')
				digits++
			}
		}
		if i == from {
			return 0, i, false
		}
	}
	return time.Duration(whole)*time.Second + time.Duration(frac*pow10[9-digits]), i, true
}
