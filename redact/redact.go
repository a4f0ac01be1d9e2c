// Package redact masks what an access log says about people before a
// record is kept: client addresses (to their network, IPv4 /24 and IPv6
// /48, or to a keyed hash), query strings or the values of named
// parameters, and user names. feed applies it where a line becomes a
// record, before the record enters the ring, so nothing unmasked reaches
// a subscriber, the API or the dashboard, and the q= filter searches only
// the masked text.
//
// Every field read from the line can carry what an option hides, and is
// masked: its IP addresses wherever they stand, its query strings, its
// secret parameters, and (for a line that parsed) its user fields. A line
// that did not parse cannot be told apart into fields: with user on, its
// text is withheld (Withheld); with the other options, it is masked like
// a parsed line's fields.
//
// A Redactor is immutable and safe for concurrent use.
package redact

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/weblogd/weblogd/record"
)

// HostMode says what becomes of client addresses.
type HostMode int

const (
	HostKeep   HostMode = iota // as logged
	HostPrefix                 // IPv4 to its /24, IPv6 to its /48 (203.0.113.0, 2001:db8:1::)
	HostHash                   // a keyed hash, "h-" and 16 hex digits: one client stays recognisable, but not who it is
)

// Mask is what a masked parameter value and a name that is not an address
// become.
const Mask = "redacted"

// Withheld is the raw text of a line that did not parse when user names
// are redacted: it cannot be told where a user name would be in it.
const Withheld = "(withheld: the line did not parse and user names are redacted)"

// DefaultParams are the parameters whose values are masked when params is
// enabled without a list: the usual names of secrets in URLs.
var DefaultParams = []string{"token", "access_token", "refresh_token", "id_token", "auth", "key", "api_key", "apikey",
	"password", "passwd", "pwd", "secret", "client_secret", "session", "sessionid", "sid", "signature", "sig", "code"}

// Options say what to mask. The zero value masks nothing.
type Options struct {
	Host HostMode
	// HashKey keys HostHash: without the key, the hash of an address
	// cannot be computed, so it cannot be reversed by hashing the
	// internet's 4 billion addresses. Required with HostHash, at least 16
	// bytes.
	HashKey []byte
	// Query drops query strings (from '?' up to a space or quote) from
	// every field.
	Query bool
	// Params masks the values of these parameters (names compared after
	// %-decoding, without case) wherever name=value is written, keeping
	// the rest of the text. With Query too, it masks those written outside
	// a query string (a fragment, a user agent).
	Params []string
	// User replaces the ident and user fields with "-".
	User bool
}

// Enabled reports whether o masks anything.
func (o Options) Enabled() bool {
	return o.Host != HostKeep || o.Query || len(o.Params) > 0 || o.User
}

// optionNames are the words of ParseOptions.
var optionNames = []string{"host", "query", "params", "user"}

// ParseOptions reads the --redact words, each one of:
//
//	host            addresses to their network: IPv4 /24, IPv6 /48 (also host=prefix)
//	host=hash       addresses to a keyed hash (the key: Options.HashKey)
//	query           drop query strings
//	params          mask the values of DefaultParams
//	params=a,b,c    mask the values of a, b and c
//	user            drop user names (ident and user)
//
// A word may itself be a comma list ("host,query"); in it, a word that is
// not an option's name continues the params list before it
// ("params=token,key,user" is three options, though: a parameter named like
// an option must come first in its list).
func ParseOptions(words []string) (Options, error) {
	var o Options
	var parts []string
	for _, w := range words {
		parts = append(parts, strings.Split(w, ",")...)
	}
	inParams := false
	for _, p := range parts {
		p = strings.TrimSpace(p)
		name, val, hasVal := strings.Cut(p, "=")
		if inParams && !hasVal && !slices.Contains(optionNames, name) {
			if p == "" {
				return o, errors.New("params has an empty name")
			}
			o.Params = append(o.Params, p)
			continue
		}
		inParams = false
		switch name {
		case "host":
			switch val {
			case "", "prefix":
				o.Host = HostPrefix
			case "hash":
				o.Host = HostHash
			default:
				return o, fmt.Errorf("host=%s: want host (IPv4 /24, IPv6 /48), host=prefix (the same) or host=hash", val)
			}
		case "query", "user":
			if hasVal {
				return o, fmt.Errorf("%s takes no value", name)
			}
			if name == "query" {
				o.Query = true
			} else {
				o.User = true
			}
		case "params":
			if !hasVal {
				o.Params = append(o.Params, DefaultParams...)
				continue
			}
			if val == "" {
				return o, errors.New("params= has an empty list: give names, or params alone for the default list")
			}
			o.Params = append(o.Params, val)
			inParams = true
		case "":
			return o, errors.New("an empty redaction option")
		default:
			return o, fmt.Errorf("unknown redaction %q: want host, host=hash, query, params, params=a,b or user", p)
		}
	}
	return o, nil
}

// Redactor masks records.
type Redactor struct {
	o      Options
	params map[string]bool // lower case
}

// New checks o and returns its Redactor; nil (which masks nothing) when o
// masks nothing.
func New(o Options) (*Redactor, error) {
	if o.Host == HostHash && len(o.HashKey) < 16 {
		return nil, errors.New("host=hash needs a key of at least 16 bytes (--redact-key-file)")
	}
	if !o.Enabled() {
		return nil, nil
	}
	r := &Redactor{o: o, params: map[string]bool{}}
	for _, p := range o.Params {
		r.params[strings.ToLower(p)] = true
	}
	return r, nil
}

// Options returns what r masks.
func (r *Redactor) Options() Options {
	if r == nil {
		return Options{}
	}
	return r.o
}

// Record masks rec in place; it must not be in the ring yet (records there
// are shared and immutable). A nil Redactor leaves it alone.
//
// Every field read from the line is masked, the agent and the method as
// much as the path: a log writes what clients send, and a client may send
// an address or a secret anywhere. record.Fields marks them Masked, and
// the record package's test checks each against this function.
func (r *Redactor) Record(rec *record.Record) {
	if r == nil {
		return
	}
	if !rec.Parsed {
		if r.o.User {
			rec.Line = Withheld
			return
		}
		rec.Line = r.Text(rec.Line)
		return
	}
	prefix, rest, ok := splitPrefix(rec.Line)
	rec.VHost = r.Text(rec.VHost)
	if r.o.Host != HostKeep {
		rec.Host = r.hostList(rec.Host)
	} else {
		rec.Host = r.Text(rec.Host)
	}
	if r.o.User {
		rec.Ident, rec.User = dash(rec.Ident), dash(rec.User)
	} else {
		rec.Ident, rec.User = r.Text(rec.Ident), r.Text(rec.User)
	}
	rec.Method = r.Text(rec.Method)
	rec.Path = r.Text(rec.Path)
	rec.Proto = r.Text(rec.Proto)
	rec.Request = r.Text(rec.Request)
	rec.Referer = r.Text(rec.Referer)
	rec.Agent = r.Text(rec.Agent)
	rec.Extra = r.Text(rec.Extra)
	for i := range rec.Fields {
		// Any value may hold an address (an X-Forwarded-For list) or a
		// query; the slice is this record's own, not yet shared.
		rec.Fields[i].Value = r.Text(rec.Fields[i].Value)
	}
	if !ok {
		// The parser found the time, so this does not happen; if it did,
		// the line could not be masked field by field: withhold it.
		rec.Line = Withheld
		return
	}
	// The raw line: its prefix rebuilt from the masked fields (vhost, host,
	// ident, user, one space apart), the rest (time, request, referer,
	// agent, extra) with every address, query and parameter masked.
	if r.o.Host == HostKeep && !r.o.User {
		rec.Line = r.Text(prefix) + r.Text(rest)
		return
	}
	words := make([]string, 0, 5)
	if rec.VHost != "" {
		words = append(words, rec.VHost)
	}
	words = append(words, rec.Host, rec.Ident, rec.User, r.Text(rest))
	rec.Line = strings.Join(words, " ")
}

func dash(s string) string {
	if s == "" {
		return s
	}
	return "-"
}

// splitPrefix cuts a parsed line before its time, the first word that
// opens with '[' and does not close it before the next space (a bracketed
// IPv6 host "[::1]:80" closes it), as the parser does.
func splitPrefix(line string) (prefix, rest string, ok bool) {
	for i := 0; i < len(line); i++ {
		if line[i] != '[' || i > 0 && line[i-1] != ' ' {
			continue
		}
		end := strings.IndexByte(line[i:], ' ')
		if end < 0 {
			end = len(line) - i
		}
		if !strings.Contains(line[i:i+end], "]") {
			return line[:i], line[i:], true
		}
	}
	return "", "", false
}

// hostList masks a client address, or each address of an X-Forwarded-For
// list logged in its place ("a, b").
func (r *Redactor) hostList(h string) string {
	if h == "" || h == "-" {
		return h
	}
	if !strings.Contains(h, ",") {
		return r.host(h)
	}
	parts := strings.Split(h, ",")
	for i, p := range parts {
		lead := p[:len(p)-len(strings.TrimLeft(p, " "))]
		parts[i] = lead + r.host(strings.TrimSpace(p))
	}
	return strings.Join(parts, ",")
}

// host masks one client address; a name that is not an address (a
// resolved host name) becomes Mask, or its hash.
func (r *Redactor) host(h string) string {
	if h == "" || h == "-" {
		return h
	}
	if a, err := netip.ParseAddr(h); err == nil {
		return r.addr(a)
	}
	if ap, err := netip.ParseAddrPort(h); err == nil {
		return r.addrPort(ap)
	}
	if r.o.Host == HostHash {
		if hashed(h) {
			return h // masked already, by a publisher through NATS
		}
		return r.hash(strings.ToLower(h))
	}
	return Mask
}

// hashed reports whether h is what hash writes.
func hashed(h string) bool {
	if len(h) != 18 || !strings.HasPrefix(h, "h-") {
		return false
	}
	for i := 2; i < len(h); i++ {
		if !(h[i] >= '0' && h[i] <= '9' || h[i] >= 'a' && h[i] <= 'f') {
			return false
		}
	}
	return true
}

// addrPort masks the address of an address and port, keeping the port.
func (r *Redactor) addrPort(ap netip.AddrPort) string {
	m := r.addr(ap.Addr())
	if a, err := netip.ParseAddr(m); err == nil {
		return netip.AddrPortFrom(a, ap.Port()).String()
	}
	return m + ":" + strconv.Itoa(int(ap.Port()))
}

// addr masks one address.
func (r *Redactor) addr(a netip.Addr) string {
	a = a.Unmap().WithZone("")
	if r.o.Host == HostHash {
		return r.hash(a.String())
	}
	bits := 48
	if a.Is4() {
		bits = 24
	}
	p, _ := a.Prefix(bits)
	return p.Addr().String()
}

// hash is a keyed hash of a client: the same client gets the same value
// for as long as the key stays the same.
func (r *Redactor) hash(s string) string {
	m := hmac.New(sha256.New, r.o.HashKey)
	m.Write([]byte(s))
	return "h-" + hex.EncodeToString(m.Sum(nil)[:8])
}

// Text masks free text (a raw line, a field, an odd request line): with
// host redaction every IP address in it (see addresses); with Query every
// query string (from a '?' up to the next space or quote); with Params the
// value of every named parameter (name=value), in a query string or not.
func (r *Redactor) Text(s string) string {
	if r == nil || s == "" {
		return s
	}
	if r.o.Query {
		s = dropQueries(s)
	}
	if len(r.params) > 0 {
		s = r.maskParams(s)
	}
	if r.o.Host != HostKeep {
		s = r.addresses(s)
	}
	return s
}

// dropQueries drops every query string of s: from a '?' up to a space, a
// double quote or the end.
func dropQueries(s string) string {
	if !strings.Contains(s, "?") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '?')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		end := strings.IndexAny(s[i:], " \"")
		if end < 0 {
			end = len(s) - i
		}
		s = s[i+end:]
	}
}

// maskParams masks the value of every name=value in s whose name (after
// %-decoding, without case) is one of the parameters: in a query string,
// a fragment (#access_token=...) or free text alike. A name is the run of
// name characters before the '='; a value runs up to the next '&', ';',
// '#', white space, quote, '<', '>' or ')'.
func (r *Redactor) maskParams(s string) string {
	if !strings.Contains(s, "=") {
		return s
	}
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); i++ {
		if s[i] != '=' {
			continue
		}
		start := i
		for start > 0 && nameByte(s[start-1]) {
			start--
		}
		name := s[start:i]
		if dec, err := url.QueryUnescape(name); err == nil {
			name = dec
		}
		if name == "" || !r.params[strings.ToLower(name)] {
			continue
		}
		end := i + 1
		for end < len(s) && !valueEnd(s[end]) {
			end++
		}
		if end == i+1 {
			continue // an empty value hides nothing
		}
		b.WriteString(s[last : i+1])
		b.WriteString(Mask)
		last = end
		i = end - 1
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// nameByte reports whether c may be part of a parameter's name as logged
// (%-encoded or not).
func nameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '-' || c == '.' || c == '%' || c == '[' || c == ']'
}

// valueEnd reports whether c ends a parameter's value.
func valueEnd(c byte) bool {
	switch c {
	case '&', ';', '#', '"', '\'', '<', '>', ')', ' ', '\t', '\n', '\r', '\v', '\f':
		return true
	}
	return false
}

// addresses masks every IP address in s, wherever it stands: after a word
// and a colon ("X-Real-IP:198.51.100.7", "host:2001:db8::1"), glued to
// letters, with a port, in brackets, or with its colons %-encoded
// ("2001%3Adb8%3A%3A1"). Digits or hex digits glued to an address make
// another word, which is masked when it still reads as an address (an
// IPv6 address with one more group, four octets of a longer dotted run).
func (r *Redactor) addresses(s string) string {
	out := r.ipv4(r.ipv6(s))
	if strings.Contains(s, "%3A") || strings.Contains(s, "%3a") {
		// An encoded IPv6 address: decode the colons, and keep the
		// decoded text only when it held one.
		dec := decodeColons(s)
		if m := r.ipv6(dec); m != dec {
			out = r.ipv4(m)
		}
	}
	return out
}

// decodeColons replaces every "%3A" or "%3a" in s with a colon.
func decodeColons(s string) string {
	var b strings.Builder
	last := 0
	for i := 0; i+2 < len(s); i++ {
		if s[i] == '%' && s[i+1] == '3' && (s[i+2] == 'a' || s[i+2] == 'A') {
			b.WriteString(s[last:i])
			b.WriteByte(':')
			last = i + 3
			i += 2
		}
	}
	b.WriteString(s[last:])
	return b.String()
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func isWord(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

// maxIPv6Text is the longest text of an IPv6 address:
// ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255.
const maxIPv6Text = 45

// ipv6 masks every IPv6 address in s (IPv4-mapped ones included), the
// leftmost longest first.
func (r *Redactor) ipv6(s string) string {
	if strings.Count(s, ":") < 2 {
		return s
	}
	var b strings.Builder
	last := 0
	for p := 0; p < len(s); p++ {
		c := s[p]
		if !isHex(c) && c != ':' {
			continue
		}
		// Start at the beginning of a group: after a byte that cannot be
		// in an address, or after a colon; or inside a run of hex digits
		// too long to be a group, at the last 4 before a colon
		// ("cafe2001:db8::1").
		if p > 0 && isHex(s[p-1]) && !lastOfLongGroup(s, p) {
			continue
		}
		e, ok := ipv6At(s, p)
		if !ok {
			continue
		}
		a, _ := netip.ParseAddr(s[p:e])
		b.WriteString(s[last:p])
		b.WriteString(r.addr(a))
		// What the run goes on with after the address ("0:3000:...:0000"
		// + ":00010") may be the rest of another address glued to it:
		// its digits become 0, so that no address reads on from it.
		k := e
		for k < len(s) && (isHex(s[k]) || s[k] == ':' || s[k] == '.') {
			if s[k] == ':' || s[k] == '.' {
				b.WriteByte(s[k])
			} else {
				b.WriteByte('0')
			}
			k++
		}
		last = k
		p = k - 1
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// lastOfLongGroup reports whether p is one of the last 4 hex digits of a
// run of more than 4 that a colon ends.
func lastOfLongGroup(s string, p int) bool {
	q := p
	for q < len(s) && q-p < 4 && isHex(s[q]) {
		q++
	}
	return q < len(s) && s[q] == ':' && q >= 5 && isHex(s[q-5]) && isHex(s[p-1])
}

// ipv6At returns the end of the longest IPv6 address that starts at p.
func ipv6At(s string, p int) (int, bool) {
	// The longest run that can be an address: hex groups of at most 4
	// digits, at most 7 colons, one "::", an IPv4 tail of at most 3 dots.
	j, colons, dots, group, double := p, 0, 0, 0, false
scan:
	for ; j < len(s) && j-p < maxIPv6Text; j++ {
		switch c := s[j]; {
		case c == ':':
			if dots > 0 || colons == 7 || j > p && s[j-1] == ':' && double {
				break scan
			}
			if j > p && s[j-1] == ':' {
				double = true
			}
			colons++
			group = 0
		case c == '.':
			if colons == 0 || dots == 3 {
				break scan
			}
			dots++
			group = 0
		case isHex(c):
			if group == 4 {
				break scan
			}
			group++
		default:
			break scan
		}
	}
	// Without "::" an address has all 8 groups (or 6 and an IPv4 tail),
	// and so would any shorter text from p: times ("10:00:00") end here.
	if colons < 2 || !double && colons < 7 && !(colons == 6 && dots == 3) {
		return 0, false
	}
	for e := j; e > p+1; e-- {
		a, err := netip.ParseAddr(s[p:e])
		if err != nil {
			continue
		}
		// "::" hides nothing, and may be the start of an address glued
		// on (":::ffff:..."). One group alone ("::1", "d::" of
		// "std::string") is an address only as a word of its own.
		if n := groups(a); n == 0 || n == 1 && (p > 0 && isWord(s[p-1]) || e < len(s) && isWord(s[e])) {
			return 0, false
		}
		return e, true
	}
	return 0, false
}

// groups counts the non-zero 16-bit groups of a.
func groups(a netip.Addr) int {
	b := a.As16()
	n := 0
	for i := 0; i < 16; i += 2 {
		if b[i] != 0 || b[i+1] != 0 {
			n++
		}
	}
	return n
}

// ipv4 masks every dotted quad in s: four octets (1-3 digits, at most
// 255, leading zeros allowed as inet_aton reads them) one dot apart, not
// touching other digits. A longer run of octets ("1.198.51.100.7") may
// hold an address anywhere in it: all of it is masked.
func (r *Redactor) ipv4(s string) string {
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); {
		if s[i] < '0' || s[i] > '9' || i > 0 && s[i-1] >= '0' && s[i-1] <= '9' {
			i++
			continue
		}
		// The octets from i on, one dot apart: the first four, how many,
		// and where the last ends.
		var first [4]byte
		n, end := 0, i
		for j := i; ; {
			k, v := j, 0
			for k < len(s) && k-j < 4 && s[k] >= '0' && s[k] <= '9' {
				v = v*10 + int(s[k]-'0')
				k++
			}
			if k == j || k-j > 3 || v > 255 {
				break
			}
			if n < 4 {
				first[n] = byte(v)
			}
			n, end = n+1, k
			if k+1 < len(s) && s[k] == '.' && s[k+1] >= '0' && s[k+1] <= '9' {
				j = k + 1
				continue
			}
			break
		}
		if n < 4 {
			i++
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(r.octets(first, n, s[i:end]))
		last = end
		i = end
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// octets masks a run of n ≥ 4 octets, the first four of them given:
// four are an address; more keep their first three and the rest become 0
// (their hash with HostHash).
func (r *Redactor) octets(first [4]byte, n int, text string) string {
	if n == 4 {
		return r.addr(netip.AddrFrom4(first))
	}
	if r.o.Host == HostHash {
		return r.hash(text)
	}
	return strconv.Itoa(int(first[0])) + "." + strconv.Itoa(int(first[1])) + "." + strconv.Itoa(int(first[2])) +
		strings.Repeat(".0", n-3)
}
