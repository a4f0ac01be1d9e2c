package main_test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// burstWriter appends numbered lines to one log at about 4,000 a second
// until stopped, each write a few complete lines, as a busy web server does.
type burstWriter struct {
	name string
	f    *os.File
	mu   sync.Mutex
	n    int
	stop chan struct{}
	done chan struct{}
}

func startBurst(t *testing.T, path string) *burstWriter {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	w := &burstWriter{name: filepath.Base(path), f: f, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
			w.mu.Lock()
			var b strings.Builder
			for range 8 {
				w.n++
				b.WriteString(w.line(w.n) + "\n")
			}
			w.f.WriteString(b.String())
			w.mu.Unlock()
		}
	}()
	t.Cleanup(func() { w.finish(t); f.Close() })
	return w
}

func (w *burstWriter) line(i int) string { return fmt.Sprintf("%s line %06d", w.name, i) }

// finish stops the writer and appends its last line, "<name> end".
func (w *burstWriter) finish(t *testing.T) int {
	select {
	case <-w.stop:
	default:
		close(w.stop)
		<-w.done
		if _, err := w.f.WriteString(w.name + " end\n"); err != nil {
			t.Error(err)
		}
	}
	return w.n
}

var (
	hitRE = regexp.MustCompile(`^<hit seq="(\d+)" source="([^"]*)".* raw="([^"]*)"/>$`)
	gapRE = regexp.MustCompile(`^<gap from="(\d+)" to="(\d+)"/>$`)
)

// rawSession reads a raw TCP stream to its end, recording every record
// and gap marker.
type rawSession struct {
	mu    sync.Mutex
	lines map[uint64]string // seq -> "source: raw"
	order []uint64
	gaps  []string
	bad   []string
	ended chan struct{}
}

// dialSession connects, sends first (if any) and records in the
// background until the connection ends.
func dialSession(t *testing.T, addr, first string) *rawSession {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(4 * waitFor))
	if first != "" {
		if _, err := c.Write([]byte(first + "\n")); err != nil {
			t.Fatal(err)
		}
	}
	// "<hits>" comes once the server has subscribed the connection: what
	// is written to the logs after it reaches this client.
	sc := bufio.NewScanner(c)
	if !sc.Scan() || sc.Text() != "<hits>" {
		t.Fatalf("first line %q (%v), want <hits>", sc.Text(), sc.Err())
	}
	s := &rawSession{lines: map[uint64]string{}, ended: make(chan struct{})}
	go func() {
		defer close(s.ended)
		for sc.Scan() {
			l := sc.Text()
			s.mu.Lock()
			if m := hitRE.FindStringSubmatch(l); m != nil {
				seq, _ := strconv.ParseUint(m[1], 10, 64)
				s.lines[seq] = m[2] + ": " + m[3]
				s.order = append(s.order, seq)
			} else if gapRE.MatchString(l) {
				s.gaps = append(s.gaps, l)
			} else if l != "</hits>" {
				s.bad = append(s.bad, l)
			}
			s.mu.Unlock()
		}
	}()
	return s
}

func (s *rawSession) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.order)
}

func (s *rawSession) has(line string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.lines {
		if strings.HasSuffix(l, ": "+line) {
			return true
		}
	}
	return false
}

// A SIGKILL while two logs are written fast, then a restart with the same
// --state and a client resuming with SINCE the last seq it saw: no seq
// names two different lines across the crash, and every line written
// reaches the client at least once (lines read again get new seqs).
func TestKillMidBurstNeverReusesSeq(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	state := filepath.Join(dir, "state.json")
	for _, p := range []string{a, b} {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"--log", a, "--log", b, "--state", state, "--http", "127.0.0.1:0", "--tcp", "127.0.0.1:0"}

	p1 := start(t, nil, args...)
	before := dialSession(t, p1.tcp, "")
	wa, wb := startBurst(t, a), startBurst(t, b)
	deadline := time.Now().Add(waitFor)
	for before.count() < 2000 { // about a quarter of a second of both logs
		if time.Now().After(deadline) {
			t.Fatalf("the client got %d records in %v", before.count(), waitFor)
		}
		time.Sleep(5 * time.Millisecond)
	}
	p1.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p1.exited:
	case <-time.After(waitFor):
		t.Fatal("weblogd did not die of SIGKILL")
	}
	select {
	case <-before.ended:
	case <-time.After(waitFor):
		t.Fatal("the stream did not end when weblogd died")
	}
	var lastSeen uint64
	for _, seq := range before.order {
		lastSeen = max(lastSeen, seq)
	}
	time.Sleep(100 * time.Millisecond) // written while down

	p2 := start(t, nil, args...)
	after := dialSession(t, p2.tcp, fmt.Sprintf("SINCE %d", lastSeen))
	time.Sleep(200 * time.Millisecond)
	na, nb := wa.finish(t), wb.finish(t)
	deadline = time.Now().Add(waitFor)
	for !after.has("a.log end") || !after.has("b.log end") {
		if time.Now().After(deadline) {
			t.Fatalf("after the restart the client got %d records but not both logs' last lines", after.count())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if code := p2.signal(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d after SIGTERM\n%s", code, p2.stderr)
	}
	<-after.ended

	if len(before.bad)+len(after.bad) > 0 {
		t.Fatalf("lines that are neither hits nor gaps: %q %q", before.bad, after.bad)
	}
	reused := 0
	for seq, l := range after.lines {
		if was, ok := before.lines[seq]; ok && was != l {
			if reused < 5 {
				t.Errorf("seq %d was %q before the crash and %q after it", seq, was, l)
			}
			reused++
		}
	}
	seen := map[string]bool{}
	for _, s := range []*rawSession{before, after} {
		for _, l := range s.lines {
			seen[l] = true
		}
	}
	missing := 0
	for _, w := range []struct {
		w *burstWriter
		n int
	}{{wa, na}, {wb, nb}} {
		for i := 1; i <= w.n; i++ {
			if l := w.w.name + ": " + w.w.line(i); !seen[l] {
				if missing < 5 {
					t.Errorf("%q never reached the client", l)
				}
				missing++
			}
		}
	}
	again := len(before.lines) + len(after.lines) - len(seen)
	t.Logf("%d+%d lines written, %d records before the crash (last seq %d), %d after (gaps %q), %d lines delivered twice",
		na, nb, len(before.lines), lastSeen, len(after.lines), after.gaps, again)
	if reused > 0 || missing > 0 {
		t.Fatalf("%d seqs named different lines across the crash, %d lines were never delivered", reused, missing)
	}
}
