// Package redact masks what an access log says about people before a
// record is kept: client addresses (to their network, IPv4 /24 and IPv6
// /48, or to a keyed hash), query strings or the values of named
// parameters, and user names. feed applies it where a line becomes a
// record, before the record enters the ring, so nothing unmasked reaches
// a subscriber, the API or the dashboard, and the q= filter searches only
// the masked text.
//
// Every field that can carry what an option hides is masked, the raw line
// included: its address-looking words, its query strings, and (for a line
// that parsed) its user fields. A line that did not parse cannot be told
// apart into fields: with user on, its text is withheld (Withheld); with
// the other options, its address-looking words and query strings are
// masked like a parsed line's.
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

	"github.com/weblogd/weblogd/broadcast"
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
	// Query drops query strings (from '?' on) from paths, referers, odd
	// request lines and the raw line.
	Query bool
	// Params masks the values of these query parameters (compared without
	// case), keeping the rest of the query. Ignored with Query.
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
func (r *Redactor) Record(rec *broadcast.Record) {
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
	if r.o.Host != HostKeep {
		rec.Host = r.hostList(rec.Host)
	}
	if r.o.User {
		rec.Ident, rec.User = dash(rec.Ident), dash(rec.User)
	}
	rec.Path = r.url(rec.Path)
	rec.Referer = r.url(rec.Referer)
	rec.Request = r.Text(rec.Request)
	rec.Extra = r.Text(rec.Extra)
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
		rec.Line = prefix + r.Text(rest)
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
		return r.hash(strings.ToLower(h))
	}
	return Mask
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

// url masks a URL or request target: its query string (Query), or the
// values of the named parameters (Params), and with host redaction its
// address-looking parts.
func (r *Redactor) url(u string) string {
	if u == "" {
		return u
	}
	return r.Text(u)
}

// Text masks free text (a raw line, an odd request line, extra fields):
// with host redaction every word that reads as an IP address (with or
// without a port, IPv4-mapped included); with Query everything from a '?'
// up to the next space or quote; with Params the values of the named
// parameters after a '?'.
func (r *Redactor) Text(s string) string {
	if r == nil || s == "" {
		return s
	}
	if r.o.Query || len(r.params) > 0 {
		s = r.queries(s)
	}
	if r.o.Host != HostKeep {
		s = r.addresses(s)
	}
	return s
}

// queries masks every query string of s: from a '?' up to a space, a
// double quote or the end.
func (r *Redactor) queries(s string) string {
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
		q := s[i+1 : i+end]
		if !r.o.Query {
			b.WriteByte('?')
			b.WriteString(r.maskParams(q))
		}
		s = s[i+end:]
	}
}

// maskParams masks the values of the named parameters in a query string,
// keeping everything else as written. Names are compared after
// %-decoding, without case.
func (r *Redactor) maskParams(q string) string {
	var b strings.Builder
	start := 0
	for i := 0; i <= len(q); i++ {
		if i < len(q) && q[i] != '&' && q[i] != ';' {
			continue
		}
		pair := q[start:i]
		if name, _, ok := strings.Cut(pair, "="); ok {
			dec, err := url.QueryUnescape(name)
			if err != nil {
				dec = name
			}
			if r.params[strings.ToLower(dec)] {
				pair = name + "=" + Mask
			}
		}
		b.WriteString(pair)
		if i < len(q) {
			b.WriteByte(q[i])
		}
		start = i + 1
	}
	return b.String()
}

// addresses masks every word of s that reads as an IP address: a maximal
// run of hex digits, dots and colons (and a '%' zone) that parses as an
// address, or an address and a port. Anything else is left alone.
func (r *Redactor) addresses(s string) string {
	var b strings.Builder
	changed := false
	last := 0
	for i := 0; i < len(s); {
		if !addrByte(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && (addrByte(s[j]) || s[j] == '%') {
			j++
		}
		word := strings.TrimRight(s[i:j], ".:")
		if m, ok := r.maskWord(word); ok {
			b.WriteString(s[last:i])
			b.WriteString(m)
			last = i + len(word)
			changed = true
		}
		i = j
	}
	if !changed {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

func addrByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == '.' || c == ':'
}

func (r *Redactor) maskWord(w string) (string, bool) {
	if len(w) < 2 || !strings.ContainsAny(w, ".:") {
		return "", false
	}
	if a, err := netip.ParseAddr(w); err == nil {
		return r.addr(a), true
	}
	if ap, err := netip.ParseAddrPort(w); err == nil {
		return r.addrPort(ap), true
	}
	return "", false
}
