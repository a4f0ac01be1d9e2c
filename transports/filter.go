package transports

import (
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/weblogd/weblogd/record"
)

// Filter selects records by the query parameters of docs/protocol.md: status,
// method, path, host, vhost, min_duration, source, node and q. The parameters combine with AND; a
// comma list within one parameter (or the parameter repeated) with OR. A
// nil *Filter matches every record.
type Filter struct {
	statuses []statusRange
	methods  []string // upper case
	paths    []string // prefixes
	hosts    []hostMatch
	vhosts   []vhostMatch
	// minDuration, when hasMinDuration, is the least duration a record
	// must have; records without one do not pass.
	minDuration    time.Duration
	hasMinDuration bool
	sources        []string
	nodes          []string // publishing nodes: only records that came through NATS have one
	q              string   // lower case when qASCII
	qASCII         bool
	// and is a second filter every record must also pass: a token's fixed
	// filter ANDed with what a request asks for (see And).
	and *Filter
	// desc is the filter as given, in query form, for listings.
	desc string
}

type statusRange struct{ lo, hi int }

// hostMatch is an address prefix (an address is a /32 or /128), or a name
// compared as written.
type hostMatch struct {
	prefix netip.Prefix
	name   string
}

// vhostMatch is a virtual host: a name or address, compared without
// regard to case, and a port that must be equal when given.
type vhostMatch struct {
	host string
	port string // "" for any port
}

// FilterParams are the query parameters a Filter reads.
var FilterParams = []string{"status", "method", "path", "host", "vhost", "min_duration", "source", "node", "q"}

// MaxFilterValues bounds the values of one filter parameter, its comma
// lists and repeats together: every record is matched against each value
// for every subscriber, so a client must not make that cost what it likes.
// 64 is far more than a person types, and keeps a host= list of CIDRs
// cheap next to the encoding of a record.
const MaxFilterValues = 64

// ParseFilter reads the filter parameters of q (other parameters are the
// caller's). It returns nil when q asks for no filter, and an error with a
// one-line reason for a bad value.
func ParseFilter(get func(string) []string) (*Filter, error) {
	f := &Filter{}
	given := false
	for _, name := range FilterParams {
		// Count before parsing anything, so that too long a list costs no
		// more than the count.
		n := 0
		for _, raw := range get(name) {
			n++
			if name != "q" && name != "path" && name != "min_duration" {
				n += strings.Count(raw, ",")
			}
		}
		if n > MaxFilterValues {
			return nil, fmt.Errorf("%s has %d values, more than the %d allowed", name, n, MaxFilterValues)
		}
		for _, raw := range get(name) {
			given = true
			if name == "q" || name == "path" {
				if raw == "" {
					return nil, fmt.Errorf("%s is empty", name)
				}
				if name == "q" {
					if f.q != "" {
						return nil, fmt.Errorf("q is given twice")
					}
					f.setQ(raw)
				} else {
					if raw[0] != '/' {
						return nil, fmt.Errorf("bad path %q: want a prefix starting with /, such as /api/", raw)
					}
					f.paths = append(f.paths, raw)
				}
				continue
			}
			if name == "min_duration" {
				if f.hasMinDuration {
					return nil, fmt.Errorf("min_duration is given twice")
				}
				d, err := time.ParseDuration(strings.TrimSpace(raw))
				switch {
				case err != nil:
					return nil, fmt.Errorf("bad min_duration %q: want a duration such as 250ms, 1.5s or 2m", raw)
				case d < 0:
					return nil, fmt.Errorf("bad min_duration %q: want 0 or more", raw)
				}
				f.minDuration, f.hasMinDuration = d, true
				continue
			}
			for _, v := range strings.Split(raw, ",") {
				v = strings.TrimSpace(v)
				if v == "" {
					return nil, fmt.Errorf("%s has an empty value", name)
				}
				if err := f.add(name, v); err != nil {
					return nil, err
				}
			}
		}
	}
	if !given {
		return nil, nil
	}
	f.desc = describe(get)
	return f, nil
}

// describe writes the filter parameters get has in query form, in the
// order of FilterParams.
func describe(get func(string) []string) string {
	v := url.Values{}
	for _, name := range FilterParams {
		if vals := get(name); len(vals) > 0 {
			v[name] = vals
		}
	}
	return v.Encode()
}

// String returns the filter in query form ("path=%2Fapi%2F&status=5xx");
// with a fixed filter ANDed in, both joined by " & ". Empty for nil.
func (f *Filter) String() string {
	switch {
	case f == nil:
		return ""
	case f.and == nil:
		return f.desc
	case f.desc == "":
		return f.and.String()
	}
	return f.desc + " & " + f.and.String()
}

// And returns a filter that passes only what both a and b pass; nil
// (everything) when both are nil. Neither is modified: a token's fixed
// filter is shared by every request made with it.
func And(a, b *Filter) *Filter {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	c := *a
	c.and = And(a.and, b)
	return &c
}

func (f *Filter) add(name, v string) error {
	switch name {
	case "status":
		r, ok := parseStatus(v)
		if !ok {
			return fmt.Errorf("bad status %q: want a code 100-599 (404), a class 1xx-5xx (5xx), a range (200-299) or a comma list of those", v)
		}
		f.statuses = append(f.statuses, r)
	case "method":
		for _, c := range v {
			if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
				return fmt.Errorf("bad method %q: want letters, such as GET", v)
			}
		}
		f.methods = append(f.methods, strings.ToUpper(v))
	case "host":
		if p, err := netip.ParsePrefix(v); err == nil {
			f.hosts = append(f.hosts, hostMatch{prefix: unmapPrefix(p).Masked()})
		} else if a, err := netip.ParseAddr(v); err == nil {
			a = a.Unmap()
			f.hosts = append(f.hosts, hostMatch{prefix: netip.PrefixFrom(a, a.BitLen())})
		} else if strings.Contains(v, "/") {
			return fmt.Errorf("bad host %q: not an address or CIDR", v)
		} else {
			f.hosts = append(f.hosts, hostMatch{name: v})
		}
	case "vhost":
		m, ok := parseVHost(v)
		if !ok {
			return fmt.Errorf("bad vhost %q: want a host name or address, optionally with :port, such as example.com or example.com:443", v)
		}
		f.vhosts = append(f.vhosts, m)
	case "source":
		f.sources = append(f.sources, v)
	case "node":
		f.nodes = append(f.nodes, v)
	}
	return nil
}

// parseVHost reads a vhost= value: a host name, an IPv4 address, an IPv6
// address (in brackets when a port follows), and an optional :port.
func parseVHost(v string) (vhostMatch, bool) {
	host, port := splitVHost(v)
	if port != "" || strings.HasSuffix(v, ":") {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || port[0] < '1' || port[0] > '9' {
			return vhostMatch{}, false
		}
	}
	if strings.HasPrefix(v, "[") || strings.Contains(host, ":") {
		a, err := netip.ParseAddr(host)
		return vhostMatch{host: host, port: port}, err == nil && a.Is6()
	}
	if host == "" || len(host) > 253 {
		return vhostMatch{}, false
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return vhostMatch{}, false
		}
	}
	return vhostMatch{host: host, port: port}, true
}

// splitVHost splits host:port, [v6]:port or [v6] into host and port; a
// bare IPv6 address (more than one colon) or a name alone has no port.
// It does not allocate: it runs on every record for a vhost= filter.
func splitVHost(s string) (host, port string) {
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return s, ""
		}
		host, rest := s[1:end], s[end+1:]
		if p, ok := strings.CutPrefix(rest, ":"); ok {
			return host, p
		}
		if rest != "" {
			// Not [v6] nor [v6]:port: keep it whole, so that it matches
			// nothing a filter can name.
			return s, ""
		}
		return host, ""
	}
	if i := strings.IndexByte(s, ':'); i >= 0 && strings.IndexByte(s[i+1:], ':') < 0 {
		return s[:i], s[i+1:]
	}
	return s, ""
}

// unmapPrefix turns an IPv4-mapped prefix (::ffff:a.b.c.d/n, n ≥ 96) into
// its IPv4 prefix: matchHost unmaps client addresses, and an IPv4 address
// is never inside an IPv6 prefix.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p
}

// parseStatus reads a code, a class or a range of codes. Only 100-599 are
// HTTP status codes: anything else would be accepted and match nothing.
func parseStatus(v string) (statusRange, bool) {
	code := func(s string) (int, bool) {
		n, err := strconv.Atoi(s)
		return n, err == nil && len(s) == 3 && n >= 100 && n <= 599
	}
	if len(v) == 3 && v[1] == 'x' && v[2] == 'x' || len(v) == 3 && v[1] == 'X' && v[2] == 'X' {
		if v[0] < '1' || v[0] > '5' {
			return statusRange{}, false
		}
		lo := int(v[0]-'0') * 100
		return statusRange{lo, lo + 99}, true
	}
	if lo, hi, ok := strings.Cut(v, "-"); ok {
		l, ok1 := code(lo)
		h, ok2 := code(hi)
		return statusRange{l, h}, ok1 && ok2 && l <= h
	}
	n, ok := code(v)
	return statusRange{n, n}, ok
}

func (f *Filter) setQ(q string) {
	for i := 0; i < len(q); i++ {
		if q[i] >= utf8.RuneSelf {
			f.q = strings.ToLower(q)
			return
		}
	}
	f.q, f.qASCII = strings.ToLower(q), true
}

// Match reports whether r passes the filter. Records that did not parse
// pass only filters that do not need parsed fields (source, node, q).
// Records without a node (read from a local log) pass no node filter, and
// records without a duration no min_duration filter.
func (f *Filter) Match(r *record.Record) bool {
	if f == nil {
		return true
	}
	if len(f.statuses) > 0 {
		ok := false
		for _, s := range f.statuses {
			ok = ok || r.Status >= s.lo && r.Status <= s.hi
		}
		if !ok {
			return false
		}
	}
	if len(f.methods) > 0 && !containsFold(f.methods, r.Method) {
		return false
	}
	if len(f.paths) > 0 {
		ok := false
		for _, p := range f.paths {
			ok = ok || r.Path != "" && strings.HasPrefix(r.Path, p)
		}
		if !ok {
			return false
		}
	}
	if len(f.hosts) > 0 && !f.matchHost(r.Host) && !f.matchHost(forwardedFor(r)) {
		return false
	}
	if len(f.vhosts) > 0 && !f.matchVHost(r.VHost) {
		return false
	}
	if f.hasMinDuration && !(r.Duration.Set && r.Duration.D >= f.minDuration) {
		return false
	}
	if len(f.sources) > 0 && !contains(f.sources, r.Source) {
		return false
	}
	// No node value is empty (ParseFilter refuses it), so a local record,
	// whose Node is "", never matches.
	if len(f.nodes) > 0 && !contains(f.nodes, r.Node) {
		return false
	}
	if f.q != "" && !f.matchQ(r.Line) {
		return false
	}
	return f.and.Match(r)
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// matchHost matches the client address, or any address of an
// X-Forwarded-For list logged in its place.
func (f *Filter) matchHost(host string) bool {
	if host == "" {
		return false
	}
	for _, h := range strings.Split(host, ",") {
		h = strings.TrimSpace(h)
		a, err := netip.ParseAddr(h)
		for _, m := range f.hosts {
			if m.name != "" && m.name == h || err == nil && m.prefix.IsValid() && m.prefix.Contains(a.Unmap()) {
				return true
			}
		}
	}
	return false
}

// forwardedFor is the X-Forwarded-For list a record's line gives beside
// its client address (a Combined line that starts with the list, or an
// nginx format's $http_x_forwarded_for), so that host= finds a request
// by its original client too; "" when there is none.
func forwardedFor(r *record.Record) string {
	for _, p := range r.Fields {
		if p.Name == "x_forwarded_for" || p.Name == "http_x_forwarded_for" {
			return p.Value
		}
	}
	return ""
}

// matchVHost compares the host part of the record's virtual host, and its
// port when the filter names one: vhost=example.com matches
// example.com:443, vhost=example.com:443 does not match example.com:80.
// A record without a virtual host matches none.
func (f *Filter) matchVHost(vhost string) bool {
	if vhost == "" {
		return false
	}
	host, port := splitVHost(vhost)
	for _, m := range f.vhosts {
		if (m.port == "" || m.port == port) && strings.EqualFold(m.host, host) {
			return true
		}
	}
	return false
}

// matchQ is a case-insensitive substring search that does not allocate for
// an ASCII q, the common case on a hot path.
func (f *Filter) matchQ(line string) bool {
	if !f.qASCII {
		return strings.Contains(strings.ToLower(line), f.q)
	}
	n := len(f.q)
	for i := 0; i+n <= len(line); i++ {
		j := 0
		for ; j < n; j++ {
			c := line[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != f.q[j] {
				break
			}
		}
		if j == n {
			return true
		}
	}
	return false
}
