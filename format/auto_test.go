package format_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/weblogd/weblogd/format"
	"github.com/weblogd/weblogd/record"
)

// samples are a few lines of each preset as its server writes them.
var samples = map[string][]string{
	"combined": {
		`203.0.113.9 - - [07/Dec/2026:10:00:00 +0000] "GET /index.html HTTP/1.1" 200 2326 "-" "curl/8.5.0"`,
		`www.example.com:443 203.0.113.9 - - [07/Dec/2026:10:00:01 +0000] "GET / HTTP/2.0" 304 - "-" "Mozilla/5.0"`,
	},
	"traefik": {
		`203.0.113.9 - - [07/Dec/2026:10:00:00 +0000] "GET /index.html HTTP/1.1" 200 2326 "-" "curl/8.5.0" 1 "web@docker" "http://10.0.0.2:80" 12ms`,
	},
	"caddy": {
		`{"level":"info","ts":1796637600.123,"logger":"http.log.access.log0","msg":"handled request","request":{"remote_ip":"203.0.113.9","remote_port":"51234","client_ip":"203.0.113.9","proto":"HTTP/2.0","method":"GET","host":"example.com","uri":"/index.html","headers":{"User-Agent":["curl/8.5.0"]}},"bytes_read":0,"user_id":"","duration":0.000123,"size":2326,"status":200,"resp_headers":{"Content-Type":["text/html"]}}`,
	},
	"traefik-json": {
		`{"ClientAddr":"203.0.113.9:51234","ClientHost":"203.0.113.9","ClientPort":"51234","ClientUsername":"-","DownstreamContentSize":2326,"DownstreamStatus":200,"Duration":1234567,"OriginContentSize":2326,"OriginDuration":1000000,"OriginStatus":200,"RequestAddr":"example.com","RequestHost":"example.com","RequestMethod":"GET","RequestPath":"/index.html","RequestProtocol":"HTTP/1.1","RouterName":"web@docker","StartUTC":"2026-12-07T10:00:00.123456789Z","level":"info","msg":"","time":"2026-12-07T10:00:00Z"}`,
	},
	"json": {
		`{"time_local":"07/Dec/2026:10:00:00 +0000","remote_addr":"203.0.113.9","remote_user":"","request":"GET /index.html HTTP/1.1","status":"200","body_bytes_sent":"2326","request_time":"0.023","http_referer":"","http_user_agent":"curl/8.5.0"}`,
	},
	"w3c": {
		`#Software: Microsoft Internet Information Services 10.0`,
		`#Version: 1.0`,
		`#Date: 2026-12-07 10:00:00`,
		`#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken`,
		`2026-12-07 10:00:00 10.0.0.2 GET /index.html - 443 - 203.0.113.9 curl/8.5.0 - 200 0 0 23`,
	},
	"cloudfront": {
		`#Version: 1.0`,
		`#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol cs-bytes time-taken`,
		"2026-12-07\t10:00:00\tLAX1-C1\t2326\t203.0.113.9\tGET\td111111abcdef8.cloudfront.net\t/index.html\t200\t-\tcurl/8.5.0\t-\t-\tHit\tSOX4xwn4XV6Q4rgb7XiVGOHms==\texample.com\thttps\t23\t0.001",
	},
	"alb": {
		`https 2026-12-07T10:00:00.123456Z app/my-loadbalancer/50dc6c495c0c9188 203.0.113.9:51234 10.0.0.2:80 0.000 0.001 0.000 200 200 34 2326 "GET https://example.com:443/index.html HTTP/1.1" "curl/8.5.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337281-1d84f3d73c47ec4e58577259" "example.com" "-" 1 2026-12-07T10:00:00.122000Z "forward" "-" "-" "10.0.0.2:80" "200" "-" "-"`,
	},
}

// read runs p over lines as a source's reader does and returns the
// records.
func read(p format.Parser, lines []string) []record.Record {
	out := make([]record.Record, len(lines))
	for i, l := range lines {
		var r record.Record
		ok, _ := p.Parse(&r, l)
		if !ok {
			r = record.Record{}
		}
		r.Parsed, r.Line = ok, l
		out[i] = r
	}
	return out
}

// Under auto, each preset's lines read as the preset reads them, and auto
// says which it recognised. A preset that fits none of its lines yet
// (still being written) is checked only for not being mistaken for
// another format.
func TestAutoRecognisesPresets(t *testing.T) {
	for name, lines := range samples {
		t.Run(name, func(t *testing.T) {
			want := read(format.MustCompile(name).NewParser(), lines)
			p := format.MustCompile(format.Auto).NewParser()
			got := read(p, lines)
			fits := false
			for i := range lines {
				if want[i].Parsed {
					fits = true
					if !reflect.DeepEqual(got[i], want[i]) {
						t.Errorf("line %d: auto reads %+v, %s reads %+v", i, got[i], name, want[i])
					}
				}
			}
			if fits {
				if n := p.Name(); n != "auto: "+name {
					t.Errorf("Name()=%q, want %q", n, "auto: "+name)
				}
			} else if n := p.Name(); n != "auto" && name != "traefik" {
				// Traefik's CLF lines are Combined lines with more fields.
				t.Errorf("%s fits none of its lines, yet auto recognised them as %q", name, n)
			}
		})
	}
}

// A log whose lines change format (a rotation, a new log_format) is
// recognised again at its first new line, and again when it changes back.
func TestAutoRotatedLog(t *testing.T) {
	for _, other := range []string{"caddy", "json", "traefik-json", "alb", "w3c", "cloudfront"} {
		t.Run("combined to "+other, func(t *testing.T) {
			p := format.MustCompile(format.Auto).NewParser()
			clf := samples["combined"]
			otherWant := read(format.MustCompile(other).NewParser(), samples[other])
			for i, r := range read(p, clf) {
				if !r.Parsed || p.Name() != "auto: combined" {
					t.Fatalf("line %d: %+v, Name()=%q", i, r, p.Name())
				}
			}
			for i, r := range read(p, samples[other]) {
				if !reflect.DeepEqual(r, otherWant[i]) {
					t.Fatalf("%s line %d: auto reads %+v, %s reads %+v", other, i, r, other, otherWant[i])
				}
				if r.Parsed && p.Name() != "auto: "+other {
					t.Fatalf("%s line %d: Name()=%q", other, i, p.Name())
				}
			}
			for i, r := range read(p, clf) {
				if !r.Parsed || p.Name() != "auto: combined" {
					t.Fatalf("back to Combined, line %d: %+v, Name()=%q", i, r, p.Name())
				}
			}
		})
	}
}

func TestCompileNames(t *testing.T) {
	for _, name := range format.Names() {
		f, err := format.Compile(name)
		if err != nil {
			t.Fatalf("Compile(%q): %v", name, err)
		}
		if f.String() != name {
			t.Errorf("Compile(%q).String()=%q", name, f.String())
		}
		if n := f.NewParser().Name(); n != name && name != format.Auto {
			t.Errorf("Compile(%q).NewParser().Name()=%q", name, n)
		}
	}
	if f, err := format.Compile(""); err != nil || f.String() != "auto" || f.NewParser().Name() != "auto" {
		t.Errorf(`Compile("")=%v, %v: want auto`, f, err)
	}
	for _, name := range []string{"common", "vcombined"} {
		// The same tolerant parser: a Combined line is not refused.
		var r record.Record
		if ok, _ := format.MustCompile(name).NewParser().Parse(&r, samples["combined"][1]); !ok || r.VHost != "www.example.com:443" {
			t.Errorf("%s does not read a vhost_combined line: %+v", name, r)
		}
	}
	_, err := format.Compile("nginx")
	want := `unknown format "nginx" (one of: auto, combined, common, vcombined, caddy, traefik, traefik-json, json, w3c, alb, cloudfront; or an nginx log_format or Apache LogFormat string)`
	if err == nil || err.Error() != want {
		t.Errorf("Compile(nginx) error %v, want %s", err, want)
	}
}

// BenchmarkAuto reads the Apache test log with auto and with Combined
// directly: once auto has recognised the format, the two are within
// noise of each other.
func BenchmarkAuto(b *testing.B) {
	lines := readLines(b, apacheLog)
	for _, spec := range []string{"combined", format.Auto} {
		b.Run(spec, func(b *testing.B) {
			p := format.MustCompile(spec).NewParser()
			b.ReportAllocs()
			n := 0
			var r record.Record
			for b.Loop() {
				r = record.Record{}
				p.Parse(&r, lines[n%len(lines)])
				n++
			}
		})
	}
}

// Auto never panics, and gives a line the record of a format that reads
// it, or none.
func FuzzAuto(f *testing.F) {
	for _, lines := range samples {
		for _, l := range lines {
			f.Add(l)
		}
	}
	for _, s := range tricky {
		f.Add(s)
	}
	p := format.MustCompile(format.Auto).NewParser()
	f.Fuzz(func(t *testing.T, line string) {
		var r record.Record
		ok, at := p.Parse(&r, line)
		if !ok && at == format.Directive && !strings.HasPrefix(line, "#") {
			t.Fatalf("Parse(%q) says a directive", line)
		}
		if !ok && at != format.Directive && (at < 0 || at > len(line)) {
			t.Fatalf("Parse(%q) stopped at %d, outside the line", line, at)
		}
		if ok && !strings.HasPrefix(p.Name(), "auto: ") {
			t.Fatalf("Parse(%q) fits, but Name()=%q", line, p.Name())
		}
	})
}
