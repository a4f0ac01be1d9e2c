package main

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// slackOf is a thread's or process's timer slack in nanoseconds, from
// /proc (path: /proc/<pid> or /proc/<pid>/task/<tid>).
func slackOf(t *testing.T, path string) int64 {
	t.Helper()
	b, err := os.ReadFile(path + "/timerslack_ns")
	if err != nil {
		t.Fatalf("read the timer slack: %v", err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		t.Fatalf("timerslack_ns %q: %v", b, err)
	}
	return n
}

// selfSlacks is the timer slack of each of the tool's threads.
func selfSlacks(t *testing.T) map[int64]bool {
	t.Helper()
	dirs, err := filepath.Glob("/proc/self/task/*")
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64]bool{}
	for _, d := range dirs {
		if _, err := os.Stat(d + "/timerslack_ns"); err == nil {
			out[slackOf(t, d)] = true
		}
	}
	return out
}

// A server the tool starts, pinned or not, runs with --timer-slack, as
// under weblogd's systemd unit; the tool's own threads keep theirs; 0
// leaves the server the slack it would have had.
func TestServersGetTheTimerSlack(t *testing.T) {
	before := selfSlacks(t)
	own := slackOf(t, "/proc/self")
	for _, tc := range []struct {
		name  string
		slack time.Duration
		pin   int
		want  int64
	}{
		{"1ms", time.Millisecond, -1, int64(time.Millisecond)},
		{"1ms pinned", time.Millisecond, 0, int64(time.Millisecond)},
		{"337us", 337 * time.Microsecond, -1, int64(337 * time.Microsecond)}, // no launcher's value
		{"none", 0, -1, own},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := &options{serverCmd: "tail -n0 -F {log}", timerSlack: tc.slack, pinServer: tc.pin, connectTimeout: 10 * time.Second}
			srv, err := startServer(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			defer srv.stop()
			// With taskset the pid is taskset's until it execs tail.
			deadline := time.Now().Add(5 * time.Second)
			for {
				b, _ := os.ReadFile("/proc/" + strconv.Itoa(srv.pid) + "/comm")
				if strings.TrimSpace(string(b)) == "tail" || time.Now().After(deadline) {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			if got := slackOf(t, "/proc/"+strconv.Itoa(srv.pid)); got != tc.want {
				t.Errorf("server's timer slack %d ns, want %d", got, tc.want)
			}
		})
	}
	if after := selfSlacks(t); !maps.Equal(after, before) {
		t.Errorf("the tool's own threads' slack was %v, is %v: they took the servers'", before, after)
	}
}

func TestTimerSlackFlag(t *testing.T) {
	for _, v := range []string{"-1ms", "1s"} {
		o, err := parseFlags([]string{"--timer-slack", v}, new(strings.Builder))
		if err == nil {
			err = o.check()
		}
		if err == nil || !strings.Contains(err.Error(), "--timer-slack") {
			t.Errorf("--timer-slack %s: err %v, want it refused", v, err)
		}
	}
}
