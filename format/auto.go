package format

import (
	"strings"
	"sync/atomic"

	"github.com/weblogd/weblogd/record"
)

// auto recognises a source's format from its own lines. It keeps to the
// format that fitted the last line; a line that the format does not fit
// is tried on the other formats that a cheap look at the line allows
// (its first byte, a JSON key, a directive), and the first that fits
// reads it and is kept from then on. So a log that is rotated into
// another format, or whose server gets a new log_format, is recognised
// again at its first new line, and a log that mixes two formats has each
// line read by the one that fits it.
//
// Once a format is recognised, a line that fits it costs one more
// indirect call than the format's own Parser (BenchmarkAuto).
type auto struct {
	cands []candidate
	ps    []Parser     // each candidate's Parser for this source, made when first tried
	cur   Parser       // the format in use; nil until a line fits one
	ci    int          // cur's index in cands
	shown atomic.Int32 // ci, for Name
}

// candidate is a format auto may recognise.
type candidate struct {
	name string
	new  func() Parser
	// may is a cheap look at a line: false when it cannot be of this
	// format, so that the format's Parser is not tried.
	may func(line string) bool
	// directives is set for a format whose logs carry "#" directives
	// (W3C's "#Fields:"): every such candidate is given each directive,
	// and keeps what it says about the lines that follow.
	directives bool
}

// candidates are the formats auto recognises, in the order they are
// tried. Traefik's CLF lines come before Common and Combined, which would
// read them too, keeping Traefik's trailing fields as Extra.
var candidates = []candidate{
	{name: "traefik", new: newTraefik, may: mayTraefik},
	{name: "combined", new: func() Parser { return clf{name: "combined"} }, may: mayCLF},
	{name: "caddy", new: newCaddy, may: mayCaddy},
	{name: "traefik-json", new: newTraefikJSON, may: mayTraefikJSON},
	{name: "json", new: newJSON, may: mayJSON},
	{name: "cloudfront", new: newCloudFront, may: mayCloudFront, directives: true},
	{name: "w3c", new: newW3C, may: mayW3C, directives: true},
	{name: "alb", new: newALB, may: mayALB},
}

// newAuto returns an auto Parser for one source that recognises cands.
func newAuto(cands []candidate) *auto {
	a := &auto{cands: cands, ps: make([]Parser, len(cands))}
	a.shown.Store(-1)
	return a
}

func (a *auto) Parse(r *record.Record, line string) (bool, int) {
	if isDirective(line) {
		return a.directive(line)
	}
	if a.cur == nil {
		return a.recognise(r, line, 0)
	}
	ok, at := a.cur.Parse(r, line)
	if ok {
		return true, 0
	}
	return a.recognise(r, line, at)
}

// recognise tries the candidates on a line that the format in use (if
// any) does not fit, which stopped matching at at. On no fit it returns
// that offset, or before any format is recognised, the furthest offset
// any format matched to: the format the line was most likely meant to be
// in.
func (a *auto) recognise(r *record.Record, line string, at int) (bool, int) {
	for i, c := range a.cands {
		if a.cur != nil && i == a.ci {
			continue // tried already
		}
		if !c.may(line) {
			continue
		}
		p := a.parser(i)
		*r = record.Record{}
		ok, stop := p.Parse(r, line)
		if ok {
			a.cur, a.ci = p, i
			a.shown.Store(int32(i))
			return true, 0
		}
		if a.cur == nil {
			at = max(at, stop)
		}
	}
	*r = record.Record{}
	return false, at
}

// directive gives a "#" line to every format that takes directives, so
// that each keeps what it says about the lines after it (W3C's #Fields);
// it recognises no format, as a directive is no request. A "#" line that
// none takes as a directive does not fit.
func (a *auto) directive(line string) (bool, int) {
	taken := false
	for i, c := range a.cands {
		if !c.directives || !c.may(line) {
			continue
		}
		var scratch record.Record
		if ok, at := a.parser(i).Parse(&scratch, line); !ok && at == Directive {
			taken = true
		}
	}
	if taken {
		return false, Directive
	}
	return false, 0
}

// parser returns candidate i's Parser for this source, made when first
// asked for.
func (a *auto) parser(i int) Parser {
	if a.ps[i] == nil {
		a.ps[i] = a.cands[i].new()
	}
	return a.ps[i]
}

// Name is "auto" until a line fits a format, then "auto: " and the
// format's name.
func (a *auto) Name() string {
	i := a.shown.Load()
	if i < 0 {
		return Auto
	}
	return Auto + ": " + a.cands[i].name
}

// The cheap looks at a line, one per candidate. They only rule formats
// out; the format's Parser decides.

func isDirective(line string) bool { return strings.HasPrefix(line, "#") }

// mayCLF: a Common or Combined line starts with its client address, a
// vhost or an X-Forwarded-For list; never with a JSON object or a
// directive.
func mayCLF(line string) bool {
	return len(line) > 0 && line[0] != '{' && line[0] != '#'
}

// mayTraefik: Traefik's CLF line ends in the request's duration, "12ms".
func mayTraefik(line string) bool {
	s := strings.TrimRight(line, " \r")
	if !strings.HasSuffix(s, "ms") {
		return false
	}
	s = s[:len(s)-2]
	return len(s) > 0 && s[len(s)-1] >= '0' && s[len(s)-1] <= '9' && mayCLF(line)
}

func mayJSON(line string) bool { return len(line) > 0 && line[0] == '{' }

// mayCaddy: Caddy's access logger, or its request object.
func mayCaddy(line string) bool {
	return mayJSON(line) && (strings.Contains(line, `"logger":"http.log.access`) || strings.Contains(line, `"request":{`))
}

func mayTraefikJSON(line string) bool {
	return mayJSON(line) && (strings.Contains(line, `"ClientAddr"`) || strings.Contains(line, `"DownstreamStatus"`))
}

// mayCloudFront: a directive, or a line that opens with a date and a
// tab (CloudFront separates its fields by tabs).
func mayCloudFront(line string) bool {
	return isDirective(line) || startsWithDate(line, '\t')
}

// mayW3C: a directive, or a line that opens with a date and a space (IIS
// and other W3C extended logs write "date time" first by default).
func mayW3C(line string) bool {
	return isDirective(line) || startsWithDate(line, ' ')
}

// startsWithDate reports a line that opens with a date (YYYY-MM-DD) and sep.
func startsWithDate(line string, sep byte) bool {
	if len(line) < 11 || line[4] != '-' || line[7] != '-' || line[10] != sep {
		return false
	}
	for _, i := range []int{0, 1, 2, 3, 5, 6, 8, 9} {
		if line[i] < '0' || line[i] > '9' {
			return false
		}
	}
	return true
}

// mayALB: an ALB line opens with the request type, then its time.
func mayALB(line string) bool {
	sp := strings.IndexByte(line[:min(len(line), len("grpcs "))], ' ')
	if sp < 0 {
		return false
	}
	typ, rest := line[:sp], line[sp+1:]
	if len(rest) == 0 || rest[0] < '0' || rest[0] > '9' {
		return false
	}
	switch typ {
	case "http", "https", "h2", "grpcs", "ws", "wss":
		return true
	}
	return false
}
