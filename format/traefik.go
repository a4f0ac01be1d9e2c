package format

import (
	"strings"
	"time"

	"github.com/weblogd/weblogd/record"
)

// traefik reads Traefik's default access log, Combined Log Format with a
// tail of its own:
//
//	192.0.2.7 - - [10/Oct/2000:13:55:36 +0000] "GET /api HTTP/1.1" 200 2326 "-" "curl/8.5.0" 42 "web@docker" "http://10.0.0.5:8080" 3ms
//
// The tail is the count of requests since Traefik started, the router and
// the backend's URL (quoted, "-" when there is none) and the time taken
// in whole milliseconds. The count, router and URL go to Fields under
// the names Traefik's JSON log gives them. A line without the tail (the
// genericCLF format) reads as Combined.
type traefik struct{ fields fields }

func newTraefik() Parser      { return &traefik{} }
func (*traefik) Name() string { return "traefik" }

func (p *traefik) Parse(r *record.Record, line string) (bool, int) {
	if !parseLine(r, line) {
		return false, 0
	}
	tail := r.Extra
	if tail == "" {
		return true, 0
	}
	// Extra ends where the line does, spaces and CR aside.
	base := len(strings.TrimRight(strings.TrimSuffix(line, "\r"), " ")) - len(tail)
	p.fields.reset()
	count, i := traefikToken(tail, 0)
	if !isDigits(count) {
		return false, base
	}
	p.fields.add("RequestCount", count)
	for _, name := range [...]string{"RouterName", "ServiceURL"} {
		if i == len(tail) || tail[i] != '"' {
			return false, base + i
		}
		v, next, closed := scanQuoted(tail, i)
		if !closed {
			return false, base + i
		}
		if v != "-" && v != "" {
			p.fields.add(name, v)
		}
		i = skipSpaces(tail, next)
	}
	ms, j := traefikToken(tail, i)
	if j != len(tail) || !strings.HasSuffix(ms, "ms") || !isDigits(ms[:len(ms)-2]) {
		return false, base + i
	}
	d, ok := decimalDuration(ms[:len(ms)-2], time.Millisecond)
	if !ok {
		return false, base + i
	}
	r.Duration = record.Took(d)
	r.Extra = ""
	r.Fields = p.fields.done()
	return true, 0
}

// traefikToken returns the space-separated token at s[i] and the index of
// the next one.
func traefikToken(s string, i int) (string, int) {
	j := strings.IndexByte(s[i:], ' ')
	if j < 0 {
		return s[i:], len(s)
	}
	return s[i : i+j], skipSpaces(s, i+j)
}

// isDigits reports whether s is a non-empty run of decimal digits.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
