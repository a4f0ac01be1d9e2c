package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/weblogd/weblogd/fleet"
	"github.com/weblogd/weblogd/fleet/fleettest"
	"github.com/weblogd/weblogd/record"
)

// --help lists the NATS flags.
func TestHelpListsNATSFlags(t *testing.T) {
	out, err := exec.Command(binary, "--help").Output()
	if err != nil {
		t.Fatalf("--help: %v, want exit 0", err)
	}
	for _, f := range []string{"--publish URL", "--subscribe URL", "--node NAME", "--consumer NAME", "--nats-creds FILE", "--nats-nkey FILE",
		"--nats-token-file FILE", "--nats-user NAME", "--nats-password-file FILE", "--nats-ca FILE", "--nats-cert FILE", "--nats-key FILE"} {
		if !bytes.Contains(out, []byte("\n  "+f+"\n")) {
			t.Errorf("--help has no line %q", "  "+f)
		}
	}
}

// Bad NATS settings exit with status 2 and say why, before anything
// starts: the flags' own checks, and the files feed.New reads.
func TestBadNATSFlagsExit2(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "access.log")
	notASeed := filepath.Join(dir, "not-a-seed")
	if err := os.WriteFile(notASeed, []byte("hello\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		args []string
		env  []string
		want string
	}{
		{"malformed URL", []string{"--log", log, "--publish", "nats://host:4222:x"}, nil, "--publish: NATS URL"},
		{"unreadable token file", []string{"--subscribe", "nats://127.0.0.1:4222", "--nats-token-file", filepath.Join(dir, "missing")}, nil, "read the NATS token"},
		{"not an nkey seed", []string{"--log", log, "--publish", "nats://127.0.0.1:4222"}, []string{"WEBLOGD_NATS_NKEY=" + notASeed}, "read the NATS nkey seed"},
		{"bad consumer name", []string{"--subscribe", "nats://127.0.0.1:4222", "--consumer", "edge.1"}, nil, `consumer name "edge.1"`},
		{"user without password", []string{"--subscribe", "nats://127.0.0.1:4222", "--nats-user", "u"}, nil, "--nats-user needs --nats-password-file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(binary, append(c.args, "--http", "127.0.0.1:0", "--tcp", "")...)
			cmd.Env = append(os.Environ(), c.env...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
				t.Fatalf("exit %v, want status 2\n%s", err, stderr.String())
			}
			if !strings.Contains(stderr.String(), c.want) {
				t.Fatalf("stderr %q, want %q", stderr.String(), c.want)
			}
		})
	}
}

// natsPending reads nats.publish.pending from a running weblogd's
// /api/status.
func natsPending(t *testing.T, p *proc) int {
	t.Helper()
	resp, err := http.Get("http://" + p.http + "/api/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		NATS struct {
			Publish struct {
				Pending       int `json:"pending"`
				PendingOnDisk int `json:"pending_on_disk"`
			} `json:"publish"`
		} `json:"nats"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	if st.NATS.Publish.Pending != st.NATS.Publish.PendingOnDisk {
		t.Fatalf("%d records pending, %d of them on disk: with --state, all should be", st.NATS.Publish.Pending, st.NATS.Publish.PendingOnDisk)
	}
	return st.NATS.Publish.Pending
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A weblogd with --state and --publish is killed (SIGKILL, no shutdown)
// while NATS is down, after reading lines it could not publish; it is
// started again and reads more, still without NATS; then NATS comes up:
// the stream has every line once, in order.
func TestKilledPublisherLosesNothing(t *testing.T) {
	dir := t.TempDir()
	log, state := filepath.Join(dir, "access.log"), filepath.Join(dir, "state.json")
	appendLines(t, log, "written before the first start: not published (no --backfill through NATS)")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	args := []string{"--log", log, "--state", state, "--publish", url, "--node", "web-1", "--http", "127.0.0.1:0", "--tcp", ""}
	page := func(i int) string {
		return fmt.Sprintf(`203.0.113.9 - - [21/Nov/2026:10:00:00 +0100] "GET /page/%d HTTP/1.1" 200 %d`, i, i)
	}
	const n = 40

	p := start(t, nil, args...)
	for i := 1; i <= n; i++ {
		appendLines(t, log, page(i))
	}
	waitUntil(t, "the first lines waiting for NATS", func() bool { return natsPending(t, p) >= n })
	time.Sleep(200 * time.Millisecond) // a checkpoint or two past them
	p.signal(t, os.Kill)

	p = start(t, nil, args...)
	if got := natsPending(t, p); got < n {
		t.Fatalf("after the kill, %d records wait, want the %d read before it (from the buffer file)", got, n)
	}
	for i := n + 1; i <= 2*n; i++ {
		appendLines(t, log, page(i))
	}
	// Lines read again after the kill (the checkpoint of their last tick
	// was not saved) are passed over: they wait in the buffer already.
	waitUntil(t, "every line waiting for NATS", func() bool { return natsPending(t, p) >= 2*n })
	time.Sleep(100 * time.Millisecond)
	if got := natsPending(t, p); got != 2*n {
		t.Fatalf("%d records wait, want %d: each line once", got, 2*n)
	}

	fleettest.Run(t, &server.Options{Port: port})
	waitUntil(t, "everything published", func() bool { return natsPending(t, p) == 0 })
	if code := p.signal(t, os.Interrupt); code != 0 {
		t.Fatalf("exit status %d, want 0\n%s", code, p.stderr)
	}

	var mu sync.Mutex
	var paths []string
	e, err := fleet.NewEdge(fleet.EdgeConfig{URL: url, Node: "check"}, func(r *record.Record) {
		mu.Lock()
		paths = append(paths, r.Path)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	ectx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ectx) }()
	waitUntil(t, "every record at an edge", func() bool { mu.Lock(); defer mu.Unlock(); return len(paths) >= 2*n })
	time.Sleep(200 * time.Millisecond) // room for a duplicate to show
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(paths) != 2*n {
		t.Errorf("the edge got %d records, want %d: each line once", len(paths), 2*n)
	}
	for i, path := range paths {
		if want := fmt.Sprintf("/page/%d", i+1); path != want {
			t.Fatalf("record %d is %s, want %s (lost, duplicated or out of order): %v", i, path, want, paths)
		}
	}
}
