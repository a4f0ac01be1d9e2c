package transports

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/weblogd/weblogd/record"
)

// The encoders below are append-style and hand-written: every record is
// encoded once per batch and format, on the hot path between the tailer
// and every subscriber, so they avoid reflection and allocation. Both
// forms write the fields of record.Fields, under its keys and in its
// order (the record package's test checks them against it):
//
//	seq source node time vhost host ident user method path proto request
//	status bytes duration upstream_duration referer agent extra raw fields
//
// Empty strings are omitted ("never invented"); a parsed record always
// has status and bytes, and request when method, path and proto are all
// empty (the request line was empty, "", or did not split into them); an
// unparsed one has only seq, source, node and raw. Durations are written
// when the line gives them; fields, when it has any, come last: in XML
// as <field name="...">value</field> children of <hit>, the only case
// where <hit> is not an empty element.

// timeLayout keeps the log's own offset and writes +00:00 rather than Z,
// so that every time in the stream has the same shape.
const timeLayout = "2006-01-02T15:04:05-07:00"

// AppendXML appends r as one <hit> element, without a newline: empty, or
// with a <field> child per pair of r.Fields. The result is well-formed
// XML 1.0 in UTF-8 whatever bytes r holds, and holds no line break.
func AppendXML(dst []byte, r *record.Record) []byte {
	dst = append(dst, `<hit seq="`...)
	dst = strconv.AppendUint(dst, r.Seq, 10)
	dst = append(dst, '"')
	dst = appendXMLAttr(dst, ` source="`, r.Source)
	dst = appendXMLAttr(dst, ` node="`, r.Node)
	if !r.Parsed {
		// raw is written even when empty: an empty line is a record too.
		dst = append(dst, ` raw="`...)
		dst = appendXMLString(dst, r.Line)
		return append(dst, `"/>`...)
	}
	if !r.Time.IsZero() {
		dst = append(dst, ` time="`...)
		dst = appendTime(dst, r.Time)
		dst = append(dst, '"')
	}
	dst = appendXMLAttr(dst, ` vhost="`, r.VHost)
	dst = appendXMLAttr(dst, ` host="`, r.Host)
	dst = appendXMLAttr(dst, ` ident="`, r.Ident)
	dst = appendXMLAttr(dst, ` user="`, r.User)
	dst = appendXMLAttr(dst, ` method="`, r.Method)
	dst = appendXMLAttr(dst, ` path="`, r.Path)
	dst = appendXMLAttr(dst, ` proto="`, r.Proto)
	if r.Request != "" || unsplit(r) {
		dst = append(dst, ` request="`...)
		dst = appendXMLString(dst, r.Request)
		dst = append(dst, '"')
	}
	dst = append(dst, ` status="`...)
	dst = strconv.AppendInt(dst, int64(r.Status), 10)
	dst = append(dst, `" bytes="`...)
	dst = strconv.AppendInt(dst, r.Bytes, 10)
	dst = append(dst, '"')
	dst = appendSecondsField(dst, ` duration="`, r.Duration, '"')
	dst = appendSecondsField(dst, ` upstream_duration="`, r.UpstreamDuration, '"')
	dst = appendXMLAttr(dst, ` referer="`, r.Referer)
	dst = appendXMLAttr(dst, ` agent="`, r.Agent)
	dst = appendXMLAttr(dst, ` extra="`, r.Extra)
	if len(r.Fields) == 0 {
		return append(dst, "/>"...)
	}
	dst = append(dst, '>')
	for _, p := range r.Fields {
		dst = append(dst, `<field name="`...)
		dst = appendXMLString(dst, p.Name)
		dst = append(dst, `">`...)
		dst = appendXMLString(dst, p.Value)
		dst = append(dst, "</field>"...)
	}
	return append(dst, "</hit>"...)
}

// unsplit reports whether a parsed record's request did not split into
// method, path and proto: then request is written even when empty, so
// that every parsed record says what its request was.
func unsplit(r *record.Record) bool {
	return r.Method == "" && r.Path == "" && r.Proto == ""
}

// AppendJSON appends r as one JSON object, without a newline. The result
// is valid UTF-8 JSON whatever bytes r holds, and safe to embed in
// JavaScript source (U+2028 and U+2029 are escaped).
func AppendJSON(dst []byte, r *record.Record) []byte {
	return appendJSON(dst, r, false)
}

// AppendJSONRaw is AppendJSON that writes the raw line of a parsed record
// too, in its place before fields: the NATS wire form, whose edges filter
// on the raw line with q=.
func AppendJSONRaw(dst []byte, r *record.Record) []byte {
	return appendJSON(dst, r, true)
}

func appendJSON(dst []byte, r *record.Record, withRaw bool) []byte {
	dst = append(dst, `{"seq":`...)
	dst = strconv.AppendUint(dst, r.Seq, 10)
	dst = appendJSONField(dst, `,"source":"`, r.Source)
	dst = appendJSONField(dst, `,"node":"`, r.Node)
	if !r.Parsed {
		dst = append(dst, `,"raw":"`...)
		dst = appendJSONString(dst, r.Line)
		return append(dst, `"}`...)
	}
	if !r.Time.IsZero() {
		dst = append(dst, `,"time":"`...)
		dst = appendTime(dst, r.Time)
		dst = append(dst, '"')
	}
	dst = appendJSONField(dst, `,"vhost":"`, r.VHost)
	dst = appendJSONField(dst, `,"host":"`, r.Host)
	dst = appendJSONField(dst, `,"ident":"`, r.Ident)
	dst = appendJSONField(dst, `,"user":"`, r.User)
	dst = appendJSONField(dst, `,"method":"`, r.Method)
	dst = appendJSONField(dst, `,"path":"`, r.Path)
	dst = appendJSONField(dst, `,"proto":"`, r.Proto)
	if r.Request != "" || unsplit(r) {
		dst = append(dst, `,"request":"`...)
		dst = appendJSONString(dst, r.Request)
		dst = append(dst, '"')
	}
	dst = append(dst, `,"status":`...)
	dst = strconv.AppendInt(dst, int64(r.Status), 10)
	dst = append(dst, `,"bytes":`...)
	dst = strconv.AppendInt(dst, r.Bytes, 10)
	dst = appendSecondsField(dst, `,"duration":`, r.Duration, 0)
	dst = appendSecondsField(dst, `,"upstream_duration":`, r.UpstreamDuration, 0)
	dst = appendJSONField(dst, `,"referer":"`, r.Referer)
	dst = appendJSONField(dst, `,"agent":"`, r.Agent)
	dst = appendJSONField(dst, `,"extra":"`, r.Extra)
	if withRaw && r.Line != "" {
		dst = append(dst, `,"raw":"`...)
		dst = appendJSONString(dst, r.Line)
		dst = append(dst, '"')
	}
	if len(r.Fields) > 0 {
		dst = append(dst, `,"fields":{`...)
		for i, p := range r.Fields {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, '"')
			dst = appendJSONString(dst, p.Name)
			dst = append(dst, `":"`...)
			dst = appendJSONString(dst, p.Value)
			dst = append(dst, '"')
		}
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

// appendSecondsField appends prefix, d in seconds and closing, or nothing
// when the line does not give d; closing 0 closes nothing (JSON numbers).
func appendSecondsField(dst []byte, prefix string, d record.Duration, closing byte) []byte {
	if !d.Set {
		return dst
	}
	dst = append(dst, prefix...)
	dst = appendSeconds(dst, d.D)
	if closing != 0 {
		dst = append(dst, closing)
	}
	return dst
}

// appendSeconds appends d as a decimal number of seconds, exact to the
// nanosecond, without trailing zeros: 0.023, 2, 0, -1.5. time.ParseDuration
// reads it back with "s" appended.
func appendSeconds(dst []byte, d time.Duration) []byte {
	u := uint64(d)
	if d < 0 {
		dst = append(dst, '-')
		u = -u // two's complement: right for math.MinInt64 too
	}
	dst = strconv.AppendUint(dst, u/1e9, 10)
	frac := u % 1e9
	if frac == 0 {
		return dst
	}
	var digits [9]byte
	for i := 8; i >= 0; i-- {
		digits[i] = byte('0' + frac%10)
		frac /= 10
	}
	n := 9
	for digits[n-1] == '0' {
		n--
	}
	dst = append(dst, '.')
	return append(dst, digits[:n]...)
}

// AppendXMLGap appends the marker of the records from..to (inclusive) that
// a subscriber missed: <gap from="101" to="150"/>.
func AppendXMLGap(dst []byte, from, to uint64) []byte {
	dst = append(dst, `<gap from="`...)
	dst = strconv.AppendUint(dst, from, 10)
	dst = append(dst, `" to="`...)
	dst = strconv.AppendUint(dst, to, 10)
	return append(dst, `"/>`...)
}

// AppendJSONGap appends the JSON gap marker:
// {"type":"gap","from":101,"to":150}.
func AppendJSONGap(dst []byte, from, to uint64) []byte {
	dst = append(dst, `{"type":"gap","from":`...)
	dst = strconv.AppendUint(dst, from, 10)
	dst = append(dst, `,"to":`...)
	dst = strconv.AppendUint(dst, to, 10)
	return append(dst, '}')
}

// appendTime writes t as timeLayout. It is hand-written for the common
// case (years 0-9999, whole-minute offsets) because AppendFormat
// interprets the layout on every call.
func appendTime(dst []byte, t time.Time) []byte {
	year, month, day := t.Date()
	_, off := t.Zone()
	if year < 0 || year > 9999 || off%60 != 0 || off <= -100*3600 || off >= 100*3600 {
		return t.AppendFormat(dst, timeLayout)
	}
	hour, minute, sec := t.Clock()
	dst = append(dst,
		byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+int(month)/10), byte('0'+int(month)%10), '-',
		byte('0'+day/10), byte('0'+day%10), 'T',
		byte('0'+hour/10), byte('0'+hour%10), ':',
		byte('0'+minute/10), byte('0'+minute%10), ':',
		byte('0'+sec/10), byte('0'+sec%10))
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	oh, om := off/3600, off/60%60
	return append(dst, sign, byte('0'+oh/10), byte('0'+oh%10), ':', byte('0'+om/10), byte('0'+om%10))
}

// appendXMLAttr appends prefix, v escaped and the closing quote, or
// nothing when v is empty.
func appendXMLAttr(dst []byte, prefix, v string) []byte {
	if v == "" {
		return dst
	}
	dst = append(dst, prefix...)
	dst = appendXMLString(dst, v)
	return append(dst, '"')
}

// replacement is U+FFFD in UTF-8: what the encoders write for bytes that
// are not UTF-8 and for characters XML 1.0 forbids.
const replacement = "\uFFFD"

// xmlEscapes maps each ASCII byte to what an attribute value holds in its
// place; "" means the byte itself. Tab, LF and CR are written as character
// references because a parser normalises literal ones in attribute values
// to spaces. Other C0 controls are not XML 1.0 characters at all.
var xmlEscapes = [utf8.RuneSelf]string{
	'&': "&amp;", '<': "&lt;", '>': "&gt;", '"': "&quot;", '\'': "&apos;",
	'\t': "&#9;", '\n': "&#10;", '\r': "&#13;",
	0x00: replacement, 0x01: replacement, 0x02: replacement, 0x03: replacement,
	0x04: replacement, 0x05: replacement, 0x06: replacement, 0x07: replacement,
	0x08: replacement, 0x0b: replacement, 0x0c: replacement, 0x0e: replacement,
	0x0f: replacement, 0x10: replacement, 0x11: replacement, 0x12: replacement,
	0x13: replacement, 0x14: replacement, 0x15: replacement, 0x16: replacement,
	0x17: replacement, 0x18: replacement, 0x19: replacement, 0x1a: replacement,
	0x1b: replacement, 0x1c: replacement, 0x1d: replacement, 0x1e: replacement,
	0x1f: replacement,
}

// xmlSafe marks the bytes an XML attribute value holds as they are: ASCII
// with no entry in xmlEscapes. The scanning loops test it first because
// almost every byte of a log line passes.
var xmlSafe = safeBytes(&xmlEscapes)

// jsonSafe is xmlSafe for JSON strings.
var jsonSafe = safeBytes(&jsonEscapes)

func safeBytes(escapes *[utf8.RuneSelf]string) (safe [256]bool) {
	for c, esc := range escapes {
		safe[c] = esc == ""
	}
	return safe
}

// appendXMLString appends s escaped for an XML attribute value. Runs of
// bytes that need nothing are copied at once.
func appendXMLString(dst []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if xmlSafe[c] {
			i++
			continue
		}
		var esc string
		size := 1
		if c < utf8.RuneSelf {
			esc = xmlEscapes[c]
		} else {
			var r rune
			r, size = utf8.DecodeRuneInString(s[i:])
			// Each byte that is not UTF-8 becomes one U+FFFD, as in
			// encoding/json; U+FFFE and U+FFFF are not XML 1.0 characters.
			if !(r == utf8.RuneError && size == 1 || r == 0xFFFE || r == 0xFFFF) {
				i += size
				continue
			}
			esc = replacement
		}
		dst = append(dst, s[start:i]...)
		dst = append(dst, esc...)
		i += size
		start = i
	}
	return append(dst, s[start:]...)
}

// appendJSONField appends prefix, v escaped and the closing quote, or
// nothing when v is empty.
func appendJSONField(dst []byte, prefix, v string) []byte {
	if v == "" {
		return dst
	}
	dst = append(dst, prefix...)
	dst = appendJSONString(dst, v)
	return append(dst, '"')
}

// jsonEscapes maps each ASCII byte to its escape inside a JSON string;
// "" means the byte itself.
var jsonEscapes = [utf8.RuneSelf]string{
	'"': `\"`, '\\': `\\`,
	'\b': `\b`, '\f': `\f`, '\n': `\n`, '\r': `\r`, '\t': `\t`,
	0x00: `\u0000`, 0x01: `\u0001`, 0x02: `\u0002`, 0x03: `\u0003`,
	0x04: `\u0004`, 0x05: `\u0005`, 0x06: `\u0006`, 0x07: `\u0007`,
	0x0b: `\u000b`, 0x0e: `\u000e`, 0x0f: `\u000f`,
	0x10: `\u0010`, 0x11: `\u0011`, 0x12: `\u0012`, 0x13: `\u0013`,
	0x14: `\u0014`, 0x15: `\u0015`, 0x16: `\u0016`, 0x17: `\u0017`,
	0x18: `\u0018`, 0x19: `\u0019`, 0x1a: `\u001a`, 0x1b: `\u001b`,
	0x1c: `\u001c`, 0x1d: `\u001d`, 0x1e: `\u001e`, 0x1f: `\u001f`,
}

// appendJSONString appends s escaped for the inside of a JSON string.
// Runs of bytes that need nothing are copied at once.
func appendJSONString(dst []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if jsonSafe[c] {
			i++
			continue
		}
		var esc string
		size := 1
		if c < utf8.RuneSelf {
			esc = jsonEscapes[c]
		} else {
			var r rune
			r, size = utf8.DecodeRuneInString(s[i:])
			switch {
			case r == utf8.RuneError && size == 1:
				esc = replacement
			case r == '\u2028':
				// Valid JSON, but a line terminator in JavaScript before
				// ES2019: escaped so that the output can be inlined in a
				// script.
				esc = `\u2028`
			case r == '\u2029':
				esc = `\u2029`
			default:
				i += size
				continue
			}
		}
		dst = append(dst, s[start:i]...)
		dst = append(dst, esc...)
		i += size
		start = i
	}
	return append(dst, s[start:]...)
}
