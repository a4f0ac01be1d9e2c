package feed_test

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/weblogd/weblogd/feed"
	"github.com/weblogd/weblogd/format"
)

// dockerLine is line as Docker's json-file driver writes it.
func dockerLine(t *testing.T, line, stream string) string {
	t.Helper()
	b, err := json.Marshal(struct {
		Log    string `json:"log"`
		Stream string `json:"stream"`
		Time   string `json:"time"`
	}{line, stream, "2026-12-07T10:00:00.123456789Z"})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const criTime = "2026-12-07T10:00:00.123456789Z"

// TestContainerLogsUnwrapped follows a Docker json-file log and a CRI log
// with the real server, some lines read as backfill and the rest live,
// and reads the records back as /hits?format=ndjson: each is the access
// line inside its wrapper, parsed (raw is sent only for a line that did
// not parse); a line split over several wrapped lines
// (CRI P P F, Docker's split) is one record; an error-log line on stderr
// is a raw record.
func TestContainerLogsUnwrapped(t *testing.T) {
	access := readLines(t, apacheLog)[:40]
	errLine := `2026/12/07 10:00:00 [error] 29#29: *1 open() "/usr/share/nginx/html/x" failed (2: No such file or directory)`

	var docker, cri []string
	var want []string // the records' raw text, in the order written per log
	for i, l := range access {
		switch i {
		case 10: // split by the runtime in three parts
			a, b, c := l[:15], l[15:40], l[40:]
			docker = append(docker, dockerLine(t, a, "stdout"), dockerLine(t, b, "stdout"), dockerLine(t, c+"\n", "stdout"))
			cri = append(cri, criTime+" stdout P "+a, criTime+" stdout P "+b, criTime+" stdout F "+c)
		case 20:
			docker = append(docker, dockerLine(t, errLine+"\n", "stderr"))
			cri = append(cri, criTime+" stderr F "+errLine)
			fallthrough
		default:
			docker = append(docker, dockerLine(t, l+"\n", "stdout"))
			cri = append(cri, criTime+" stdout F "+l)
		}
	}
	for i, l := range access {
		if i == 20 {
			want = append(want, errLine)
		}
		want = append(want, l)
	}

	dockerLog := filepath.Join(t.TempDir(), "0123abcd-json.log")
	criLog := filepath.Join(t.TempDir(), "0.log")
	// The first lines are there before the server starts (backfill), up
	// to the middle of the split line; the rest come while it follows.
	writeLines(t, dockerLog, docker[:11]...)
	writeLines(t, criLog, cri[:11]...)
	srv := startServer(t, feed.Config{Logs: []string{dockerLog, criLog}, TCPAddr: feed.NoListen, Backfill: 1000})

	s := dialLive(t, srv, kindNDJSON, "backlog=1000", nil)
	writeLines(t, dockerLog, docker[11:]...)
	writeLines(t, criLog, cri[11:]...)

	got := map[string][]liveItem{}
	for n := 0; n < 2*len(want); n++ {
		it := s.mustNext(t)
		if it.Gap {
			t.Fatalf("unexpected gap %+v", it)
		}
		got[it.Source] = append(got[it.Source], it)
	}
	for _, src := range []string{filepath.Base(dockerLog), filepath.Base(criLog)} {
		items := got[src]
		if len(items) != len(want) {
			t.Fatalf("%s: %d records, want %d", src, len(items), len(want))
		}
		for i, it := range items {
			if want[i] == errLine {
				if it.Raw != errLine || it.Status != 0 {
					t.Fatalf("%s: record %d %+v, want the raw error-log line %q", src, i, it, errLine)
				}
				continue
			}
			r := format.Parse(want[i])
			if !r.Parsed || it.Raw != "" || it.Status != r.Status || it.Path != r.Path || it.Host != r.Host || it.Agent != r.Agent {
				t.Fatalf("%s: record %d %+v, want the parsed %q", src, i, it, want[i])
			}
		}
	}
	checkSourceCounts(t, srv, len(want))
}

// checkSourceCounts checks /api/status: each log counted len records, one
// of them (the stderr line) not parsed, none cut.
func checkSourceCounts(t *testing.T, srv *feed.Server, n int) {
	t.Helper()
	resp, body := apiGet(t, srv, "/api/status")
	if resp.StatusCode != 200 {
		t.Fatalf("/api/status: %d", resp.StatusCode)
	}
	var st struct {
		Sources []struct {
			Name        string `json:"name"`
			Records     int    `json:"records"`
			ParseErrors int    `json:"parse_errors"`
		} `json:"sources"`
	}
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatalf("/api/status: %v: %s", err, body)
	}
	if len(st.Sources) != 2 {
		t.Fatalf("/api/status sources: %s", body)
	}
	for _, s := range st.Sources {
		if s.Records != n || s.ParseErrors != 1 {
			t.Fatalf("/api/status source %s: records %d parse errors %d, want %d and 1 (%s)", s.Name, s.Records, s.ParseErrors, n, body)
		}
	}
}
