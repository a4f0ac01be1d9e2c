package format_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weblogd/weblogd/format"
)

// TestSamplesListed keeps testdata/samples and its README together: every
// file there has a row giving its origin, licence and line count, and the
// count is right (a file is copied verbatim, so a changed count means a
// changed file).
func TestSamplesListed(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("testdata", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `samples/([^`]+)` \\|(?:[^|]*\\|){2} ([0-9,]+) \\|")
	listed := map[string]int{}
	for _, m := range row.FindAllStringSubmatch(string(readme), -1) {
		n, err := strconv.Atoi(strings.ReplaceAll(m[2], ",", ""))
		if err != nil {
			t.Fatalf("row of %s: line count %q: %v", m[1], m[2], err)
		}
		listed[m[1]] = n
	}
	files, err := filepath.Glob(filepath.Join("testdata", "samples", "*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no files in testdata/samples")
	}
	for _, f := range files {
		name := filepath.Base(f)
		want, ok := listed[name]
		if !ok {
			t.Errorf("testdata/samples/%s has no row in testdata/README.md", name)
			continue
		}
		delete(listed, name)
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		// Lines as a reader sees them: a last line without '\n' counts.
		got := strings.Count(string(b), "\n")
		if len(b) > 0 && b[len(b)-1] != '\n' {
			got++
		}
		if got != want {
			t.Errorf("testdata/samples/%s has %d lines, its row says %d", name, got, want)
		}
	}
	for name := range listed {
		t.Errorf("testdata/README.md lists samples/%s, which is not there", name)
	}
}

// sampleShares lists every real log of testdata (the samples and the two
// big logs) with the format it was written in (a preset, or the format
// string its server was given) and how many of its records, at least,
// that format and auto fit. A record is a line after unwrapping and
// joining (a part whose line never ends is none); a W3C directive fits.
// Lines that no format should fit (nginx's notices on a container's
// stderr, blank lines, a plugin's text) are why most shares are below
// all; the syslog files rsyslog writes without a <PRI> are not unwrapped,
// so nothing in them fits yet, and auto does not know a custom format
// string (apache-msec).
var sampleShares = []struct {
	file, format    string
	records         int
	ownFit, autoFit int
}{
	{"samples/alb-access.log", "alb", 14, 14, 14},
	{"samples/apache-msec.log", apacheMsec, 9, 9, 0},
	{"samples/apache-timing.log", apacheTiming, 9, 9, 9},
	{"samples/apache-vhost_combined.log", "vcombined", 9, 9, 9},
	{"samples/caddy-access.log", "caddy", 12, 10, 10},
	{"samples/caddy-access-h2-h3.log", "caddy", 4, 4, 4},
	{"samples/cloudfront-access.log", "cloudfront", 2, 2, 2},
	{"samples/cri-conmon-nginx.log", "combined", 19, 7, 7},
	{"samples/cri-ingress-nginx.log", "combined", 2, 2, 2},
	{"samples/docker-json-ingress-nginx.log", "combined", 3, 3, 3},
	{"samples/docker-json-nginx.log", "combined", 19, 7, 7},
	{"samples/iis-w3c.log", "w3c", 254, 254, 254},
	{"samples/lighttpd-access.log", "combined", 5, 5, 5},
	{"samples/nginx-json.log", "json", 11, 11, 11},
	{"samples/nginx-rsyslog-file.log", "combined", 4, 0, 0},
	{"samples/nginx-rsyslog-rfc5424.log", "combined", 4, 4, 4},
	{"samples/nginx-rsyslog-traditional.log", "combined", 4, 0, 0},
	{"samples/nginx-syslog.log", "combined", 11, 11, 11},
	{"samples/nginx-timing.log", nginxTiming, 11, 11, 11},
	{"samples/traefik-clf.log", "traefik", 9, 7, 7},
	{"samples/traefik-json-mixed.log", "traefik-json", 7, 6, 6},
	{"samples/traefik-json.log", "traefik-json", 80, 80, 80},
	{"apache_combined_10k.log", "combined", 10000, 10000, 10000},
	{"nginx_combined_extra_1k.log", "combined", 1000, 1000, 1000},
}

// TestSampleShares reads each real log through a Reader, as weblogd does,
// with the format it was written in and with auto, and holds the share of
// records each fits to at least what it was. With -v it prints the table
// of docs/formats.md.
func TestSampleShares(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "samples", "*"))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, s := range sampleShares {
		listed[s.file] = true
	}
	for _, f := range files {
		if name, _ := filepath.Rel("testdata", f); !listed[name] {
			t.Errorf("%s is not in sampleShares", name)
		}
	}
	var table strings.Builder
	table.WriteString("| log | format | records | fit by its format | fit by auto |\n|---|---|---|---|---|\n")
	for _, s := range sampleShares {
		lines := readLines(t, filepath.Join("testdata", s.file))
		fits := func(spec string) (records, fit uint64) {
			r := format.MustCompile(spec).NewReader(format.ReaderConfig{})
			now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
			for _, l := range lines {
				r.Read(l, false, now)
			}
			records, errs, _ := r.Counts()
			return records, records - errs
		}
		records, own := fits(s.format)
		autoRecords, auto := fits(format.Auto)
		if records != uint64(s.records) || autoRecords != records {
			t.Errorf("%s: %d records, %d under auto, want %d", s.file, records, autoRecords, s.records)
		}
		if own < uint64(s.ownFit) || auto < uint64(s.autoFit) {
			t.Errorf("%s: %s fits %d of %d records, auto %d, want at least %d and %d", s.file, s.format, own, records, auto, s.ownFit, s.autoFit)
		}
		name := s.format
		if strings.ContainsAny(name, "$%") {
			name = "its format string"
		}
		fmt.Fprintf(&table, "| `%s` | %s | %d | %s | %s |\n", s.file, name, records, share(own, records), share(auto, records))
	}
	t.Log("\n" + table.String())
}

// share is n of total as a percentage, with the count.
func share(n, total uint64) string {
	return fmt.Sprintf("%d (%.0f%%)", n, 100*float64(n)/float64(total))
}
