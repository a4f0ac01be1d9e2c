package format

import (
	"strings"
	"time"

	"github.com/weblogd/weblogd/record"
)

// w3c reads the W3C extended log format as IIS writes it, and through
// its dialect CloudFront's standard logs:
//
//	#Software: Microsoft Internet Information Services 10.0
//	#Version: 1.0
//	#Date: 2024-01-02 00:00:01
//	#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken
//	2024-01-02 00:00:01 10.0.0.4 GET /index.html q=1 443 - 203.0.113.9 Mozilla/5.0+(Windows+NT+10.0) - 200 0 0 46
//
// The #Fields directive names the fields of the lines after it, so a
// Parser keeps the last one it read (one Parser per source); until it
// reads one, it assumes the dialect's default list. A directive line is
// no request: Parse returns Directive for it, so that it is kept as it is
// without being counted as a line that does not fit.
type w3c struct {
	d      *w3cDialect
	cols   []w3cColumn
	date   civil // from #Date, for logs whose lines have a time only
	fields fields
}

// w3cDialect is what differs between the writers of the format.
type w3cDialect struct {
	name     string
	sep      byte          // between fields
	defaults string        // the fields assumed before any #Fields
	duration time.Duration // the unit of time-taken
	quoted   bool          // a field may be a "quoted string"
	// vhosts names, best first, the fields that give the virtual host.
	vhosts []string
	// decode turns a field's value as logged into its text.
	decode func(c *w3cColumn, v string) string
}

// A w3cColumn is one field of #Fields.
type w3cColumn struct {
	name string
	role w3cRole
	rank int // for roleVHost: the place of name in the dialect's vhosts
}

type w3cRole uint8

const (
	roleField w3cRole = iota // to Fields
	roleDate
	roleTime
	roleHost
	roleUser
	roleMethod
	roleStem
	roleQuery
	roleProto
	roleStatus
	roleBytes
	roleDuration
	roleVHost
	roleAgent
	roleReferer
)

// w3cRoles maps field names, in lower case, to record fields.
var w3cRoles = map[string]w3cRole{
	"date":                roleDate,
	"time":                roleTime,
	"c-ip":                roleHost,
	"cs-username":         roleUser,
	"cs-method":           roleMethod,
	"cs-uri-stem":         roleStem,
	"cs-uri-query":        roleQuery,
	"cs-version":          roleProto,
	"cs-protocol-version": roleProto,
	"sc-status":           roleStatus,
	"sc-bytes":            roleBytes,
	"time-taken":          roleDuration,
	"cs(user-agent)":      roleAgent,
	"cs(referer)":         roleReferer,
}

// iis is the W3C dialect of IIS, which writes spaces inside a field as
// '+', and the time taken in milliseconds.
var iis = &w3cDialect{
	name:     "w3c",
	sep:      ' ',
	defaults: "date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken",
	duration: time.Millisecond,
	quoted:   true,
	vhosts:   []string{"cs-host"},
	decode: func(c *w3cColumn, v string) string {
		// IIS writes a header's spaces as '+'; a '+' it received is
		// logged as '+' too, so the two cannot be told apart.
		if strings.HasPrefix(c.name, "cs(") || strings.HasPrefix(c.name, "sc(") {
			return strings.ReplaceAll(v, "+", " ")
		}
		return v
	},
}

func newW3C() Parser { return newW3CDialect(iis) }

func newW3CDialect(d *w3cDialect) *w3c {
	p := &w3c{d: d}
	p.cols = p.compile(d.defaults)
	return p
}

func (p *w3c) Name() string { return p.d.name }

// compile reads the field names of a #Fields directive.
func (p *w3c) compile(names string) []w3cColumn {
	var cols []w3cColumn
	for _, n := range strings.Fields(names) {
		c := w3cColumn{name: n, role: w3cRoles[strings.ToLower(n)]}
		for i, v := range p.d.vhosts {
			if strings.EqualFold(n, v) {
				c.role, c.rank = roleVHost, i
			}
		}
		cols = append(cols, c)
	}
	return cols
}

func (p *w3c) Parse(r *record.Record, line string) (bool, int) {
	s := strings.TrimSuffix(line, "\r")
	p.fields.reset()
	if strings.HasPrefix(s, "#") {
		p.directive(s)
		return false, Directive
	}
	if s == "" {
		return false, 0
	}
	var date, clock civil
	var haveDate, haveClock bool
	var stem, query string
	vhostRank := len(p.d.vhosts)
	i := 0
	for k := range p.cols {
		c := &p.cols[k]
		if k > 0 {
			if i == len(s) || s[i] != p.d.sep {
				return false, i
			}
			i++
		}
		at := i
		var v string
		var ok bool
		v, i, ok = p.token(s, i)
		if !ok {
			return false, at
		}
		if v == "-" || v == "" {
			continue
		}
		switch c.role {
		case roleDate:
			date, ok = parseISODate(v)
			haveDate = true
		case roleTime:
			clock, v, ok = parseClock(civil{}, v)
			ok = ok && v == ""
			haveClock = true
		case roleHost:
			r.Host = v
		case roleUser:
			r.User = v
		case roleMethod:
			r.Method = v
		case roleStem:
			stem = v
		case roleQuery:
			query = v
		case roleProto:
			r.Proto = v
		case roleStatus:
			ok = len(v) == 3
			if ok {
				r.Status, ok = atoi3(v)
				ok = ok && (r.Status >= 100 || r.Status == 0)
			}
		case roleBytes:
			r.Bytes, ok = parseBytes(v)
		case roleDuration:
			var dur time.Duration
			dur, ok = decimalDuration(v, p.d.duration)
			r.Duration = record.Took(dur)
		case roleVHost:
			if c.rank < vhostRank {
				r.VHost, vhostRank = p.d.decode(c, v), c.rank
			}
		case roleAgent:
			r.Agent = p.d.decode(c, v)
		case roleReferer:
			r.Referer = p.d.decode(c, v)
		default:
			p.fields.add(c.name, p.d.decode(c, v))
		}
		if !ok {
			return false, at
		}
	}
	if i != len(s) {
		return false, i
	}
	if haveClock {
		if !haveDate {
			date = p.date
		}
		if date.year != 0 {
			r.Time = time.Date(date.year, date.month, date.day, clock.hour, clock.min, clock.sec, clock.nsec, time.UTC)
		}
	}
	switch {
	case query != "" && stem != "":
		r.Path = stem + "?" + query
	case stem != "":
		r.Path = stem
	}
	r.Fields = p.fields.done()
	return true, 0
}

// token reads the field at s[i]: up to the next separator, or a quoted
// string when the dialect has them, whose inner quotes are doubled.
func (p *w3c) token(s string, i int) (string, int, bool) {
	if p.d.quoted && i < len(s) && s[i] == '"' {
		j := i + 1
		doubled := false
		for {
			k := strings.IndexByte(s[j:], '"')
			if k < 0 {
				return "", i, false
			}
			j += k + 1
			if j < len(s) && s[j] == '"' {
				doubled = true
				j++
				continue
			}
			v := s[i+1 : j-1]
			if doubled {
				v = strings.ReplaceAll(v, `""`, `"`)
			}
			return v, j, true
		}
	}
	j := strings.IndexByte(s[i:], p.d.sep)
	if j < 0 {
		j = len(s) - i
	}
	// Spaces separate, so two in a row are not an empty field; a tab
	// may be followed by another.
	return s[i : i+j], i + j, j > 0 || p.d.sep != ' '
}

// directive reads what a line that starts with '#' says about the lines
// after it.
func (p *w3c) directive(s string) {
	name, value, _ := strings.Cut(s, ":")
	value = strings.Trim(value, " \t")
	switch name {
	case "#Fields":
		if cols := p.compile(value); len(cols) > 0 {
			p.cols = cols
		}
	case "#Date":
		// "YYYY-MM-DD hh:mm:ss": the date of lines that have only a time.
		if len(value) >= 10 {
			if d, ok := parseISODate(value[:10]); ok {
				p.date = d
			}
		}
	}
}
