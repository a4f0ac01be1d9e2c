package main_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A token file that is not a regular file (a FIFO, which a read would
// wait on for ever) is a bad flag: exit 2 with the reason, at once.
func TestTokenFileFIFOExits2(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "tokens")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "--log", filepath.Join(dir, "access.log"), "--http", "127.0.0.1:0", "--tcp", "127.0.0.1:0", "--token-file", fifo)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatal("weblogd waits on a FIFO given as --token-file")
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(stderr.String(), "not a regular file") {
		t.Fatalf("exit %v, stderr %q; want status 2 and \"not a regular file\"", err, stderr.String())
	}
}

// A FIFO renamed over the token file while weblogd runs holds nothing:
// requests are answered with the tokens in force, and SIGTERM stops it.
func TestTokenFileReplacedByFIFOThenSigterm(t *testing.T) {
	dir := t.TempDir()
	log, tokens := filepath.Join(dir, "access.log"), filepath.Join(dir, "tokens")
	const tok = "fifo-test-token-0123456789"
	if err := os.WriteFile(tokens, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := start(t, nil, "--log", log, "--http", "127.0.0.1:0", "--tcp", "127.0.0.1:0", "--token-file", tokens)
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(fifo, tokens); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for end := time.Now().Add(2500 * time.Millisecond); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		req, _ := http.NewRequest("GET", "http://"+p.http+"/api/status", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET /api/status with a FIFO for the token file: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /api/status with a FIFO for the token file: %s, want 200", resp.Status)
		}
	}
	if code := p.signal(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d after SIGTERM, want 0\n%s", code, p.stderr)
	}
	if !strings.Contains(p.stderr.String(), "cannot reload the token file") || !strings.Contains(p.stderr.String(), "not a regular file") {
		t.Errorf("no log line saying the FIFO was refused:\n%s", p.stderr)
	}
}
