//go:build linux

package main_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// weblogd starts itself again with the timer slack of --timer-slack, so
// that every thread has it, the Go runtime's monitor among them; with 0 it
// keeps what it was started with. It stays the same process.
func TestTimerSlackOnEveryThread(t *testing.T) {
	own := readSlack(t, "/proc/self/timerslack_ns")
	log := filepath.Join(t.TempDir(), "access.log")
	for _, c := range []struct {
		flag string
		want int64
	}{
		{"", 1_000_000}, // the default, 1ms
		{"250us", 250_000},
		{"0", own},
	} {
		t.Run("timer-slack="+c.flag, func(t *testing.T) {
			args := []string{"--log", log, "--http", "127.0.0.1:0", "--tcp", "127.0.0.1:0"}
			if c.flag != "" {
				args = append(args, "--timer-slack", c.flag)
			}
			p := start(t, nil, args...)
			// A thread's slack is in /proc/TID, which is not listed
			// but there.
			tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", p.cmd.Process.Pid))
			if err != nil || len(tasks) < 2 {
				t.Fatalf("threads of weblogd: %d, %v", len(tasks), err)
			}
			for _, task := range tasks {
				path := "/proc/" + task.Name() + "/timerslack_ns"
				if got := readSlack(t, path); got != c.want {
					t.Errorf("%s=%d, want %d", path, got, c.want)
				}
			}
			if comm := readFile(t, fmt.Sprintf("/proc/%d/comm", p.cmd.Process.Pid)); comm != "weblogd" {
				t.Errorf("the process is called %q, want weblogd (ps, top and pgrep show it)", comm)
			}
			if code := p.signal(t, syscall.SIGTERM); code != 0 {
				t.Fatalf("exit %d, want 0; stderr:\n%s", code, p.stderr)
			}
			if n := strings.Count(p.stderr.String(), "http="); n != 1 {
				t.Errorf("weblogd said where it listens %d times, want once:\n%s", n, p.stderr)
			}
		})
	}
}

func readSlack(t *testing.T, path string) int64 {
	t.Helper()
	ns, err := strconv.ParseInt(readFile(t, path), 10, 64)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return ns
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}
