package main_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// --rotate-wait reaches the follower: with 100ms, a renamed log that
// stays quiet for 2 s (well under the 5 s default) is closed, so a line
// written to it afterwards is not read. Rotated files are drained before
// the new file's lines go out, so once a later line of the new file has
// arrived, the old file's line would have come first had it been read.
func TestRotateWaitFlag(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "access.log")
	appendLines(t, log, "before rotation")
	p := start(t, nil, "--log", log, "--backfill", "0", "--rotate-wait", "100ms",
		"--http", "", "--tcp", "127.0.0.1:0")
	s := dialSession(t, p.tcp, "")
	waitLine := func(line string) {
		t.Helper()
		for deadline := time.Now().Add(waitFor); !s.has(line); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%q not delivered within %v", line, waitFor)
			}
		}
	}
	appendLines(t, log, "old file")
	waitLine("old file")
	if err := os.Rename(log, log+".1"); err != nil {
		t.Fatal(err)
	}
	appendLines(t, log, "new file 1")
	waitLine("new file 1") // the rename is seen; the old file's wait runs
	time.Sleep(2 * time.Second)
	appendLines(t, log+".1", "old file, too late")
	appendLines(t, log, "new file 2")
	waitLine("new file 2")
	if s.has("old file, too late") {
		t.Fatal("a line written to the renamed log after 2 s of quiet was read: --rotate-wait 100ms was not applied")
	}
}
