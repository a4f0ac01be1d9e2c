package feed_test

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/weblogd/weblogd/feed"
	"github.com/weblogd/weblogd/record"
)

// These tests change a followed log behind weblogd's back in the ways
// that look like nothing happened: a file shorter than what was read, or
// written again past it, or a new file given the old one's inode.

// toolHit is access-log line i, as a load tool writes them: every line the
// same but for its path, so that only offsets tell files apart.
func toolHit(i int) string {
	return fmt.Sprintf(`203.0.113.9 - - [21/Nov/2026:10:00:00 +0100] "GET /p/%06d HTTP/1.1" 200 12 "-" "htool"`, i)
}

// toolHits returns the lines toolHit(first..last).
func toolHits(first, last int) []string {
	var ls []string
	for i := first; i <= last; i++ {
		ls = append(ls, toolHit(i))
	}
	return ls
}

// waitRecords waits until c has at least n records and returns them.
func waitRecords(t *testing.T, c *collector, n int) []*record.Record {
	t.Helper()
	var got []*record.Record
	waitUntil(t, func() bool { got = c.records(); return len(got) >= n })
	return got
}

// sourceStatus is one source of /api/status.
type sourceStatus struct {
	Name     string `json:"name"`
	Path     string `json:"path"`
	State    string `json:"state"`
	Reason   string `json:"reason"`
	Offset   int64  `json:"offset"`
	Size     int64  `json:"size"`
	LagBytes int64  `json:"lag_bytes"`
}

func statusSources(t *testing.T, srv *feed.Server) []sourceStatus {
	t.Helper()
	code, body := httpGet(t, "http://"+srv.HTTPAddr().String()+"/api/status")
	if code != 200 {
		t.Fatalf("/api/status: %d %s", code, body)
	}
	var st struct {
		Sources []sourceStatus `json:"sources"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("/api/status: %v: %s", err, body)
	}
	return st.Sources
}

// TestTruncatedToAShorterSize: `truncate -s 100` on a log read to 160 KB,
// then 1,000 more lines. The file is shorter than what was read, so it was
// truncated: it is read again from its start (what the truncation kept
// comes again, and the line it cut is joined to the first new line, as
// the file holds them), every new line arrives, the truncation is logged,
// and /api/status shows the offset in the file as it is now.
func TestTruncatedToAShorterSize(t *testing.T) {
	log := tempLog(t)
	logs := &logRecorder{}
	srv := startServer(t, feed.Config{Logs: []string{log}, Logger: slog.New(logs)})
	c := collect(t, srv, 0)
	writeLines(t, log, toolHits(1, 2000)...)
	waitRecords(t, c, 2000)

	if err := os.Truncate(log, 100); err != nil {
		t.Fatal(err)
	}
	writeLines(t, log, toolHits(2001, 3000)...)
	var got []*record.Record
	waitUntil(t, func() bool {
		got = c.records()
		return len(got) > 0 && got[len(got)-1].Line == toolHit(3000)
	})
	got = got[2000:]
	if len(got) != 1001 {
		t.Fatalf("%d records after the truncation, want 1001: the line truncate kept, then the 1,000 new ones", len(got))
	}
	// 100 bytes: the first line whole, and the start of the second.
	if want := toolHit(2)[:100-len(toolHit(1))-1] + toolHit(2001); got[0].Line != toolHit(1) || got[1].Line != want {
		t.Fatalf("records after the truncation begin %q, %q; want %q, %q", got[0].Line, got[1].Line, toolHit(1), want)
	}
	for i, r := range got[2:] {
		if r.Line != toolHit(2002+i) {
			t.Fatalf("record %d after the truncation is %q, want %q", i+2, r.Line, toolHit(2002+i))
		}
	}
	logs.waitFor(t, slog.LevelInfo, "truncated")

	size := int64(100 + 1000*(len(toolHit(1))+1))
	waitUntil(t, func() bool {
		s := statusSources(t, srv)[0]
		return s.Offset == size && s.Size == size && s.LagBytes == 0
	})
}

// TestRestartRewrittenPastTheOffset: while weblogd is down, the log is
// truncated and written again with the same first line, past the saved
// offset. The saved position's end of line is not there any more, so the
// file is read from its start: whole lines, none of them cut.
func TestRestartRewrittenPastTheOffset(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "access.log")
	state := filepath.Join(dir, "state.json")
	writeLines(t, log)
	cfg := feed.Config{Logs: []string{log}, StatePath: state, HTTPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0"}
	srv1, stop1 := stopServerFunc(t, cfg)
	c1 := collect(t, srv1, 0)
	writeLines(t, log, toolHits(1, 2000)...)
	waitRecords(t, c1, 2000)
	if err := stop1(); err != nil {
		t.Fatalf("Run()=%v", err)
	}
	last, _ := readState(t, state)

	// O_TRUNC keeps the inode; the same first line, then other lines, of
	// another length, to more than the saved offset.
	rewrite := []string{toolHit(1)}
	for i := 2; i <= 2500; i++ {
		rewrite = append(rewrite, fmt.Sprintf("%s %d", toolHit(i), i))
	}
	if err := os.WriteFile(log, []byte(strings.Join(rewrite, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	srv2 := startServer(t, cfg)
	c2 := collect(t, srv2, last)
	got := waitRecords(t, c2, len(rewrite))
	for i, r := range got {
		if i >= len(rewrite) || r.Line != rewrite[i] || r.Seq != last+1+uint64(i) {
			t.Fatalf("record %d after the restart is seq %d %q, want seq %d %q", i, r.Seq, r.Line, last+1+uint64(i), rewrite[min(i, len(rewrite)-1)])
		}
	}
	size := int64(len(strings.Join(rewrite, "\n")) + 1)
	waitUntil(t, func() bool {
		s := statusSources(t, srv2)[0]
		return s.Offset == size && s.Size == size && s.LagBytes == 0
	})
}

// TestRestartInodeReusedAfterCompression: while weblogd is down, more
// lines are written, then the log is rotated (renamed to access.log.1),
// compressed (access.log.1.gz, access.log.1 deleted) and a new access.log
// created, which the filesystem gives the freed inode (ext4 does so at
// once). The new file is not the saved one, whatever its inode: the lines
// written to the old one after the saved position are reported lost, as
// documented, and the new file is read from its start.
func TestRestartInodeReusedAfterCompression(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "access.log")
	state := filepath.Join(dir, "state.json")
	writeLines(t, log)
	logs := &logRecorder{}
	cfg := feed.Config{Logs: []string{log}, StatePath: state, HTTPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0", Logger: slog.New(logs)}
	srv1, stop1 := stopServerFunc(t, cfg)
	c1 := collect(t, srv1, 0)
	writeLines(t, log, toolHits(1, 300)...)
	waitRecords(t, c1, 300)
	if err := stop1(); err != nil {
		t.Fatalf("Run()=%v", err)
	}
	last, _ := readState(t, state)

	writeLines(t, log, toolHits(301, 400)...) // after the saved position
	oldIno := inode(t, log)
	// A second name keeps the inode for the new file, whatever the
	// filesystem does with freed inodes: the state is the one ext4
	// leaves, an access.log with the old inode and other content.
	keep := filepath.Join(dir, ".keep")
	if err := os.Link(log, keep); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(log, log+".1"); err != nil {
		t.Fatal(err)
	}
	gzipFile(t, log+".1")
	newFile := []string{`203.0.113.50 - - [22/Nov/2026:00:00:01 +0100] "GET /new HTTP/1.1" 200 5 "-" "curl/8.5.0"`}
	newFile = append(newFile, toolHits(1001, 1199)...)
	if err := os.WriteFile(keep, []byte(strings.Join(newFile, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(keep, log); err != nil {
		t.Fatal(err)
	}
	if inode(t, log) != oldIno {
		t.Fatal("the new access.log does not have the old inode")
	}

	srv2 := startServer(t, cfg)
	c2 := collect(t, srv2, last)
	logs.waitFor(t, slog.LevelWarn, "lines written to it after the saved position are lost")
	got := waitRecords(t, c2, len(newFile))
	for i, r := range got {
		if i >= len(newFile) || r.Line != newFile[i] || r.Seq != last+1+uint64(i) {
			t.Fatalf("record %d after the restart is seq %d %q, want the new file from its start: seq %d %q",
				i, r.Seq, r.Line, last+1+uint64(i), newFile[min(i, len(newFile)-1)])
		}
	}
}

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// gzipFile compresses path to path.gz and removes path, as logrotate's
// compress does.
func gzipFile(t *testing.T, path string) {
	t.Helper()
	in, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(path + ".gz")
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(out)
	if _, err := io.Copy(zw, in); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}
