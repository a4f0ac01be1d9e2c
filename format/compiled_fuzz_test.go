package format

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/weblogd/weblogd/record"
)

// nginxSeeds and apacheSeeds are format strings that seed the fuzzers,
// besides the ones of the table tests; inputs the fuzzers found are kept
// in testdata/fuzz.
var nginxSeeds = []string{
	nginxCombined,
	nginxTimed,
	`$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for"`,
	`log_format j escape=json '{"t":"$time_iso8601","a":"$remote_addr","r":"$request","s":$status}';`,
	`$host:$server_port "$request_method $uri$is_args$args $server_protocol" ${status} $msec $pipe`,
	`log_format x escape=none '$request $status $request_time $upstream_response_time';`,
	`'$a' "$b" \'$c`,
	"$",
	"${",
	"'",
}

var apacheSeeds = []string{
	apacheCommon,
	apacheCombined,
	apacheVhost,
	`[%{%d/%b/%Y %T}t.%{msec_frac}t %{%z}t] %h %{c}a "%r" %>s %D %{ms}T %400,501{User-Agent}i %!200{Referer}i`,
	`%{sec}t.%{usec_frac}t %a %U%q %H %k %X %P %{tid}P %L %R %f %{SSL_PROTOCOL}x %{X}^to %%`,
	`%{%Y%m%d%H%M%S%z}t %{%a %A %B %e %I %p %j %u %Z %s}t`,
	"%",
	"%{",
	`"%h`,
	`\`,
}

// checkFuzzParse parses line by p and checks what any parse must hold.
func checkFuzzParse(t *testing.T, p *program, spec, line string) {
	var r record.Record
	ok, at := p.Parse(&r, line)
	if !ok {
		if at < 0 || at > len(line) {
			t.Fatalf("format %q, line %q: at=%d out of the line", spec, line, at)
		}
		return
	}
	if at != 0 {
		t.Fatalf("format %q, line %q: at=%d on a fit", spec, line, at)
	}
	if len(r.Fields) > p.nfields {
		t.Fatalf("format %q, line %q: %d fields, the format has %d", spec, line, len(r.Fields), p.nfields)
	}
	if r.Status != 0 && (r.Status < 100 || r.Status > 999) {
		t.Fatalf("format %q, line %q: status %d", spec, line, r.Status)
	}
	if r.Duration.D < 0 || r.UpstreamDuration.D < 0 || r.Bytes < 0 {
		t.Fatalf("format %q, line %q: negative %+v", spec, line, r)
	}
}

// fuzzCompile is the body of FuzzCompileNginx and FuzzCompileApache: a
// format never panics or hangs the compiler, and a compiled format never
// panics on a line, whatever both are.
func fuzzCompile(f *testing.F, compile func(string) (Parser, error), seeds []string) {
	lines := logLines(f, apacheLogFile)
	for i, s := range seeds {
		f.Add(s, lines[i*97%len(lines)])
		f.Add(s, "")
	}
	f.Fuzz(func(t *testing.T, spec, line string) {
		pr, err := compile(spec)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "column ") && !strings.HasSuffix(err.Error(), "at all") &&
				err.Error() != "empty format" {
				t.Fatalf("compile(%q): error %q names no column", spec, err)
			}
			return
		}
		p := pr.(*program)
		checkFuzzParse(t, p, spec, line)
		// The format's own literal text makes lines that fit more often.
		var b strings.Builder
		b.WriteString(p.lead)
		for k, sl := range p.slots {
			if k < len(line) {
				b.WriteString(line[k:min(len(line), k+3)])
			}
			b.WriteString(sl.lit)
		}
		checkFuzzParse(t, p, spec, b.String())
	})
}

func FuzzCompileNginx(f *testing.F) { fuzzCompile(f, compileNginx, nginxSeeds) }

func FuzzCompileApache(f *testing.F) { fuzzCompile(f, compileApache, apacheSeeds) }

// roundTripFormats are the formats whose lines FuzzRoundTrip writes.
var roundTripFormats = []struct {
	apache bool
	spec   string
}{
	{false, nginxCombined},
	{false, nginxTimed + `; `},
	{false, `log_format j escape=json '{"time":"$time_iso8601","host":"$host","addr":"$remote_addr","req":"$request","status":$status,"ua":"$http_user_agent","id":"$request_id"}';`},
	{false, `$host:$server_port $msec "$request" $status $bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for" $request_time`},
	{true, apacheCombined},
	{true, apacheVhost},
	{true, `%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i" %D "%{X-Request-Id}i" %{SSL_PROTOCOL}x`},
}

// gen hands out the fuzzer's bytes as values.
type gen struct{ b []byte }

func (g *gen) byte() byte {
	if len(g.b) == 0 {
		return 0
	}
	c := g.b[0]
	g.b = g.b[1:]
	return c
}

func (g *gen) n(max int) int { return (int(g.byte())<<8 | int(g.byte())) % max }

// word is a value without spaces or quotes, as unquoted fields hold.
func (g *gen) word() string {
	const alphabet = "abcXYZ019.-_:/?=&%;,@[]()"
	n := 1 + g.n(12)
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[int(g.byte())%len(alphabet)]
	}
	return string(b)
}

// text is any value of up to 16 bytes.
func (g *gen) text() string {
	n := 1 + g.n(16)
	b := make([]byte, n)
	for i := range b {
		b[i] = g.byte()
	}
	return string(b)
}

// escape writes v as the server does in a quoted field.
func escape(v string, esc escaping, apache bool) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case esc == escJSON && (c == '"' || c == '\\'):
			b.WriteByte('\\')
			b.WriteByte(c)
		case esc == escJSON && c < 0x20:
			fmt.Fprintf(&b, `\u%04x`, c)
		case esc == escJSON:
			b.WriteByte(c)
		case apache && (c == '"' || c == '\\'):
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '"' || c == '\\' || c < 0x20 || c >= 0x7f:
			fmt.Fprintf(&b, `\x%02X`, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// FuzzRoundTrip writes a line of a compiled format from the fuzzer's
// values, as the server would, and checks that it parses back to them.
func FuzzRoundTrip(f *testing.F) {
	for i := range roundTripFormats {
		f.Add(uint8(i), []byte("seed values \x00\xff\"\\ 0123456789"))
		f.Add(uint8(i), []byte{})
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		ft := roundTripFormats[int(which)%len(roundTripFormats)]
		compile := compileNginx
		if ft.apache {
			compile = compileApache
		}
		pr, err := compile(ft.spec)
		if err != nil {
			t.Fatal(err)
		}
		p := pr.(*program)
		g := &gen{b: data}
		var line strings.Builder
		var want record.Record
		line.WriteString(p.lead)
		when := time.Date(1990+g.n(60), time.Month(1+g.n(12)), 1+g.n(28), g.n(24), g.n(60), g.n(60), 0,
			time.FixedZone("", (g.n(27*60)-12*60)*60))
		for _, sl := range p.slots {
			quoted := strings.HasPrefix(sl.lit, `"`)
			var v string
			switch sl.kind {
			case kHost:
				v = fmt.Sprintf("%d.%d.%d.%d", g.byte(), g.byte(), g.byte(), g.byte())
				want.Host = v
			case kVHost:
				v = "h" + strings.Trim(g.word(), ":/?=&%;,@[]()") + ".example"
				want.VHost = v
			case kPort:
				p := fmt.Sprint(g.n(65536))
				v, want.VHost = p, want.VHost+":"+p
			case kIdent:
				v, want.Ident = "-", "-"
			case kUser:
				v = g.word()
				want.User = v
			case kTimeLocal, kTimeCLF:
				v = when.Format("02/Jan/2006:15:04:05 -0700")
				if sl.kind == kTimeCLF {
					v = "[" + v + "]"
				}
				want.Time = when
			case kTimeISO:
				v = when.Format("2006-01-02T15:04:05-07:00")
				want.Time = when
			case kMsec:
				ms := g.n(1000)
				v = fmt.Sprintf("%d.%03d", when.Unix(), ms)
				want.Time = when.Add(time.Duration(ms) * time.Millisecond).UTC()
			case kRequest:
				target := "/" + strings.ReplaceAll(g.word(), " ", "")
				v = []string{"GET", "POST", "M-SEARCH"}[g.n(3)] + " " + target + " HTTP/1." + fmt.Sprint(g.n(2))
				want.Method, want.Path, want.Proto = strings.Fields(v)[0], target, strings.Fields(v)[2]
			case kStatus:
				want.Status = 100 + g.n(900)
				v = fmt.Sprint(want.Status)
			case kBytes:
				want.Bytes = int64(g.n(1 << 16))
				v = fmt.Sprint(want.Bytes)
			case kReferer, kAgent, kField:
				var val string
				if quoted || sl.esc == escJSON {
					val = g.text()
					v = escape(val, sl.esc, ft.apache)
				} else {
					val = g.word()
					v = val
				}
				switch sl.kind {
				case kReferer:
					want.Referer = val
				case kAgent:
					want.Agent = val
				default:
					want.Fields = append(want.Fields, record.Pair{Name: sl.name, Value: val})
				}
			case kSeconds:
				ms := g.n(100000)
				v = fmt.Sprintf("%d.%03d", ms/1000, ms%1000)
				want.Duration = record.Took(time.Duration(ms) * time.Millisecond)
			case kMicros:
				us := g.n(1 << 16)
				v = fmt.Sprint(us)
				want.Duration = record.Took(time.Duration(us) * time.Microsecond)
			case kUpstream:
				var parts []string
				var sum time.Duration
				for k := 0; k < 1+g.n(4); k++ {
					if g.n(4) == 0 {
						parts = append(parts, "-")
						continue
					}
					ms := g.n(10000)
					sum += time.Duration(ms) * time.Millisecond
					want.UpstreamDuration = record.Took(sum)
					parts = append(parts, fmt.Sprintf("%d.%03d", ms/1000, ms%1000))
				}
				v = strings.Join(parts, ", ")
			default:
				t.Fatalf("the round trip has no value for %s", sl.label)
			}
			line.WriteString(v)
			line.WriteString(sl.lit)
		}
		var got record.Record
		if ok, at := p.Parse(&got, line.String()); !ok {
			t.Fatalf("format %q: line %q does not parse back: stopped at %d", ft.spec, line.String(), at)
		}
		same(t, line.String(), got, want)
	})
}
