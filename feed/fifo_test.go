package feed_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weblogd/weblogd/feed"
)

// TestFIFOLog: a FIFO given as --log (nginx can log to one) is read as a
// stream. The server starts without a writer, every line a writer (a
// shell, here) writes into it becomes a record, the next writer is
// waited for when one closes, and shutdown is not held by a writer that
// keeps it open.
func TestFIFOLog(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "access.log")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state.json")
	srv, stop := stopServerFunc(t, feed.Config{Logs: []string{fifo}, StatePath: state, HTTPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0"})
	waitUntil(t, func() bool { code, _ := httpGet(t, "http://"+srv.HTTPAddr().String()+"/readyz"); return code == 200 })
	c := collect(t, srv, 0)

	shell := func(first, last int) {
		t.Helper()
		script := fmt.Sprintf(`i=%d; while [ $i -le %d ]; do printf 'line %%06d\n' $i; i=$((i+1)); done > "$1"`, first, last)
		cmd := exec.Command("sh", "-c", script, "sh", fifo)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("writer: %v: %s", err, out)
		}
	}
	shell(1, 1000)
	waitRecords(t, c, 1000)
	shell(1001, 2000) // the next writer
	got := waitRecords(t, c, 2000)
	assertRecords(t, got, 1, 1)

	// A writer that keeps the FIFO open, idle, at shutdown.
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.WriteString(numbered(2001) + "\n"); err != nil {
		t.Fatal(err)
	}
	waitRecords(t, c, 2001)
	start := time.Now()
	if err := stop(); err != nil {
		t.Fatalf("Run()=%v", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("shutdown took %v with a writer connected", took)
	}
	if len(c.ended(t)) != 2001 {
		t.Fatal("records were added after the last line written")
	}
	if _, raw := readState(t, state); !strings.Contains(string(raw), `"files":[]`) {
		t.Fatalf("checkpoint %s: want no position for a FIFO", raw)
	}
}
