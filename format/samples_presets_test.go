package format

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/weblogd/weblogd/record"
)

// sampleLines reads a real log of testdata/samples (see testdata/README.md).
func sampleLines(t testing.TB, name string) []string {
	t.Helper()
	data, err := os.ReadFile("testdata/samples/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

// addSamples seeds a fuzz target with the lines of a real log.
func addSamples(f *testing.F, name string) {
	for _, line := range sampleLines(f, name) {
		f.Add(line)
	}
}

// field returns the value of name in r's Fields.
func field(r record.Record, name string) string {
	for _, f := range r.Fields {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

// TestPresetSamples reads the real logs of every preset: each line
// parses except those named, and a few lines are checked in detail.
func TestPresetSamples(t *testing.T) {
	for _, tc := range []struct {
		file    string
		parser  func() Parser
		unfit   []int // line numbers that do not parse, directives aside
		check   func(t *testing.T, recs []record.Record)
		entries int // records with a status or a time and client
	}{
		{"caddy-access.log", newCaddy, []int{11, 12}, func(t *testing.T, recs []record.Record) {
			r := recs[0]
			if r.Status != 0 || r.Host != "127.0.0.1" || field(r, "request.remote_ip") != "172.17.0.1" ||
				r.Duration.D != 2701*time.Nanosecond || r.Proto != "HTTP/1.0" || r.VHost != "127.0.0.1:8080" {
				t.Errorf("line 1: %+v", r)
			}
			if r := recs[9]; r.User != "Bob" || r.Status != 200 || r.Bytes != 18630 {
				t.Errorf("line 10: %+v", r)
			}
		}, 10},
		{"caddy-access-h2-h3.log", newCaddy, nil, func(t *testing.T, recs []record.Record) {
			r := recs[3]
			if r.Proto != "HTTP/3.0" || field(r, "request.tls.proto") != "h3" || r.Host != "240e:1:1::1234" ||
				!strings.HasPrefix(r.Referer, "https://mirrors.tnonline.net/") {
				t.Errorf("line 4: %+v", r)
			}
		}, 4},
		{"traefik-clf.log", newTraefik, []int{8, 9}, func(t *testing.T, recs []record.Record) {
			if r := recs[4]; r.Status != 0 || r.Bytes != 0 || field(r, "RequestCount") != "45640" ||
				field(r, "RouterName") != "" || !r.Duration.Set {
				t.Errorf("line 5: %+v", r)
			}
			if r := recs[5]; r.Proto != "HTTP/2" || field(r, "RouterName") != "test@docker -> leaf@docker" ||
				r.Duration.D != 42*time.Millisecond {
				t.Errorf("line 6: %+v", r)
			}
		}, 7},
		{"traefik-json.log", newTraefikJSON, nil, func(t *testing.T, recs []record.Record) {
			r := recs[79]
			if r.Method != "CONNECT" || r.Status != 400 || r.UpstreamDuration.D != 539617 ||
				!strings.HasPrefix(field(r, "ServiceURL"), `{"Scheme":"http"`) {
				t.Errorf("line 80: %+v", r)
			}
		}, 80},
		{"traefik-json-mixed.log", newTraefikJSON, []int{6}, func(t *testing.T, recs []record.Record) {
			if r := recs[6]; r.Host != "192.168.1.100,10.0.0.50" || r.Status != 204 || field(r, "TLSVersion") != "1.3" {
				t.Errorf("line 7: %+v", r)
			}
		}, 6},
		{"iis-w3c.log", newW3C, nil, func(t *testing.T, recs []record.Record) {
			if r := recs[3]; r.Parsed || r.Line != sampleLines(t, "iis-w3c.log")[3] {
				t.Errorf("line 4, a directive: %+v", r)
			}
			r := recs[4]
			if r.Agent != "Mozilla/5.0 (compatible; bingbot/2.0;  http://www.bing.com/bingbot.htm)" ||
				r.Duration.D != 283*time.Millisecond || r.Bytes != 1405 || field(r, "cs-bytes") != "242" ||
				!r.Time.Equal(time.Date(2015, 1, 13, 0, 32, 17, 0, time.UTC)) {
				t.Errorf("line 5: %+v", r)
			}
		}, 210},
		{"alb-access.log", newALB, nil, func(t *testing.T, recs []record.Record) {
			if r := recs[13]; r.Duration.Set || r.Status != 404 || r.VHost != "cacti.example.com" ||
				field(r, "conn_trace_id") != "TID_1234abcd5678ef90" {
				t.Errorf("line 14: %+v", r)
			}
		}, 14},
		{"cloudfront-access.log", newCloudFront, nil, func(t *testing.T, recs []record.Record) {
			if r := recs[0]; r.VHost != "hub-cdn.crowdsec.net" || r.Path != "/testseb?query_param=42" ||
				r.Duration.D != 113*time.Millisecond || field(r, "sc-content-type") != "text/plain; charset=utf-8" {
				t.Errorf("line 1: %+v", r)
			}
		}, 2},
	} {
		t.Run(tc.file, func(t *testing.T) {
			p := tc.parser()
			unfit := map[int]bool{}
			for _, n := range tc.unfit {
				unfit[n] = true
			}
			var recs []record.Record
			entries := 0
			for i, line := range sampleLines(t, tc.file) {
				r, at := parseWith(p, line)
				if directive := strings.HasPrefix(line, "#"); directive != (at == Directive) {
					t.Errorf("line %d: stopped at %d, a directive: %v: %.200s", i+1, at, directive, line)
				} else if !directive && r.Parsed == unfit[i+1] {
					t.Errorf("line %d: parsed %v (stopped at %d): %.200s", i+1, r.Parsed, at, line)
				}
				if r.Parsed && (r.Status != 0 || !r.Time.IsZero() && r.Host != "") {
					entries++
				}
				recs = append(recs, r)
			}
			if entries != tc.entries {
				t.Errorf("%d access entries, want %d", entries, tc.entries)
			}
			tc.check(t, recs)
		})
	}
}

// TestPresetNames holds each preset to the --format name it answers to.
func TestPresetNames(t *testing.T) {
	for name, p := range map[string]Parser{
		"caddy": newCaddy(), "traefik": newTraefik(), "traefik-json": newTraefikJSON(),
		"w3c": newW3C(), "alb": newALB(), "cloudfront": newCloudFront(),
	} {
		if p.Name() != name {
			t.Errorf("Name() = %q, want %q", p.Name(), name)
		}
	}
}
