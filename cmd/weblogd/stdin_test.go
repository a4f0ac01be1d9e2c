package main_test

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStdinFromAChild: `some-command | weblogd --log -`, as with kubectl
// logs -f: a child process writes access lines slowly into weblogd's
// standard input, then exits. Each line is a record of source stdin,
// parsed; once the child is gone weblogd goes on serving, /readyz says
// stdin ended (503), and SIGTERM still ends it cleanly.
func TestStdinFromAChild(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	line := `203.0.113.9 - - [07/Dec/2026:10:00:00 +0000] "GET /pod HTTP/1.1" 200 12 "-" "kube-probe/1.30"`
	child := exec.Command("sh", "-c", `for i in 1 2 3 4 5; do printf '%s\n' "$1"; sleep 0.2; done`, "sh", line)
	child.Stdout = pw
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "--log", "-", "--http", "127.0.0.1:0", "--tcp", "127.0.0.1:0")
	cmd.Stdin = pr
	p := startCmd(t, cmd)
	pr.Close()
	pw.Close()

	base := "http://" + p.http
	var hits []map[string]any
	deadline := time.Now().Add(waitFor)
	for len(hits) < 5 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		resp, err := http.Get(base + "/api/hits?limit=100")
		if err != nil {
			t.Fatal(err)
		}
		hits = nil
		json.NewDecoder(resp.Body).Decode(&hits)
		resp.Body.Close()
	}
	if len(hits) != 5 {
		t.Fatalf("got %d records, want 5", len(hits))
	}
	for _, h := range hits {
		if h["source"] != "stdin" || h["path"] != "/pod" || h["agent"] != "kube-probe/1.30" {
			t.Fatalf("record %v", h)
		}
	}
	if err := child.Wait(); err != nil {
		t.Fatal(err)
	}
	var code int
	var body string
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		b := new(strings.Builder)
		buf := make([]byte, 512)
		n, _ := resp.Body.Read(buf)
		b.Write(buf[:n])
		resp.Body.Close()
		code, body = resp.StatusCode, b.String()
		if code == 503 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code != 503 || !strings.Contains(body, "stdin ended") {
		t.Fatalf("/readyz after the child exited: %d %q", code, body)
	}
	if code := p.signal(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d after SIGTERM; stderr:\n%s", code, p.stderr)
	}
	if !strings.Contains(p.stderr.String(), "standard input ended") {
		t.Errorf("no log line says stdin ended:\n%s", p.stderr)
	}
}
