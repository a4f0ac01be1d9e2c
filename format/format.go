package format

import (
	"fmt"
	"strings"

	"github.com/weblogd/weblogd/record"
)

// A Parser reads the lines of one format into records. A Parser made for
// one source may keep state about it (a W3C log's #Fields directive, the
// format auto recognised), so each source has its own.
type Parser interface {
	// Parse fills r's parsed fields from line (unwrapped already) and
	// reports whether the line fits the format. When it does not, at is
	// the byte offset of line where the format stopped matching, and r
	// holds partial results that the caller throws away. The caller sets
	// Parsed, Line, Seq, Source and Node. A line that is a directive
	// of the format, not a request, returns false and Directive.
	Parse(r *record.Record, line string) (ok bool, at int)
	// Name is the format in use, as /api/status shows it. It is safe to
	// call while Parse runs in another goroutine.
	Name() string
}

// Directive is the at a Parser returns, with ok false, for a line that
// describes the log rather than a request: W3C's "#Fields:" and
// "#Version:" lines. Such a line is kept as a record that is not parsed,
// its line as it is, but it is not counted as a line that does not fit
// the format: no parse error, no part in the warning.
const Directive = -1

// Auto is the format that recognises each source's format from its own
// lines (see auto.go); it is what an empty spec means.
const Auto = "auto"

// Format is a compiled --format: how the lines of every source are read.
// It is safe for concurrent use; each source takes its own Parser from it.
type Format struct {
	name   string        // as String says it
	shared Parser        // a compiled format string: one Parser for every source
	new    func() Parser // a name: a new Parser for each source
}

// presets are the formats known by name, in the order the error message
// and the documentation list them. Each source gets a Parser of its own.
var presets = []struct {
	name string
	new  func() Parser
}{
	{Auto, func() Parser { return newAuto(candidates) }},
	// Combined, Common and vcombined are one tolerant parser: Combined is
	// Common with two more fields, and the vhost prefix is recognised by
	// its place, so refusing the others' lines would only lose records.
	{"combined", func() Parser { return clf{name: "combined"} }},
	{"common", func() Parser { return clf{name: "common"} }},
	{"vcombined", func() Parser { return clf{name: "vcombined"} }},
	{"caddy", newCaddy},
	{"traefik", newTraefik},
	{"traefik-json", newTraefikJSON},
	{"json", newJSON},
	{"w3c", newW3C},
	{"alb", newALB},
	{"cloudfront", newCloudFront},
}

// Names lists the formats known by name, auto first.
func Names() []string {
	out := make([]string, len(presets))
	for i, p := range presets {
		out[i] = p.name
	}
	return out
}

// Compile reads a --format: "" or "auto", a name (Names), an nginx
// log_format string (recognised by its $variables) or an Apache LogFormat
// string (by its % directives). A string that cannot be read is an error
// that names the column where it went wrong.
func Compile(spec string) (*Format, error) {
	if spec == "" {
		spec = Auto
	}
	for _, p := range presets {
		if spec == p.name {
			return &Format{name: p.name, new: p.new}, nil
		}
	}
	var (
		p   Parser
		err error
	)
	switch {
	case strings.Contains(spec, "$"):
		p, err = compileNginx(spec)
	case strings.Contains(spec, "%"):
		p, err = compileApache(spec)
	default:
		return nil, fmt.Errorf("unknown format %q (one of: %s; or an nginx log_format or Apache LogFormat string)",
			spec, strings.Join(Names(), ", "))
	}
	if err != nil {
		return nil, err
	}
	return &Format{name: spec, shared: p}, nil
}

// MustCompile is Compile for formats known to be good; it panics on an
// error.
func MustCompile(spec string) *Format {
	f, err := Compile(spec)
	if err != nil {
		panic("format: " + err.Error())
	}
	return f
}

// NewParser returns a Parser for one source.
func (f *Format) NewParser() Parser {
	if f.shared != nil {
		return f.shared
	}
	return f.new()
}

// String is the format as given: its name, or the format string.
func (f *Format) String() string { return f.name }
