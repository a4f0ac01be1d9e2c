package format

import (
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/weblogd/weblogd/record"
)

// pipe is a format of these tests only, "pipe|STATUS|PATH", so that the
// mechanism of auto is tested against a second format that fits lines
// whatever the state of the presets.
type pipe struct{}

func (pipe) Name() string { return "pipe" }

func (pipe) Parse(r *record.Record, line string) (bool, int) {
	rest, ok := strings.CutPrefix(line, "pipe|")
	if !ok {
		return false, 0
	}
	st, path, ok := strings.Cut(rest, "|")
	n, err := strconv.Atoi(st)
	if !ok || err != nil {
		return false, len("pipe|")
	}
	r.Status, r.Path = n, path
	return true, 0
}

func mayPipe(line string) bool { return strings.HasPrefix(line, "pipe") }

// directives is a test format that takes "#" directives and remembers
// them, as W3C's parser keeps its #Fields.
type directives struct {
	name string
	seen *[]string
}

func (d directives) Name() string { return d.name }

func (d directives) Parse(r *record.Record, line string) (bool, int) {
	if strings.HasPrefix(line, "#") {
		*d.seen = append(*d.seen, d.name+" "+line)
		return false, Directive
	}
	if strings.HasPrefix(line, d.name+" ") {
		r.Path = line
		return true, 0
	}
	return false, 0
}

var (
	clfCand  = candidate{name: "combined", new: func() Parser { return clf{name: "combined"} }, may: mayCLF}
	pipeCand = candidate{name: "pipe", new: func() Parser { return pipe{} }, may: mayPipe}
)

const clfLine = `203.0.113.9 - - [07/Dec/2026:10:00:00 +0000] "GET /index.html HTTP/1.1" 200 2326 "-" "curl/8.5.0"`

// autoParse runs p on line and returns the record as the reader keeps it.
func autoParse(p Parser, line string) (record.Record, bool, int) {
	var r record.Record
	ok, at := p.Parse(&r, line)
	if !ok {
		r = record.Record{}
	}
	r.Parsed, r.Line = ok, line
	return r, ok, at
}

func TestAutoSwitchesFormats(t *testing.T) {
	a := newAuto([]candidate{clfCand, pipeCand})
	if got := a.Name(); got != "auto" {
		t.Fatalf("Name()=%q before any line, want auto", got)
	}
	steps := []struct {
		line string
		ok   bool
		name string // Name() after the line
	}{
		{"garbage", false, "auto"},
		{clfLine, true, "auto: combined"},
		{clfLine, true, "auto: combined"},
		{"pipe|404|/rotated", true, "auto: pipe"}, // a rotation into another format
		{"pipe|200|/b", true, "auto: pipe"},
		{"pipe|x|/bad", false, "auto: pipe"}, // fits nothing: the format stays
		{clfLine, true, "auto: combined"},    // and back
	}
	for i, s := range steps {
		got, ok, _ := autoParse(a, s.line)
		if ok != s.ok {
			t.Fatalf("line %d %q: ok=%v, want %v", i, s.line, ok, s.ok)
		}
		if n := a.Name(); n != s.name {
			t.Fatalf("line %d %q: Name()=%q, want %q", i, s.line, n, s.name)
		}
		// Whatever reads the line, the record is the one its format gives.
		var want record.Record
		switch {
		case !ok:
			want = record.Record{Line: s.line}
		case strings.HasPrefix(s.line, "pipe"):
			want, _, _ = autoParse(pipe{}, s.line)
		default:
			want, _, _ = autoParse(clf{}, s.line)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("line %d %q: record %+v, want %+v", i, s.line, got, want)
		}
	}
}

// A line that fits nothing reports where the format in use stopped or,
// before one is recognised, the format that got furthest.
func TestAutoMisfitOffset(t *testing.T) {
	a := newAuto([]candidate{clfCand, pipeCand})
	autoParse(a, clfLine)
	bad := `203.0.113.9 - - [07/Dec/2026:10:00:00 +0000] "GET / HTTP/1.1" 2000 1`
	_, wantOK, wantAt := autoParse(clf{}, bad)
	if _, ok, at := autoParse(a, bad); ok || ok != wantOK || at != wantAt || at == 0 {
		t.Fatalf("Parse(%q)=%v,%d, want false,%d (the Combined parser's)", bad, ok, at, wantAt)
	}
	autoParse(a, "pipe|200|/")
	if _, ok, at := autoParse(a, "pipe|x"); ok || at != len("pipe|") {
		t.Fatalf("Parse(pipe|x)=%v,%d, want false,%d (the pipe parser's)", ok, at, len("pipe|"))
	}
	fresh := newAuto([]candidate{pipeCand, clfCand})
	if _, ok, at := autoParse(fresh, "pipe|x"); ok || at != len("pipe|x") {
		t.Fatalf("before any fit, Parse(pipe|x)=%v,%d, want false,%d (the Combined parser's, which went further)", ok, at, len("pipe|x"))
	}
}

// Directives go to every format that takes them, even after one of them
// has been recognised, so that each keeps what they say (W3C's #Fields);
// a directive is no request and recognises no format.
func TestAutoDirectives(t *testing.T) {
	var seen []string
	mk := func(name string) candidate {
		return candidate{name: name, new: func() Parser { return directives{name: name, seen: &seen} },
			may:        func(l string) bool { return isDirective(l) || strings.HasPrefix(l, name+" ") },
			directives: true}
	}
	a := newAuto([]candidate{clfCand, mk("one"), mk("two")})
	for _, l := range []string{"#Version: 1.0", "#Fields: a b"} {
		if _, ok, at := autoParse(a, l); ok || at != Directive {
			t.Fatalf("Parse(%q)=%v,%d, want false,Directive", l, ok, at)
		}
	}
	if n := a.Name(); n != Auto {
		t.Fatalf("after directives alone, Name()=%q, want %q", n, Auto)
	}
	autoParse(a, clfLine)
	for _, l := range []string{"two x", "#Fields: c"} {
		autoParse(a, l)
	}
	want := []string{"one #Version: 1.0", "two #Version: 1.0", "one #Fields: a b", "two #Fields: a b", "one #Fields: c", "two #Fields: c"}
	if !reflect.DeepEqual(seen, want) {
		t.Fatalf("directives seen %q, want %q", seen, want)
	}
	if n := a.Name(); n != "auto: two" {
		t.Fatalf("Name()=%q, want auto: two", n)
	}
	// A "#" line that no format takes as a directive does not fit.
	b := newAuto([]candidate{clfCand, pipeCand})
	if _, ok, at := autoParse(b, "#Fields: a"); ok || at == Directive {
		t.Fatalf("with no format that takes directives, Parse(#Fields: a)=%v,%d, want a misfit", ok, at)
	}
}

// Once a format is recognised, a line costs auto no allocation more than
// the format's own parser.
func TestAutoAllocs(t *testing.T) {
	a := newAuto(candidates)
	var r record.Record
	a.Parse(&r, clfLine)
	if got := testing.AllocsPerRun(100, func() { a.Parse(&r, clfLine) }); got != 0 {
		t.Fatalf("auto allocates %v times a line, want 0", got)
	}
}

// Name is read by /api/status while the source's reader parses.
func TestAutoNameConcurrent(t *testing.T) {
	a := newAuto([]candidate{clfCand, pipeCand})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 1000 {
			l := clfLine
			if i%2 == 0 {
				l = "pipe|200|/"
			}
			autoParse(a, l)
		}
	})
	for range 1000 {
		if n := a.Name(); n != "auto" && n != "auto: combined" && n != "auto: pipe" {
			t.Errorf("Name()=%q", n)
			break
		}
	}
	wg.Wait()
}

// A compiled format string is one Parser for every source, its
// compiler's; a name is a Parser per source.
func TestCompileDispatch(t *testing.T) {
	for _, spec := range []string{`$remote_addr - $remote_user [$time_local] "$request" $status`, `%h %l %u %t "%r" %>s %b`} {
		var wantErr error
		if strings.Contains(spec, "$") {
			_, wantErr = compileNginx(spec)
		} else {
			_, wantErr = compileApache(spec)
		}
		f, err := Compile(spec)
		switch {
		case wantErr != nil:
			if err == nil || err.Error() != wantErr.Error() {
				t.Errorf("Compile(%q) error %v, want the compiler's: %v", spec, err, wantErr)
			}
		case err != nil:
			t.Errorf("Compile(%q): %v", spec, err)
		default:
			if f.String() != spec || f.NewParser() != f.NewParser() {
				t.Errorf("Compile(%q): String()=%q, or a Parser per source", spec, f.String())
			}
		}
	}
	f := MustCompile("auto")
	if f.NewParser() == f.NewParser() {
		t.Error("auto gives every source the same Parser: it must be one per source")
	}
}
