package main_test

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ncCommand returns the nc to run and the arguments that make it close
// its side for writing when its standard input ends: Debian's ncat (CI's,
// and its nc) does so by itself, OpenBSD's netcat with -N.
func ncCommand(t *testing.T) (string, []string) {
	t.Helper()
	for _, name := range []string{"nc", "ncat"} {
		path, err := exec.LookPath(name)
		if err != nil {
			continue
		}
		help, _ := exec.Command(path, "-h").CombinedOutput()
		if bytes.Contains(help, []byte("OpenBSD netcat")) {
			return path, []string{"-N"}
		}
		return path, nil
	}
	missing(t, "nc", "ncat")
	return "", nil
}

// `nc host 8888 < /dev/null > saved.xml` and `echo "SINCE 1" | nc host
// 8888 > saved.xml` close their side for writing at once; each still gets
// every record (the second first the history after seq 1), and at SIGTERM "</hits>", so that what it saved is a
// well-formed document.
func TestSigtermEndsHalfClosedNcSessions(t *testing.T) {
	nc, args := ncCommand(t)
	dir := t.TempDir()
	log := filepath.Join(dir, "access.log")
	appendLines(t, log, `192.0.2.1 - - [21/Nov/2026:10:00:00 +0000] "GET /old/1 HTTP/1.1" 200 5 "-" "curl/8"`,
		`192.0.2.1 - - [21/Nov/2026:10:00:00 +0000] "GET /old/2 HTTP/1.1" 200 5 "-" "curl/8"`)
	p := start(t, nil, "--log", log, "--http", "127.0.0.1:0", "--tcp", "127.0.0.1:0")
	host, port, _ := net.SplitHostPort(p.tcp)
	type client struct {
		input, saved string
		exited       chan error
	}
	clients := []*client{{input: ""}, {input: "SINCE 1\n"}}
	for i, c := range clients {
		c.saved = filepath.Join(dir, []string{"silent.xml", "since.xml"}[i])
		out, err := os.Create(c.saved)
		if err != nil {
			t.Fatal(err)
		}
		defer out.Close()
		cmd := exec.Command(nc, append(args, host, port)...)
		if c.input != "" {
			cmd.Stdin = strings.NewReader(c.input)
		}
		cmd.Stdout = out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill() })
		c.exited = make(chan error, 1)
		go func() { c.exited <- cmd.Wait() }()
	}
	saved := func(c *client) string {
		b, _ := os.ReadFile(c.saved)
		return string(b)
	}
	waitUntil := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(waitFor); !cond(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not in time; saved %q and %q", what, saved(clients[0]), saved(clients[1]))
			}
		}
	}
	waitUntil("<hits> and the SINCE backlog", func() bool {
		return strings.HasPrefix(saved(clients[0]), "<hits>\n") && strings.Count(saved(clients[1]), "<hit ") == 1
	})
	// Both are subscribed; the second's input has ended by now, and the
	// first's (nothing) at once.
	for _, path := range []string{"/new/1", "/new/2"} {
		appendLines(t, log, `192.0.2.1 - - [21/Nov/2026:10:00:00 +0000] "GET `+path+` HTTP/1.1" 200 5 "-" "curl/8"`)
		waitUntil("the new record "+path, func() bool {
			return strings.Contains(saved(clients[0]), path) && strings.Contains(saved(clients[1]), path)
		})
	}
	if code := p.signal(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit status %d after SIGTERM, want 0\n%s", code, p.stderr)
	}
	for _, c := range clients {
		select {
		case err := <-c.exited:
			if err != nil {
				t.Errorf("nc with input %q: %v", c.input, err)
			}
		case <-time.After(waitFor):
			t.Fatalf("nc with input %q did not end after the server's shutdown", c.input)
		}
		doc := saved(c)
		want := 2
		if c.input != "" {
			want = 3
		}
		if n := strings.Count(doc, "<hit "); n != want || !strings.HasSuffix(doc, "</hits>\n") {
			t.Fatalf("nc with input %q saved %q: want %d hits and </hits> at the end", c.input, doc, want)
		}
		lint(t, doc)
	}
}
