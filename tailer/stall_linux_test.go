package tailer_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/weblogd/weblogd/tailer"
)

// TestRunRecoversMissedWrite makes inotify miss a write for certain:
// writes through a shared mapping raise no event. The file ends in NULs,
// which Run has read (with the first line, in one read) as the start of a
// line; the line is then written over them through a mapping, without
// changing the file's size. The poll must find it, and the start of the
// line, read again, must be what the file holds now: the line is delivered
// once, as written.
func TestRunRecoversMissedWrite(t *testing.T) {
	const first, missed = "first\n", "missed\n"
	path := filepath.Join(t.TempDir(), "access.log")
	writeFile(t, path, first+strings.Repeat("\x00", len(missed)))
	r := startRun(t, tailer.Config{Path: path})
	assertLines(t, r.waitLines(t, 1), []tailer.Line{{Text: "first", Offset: 6}})

	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := syscall.Mmap(int(f.Fd()), 0, len(first)+len(missed), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	copy(m[len(first):], missed)
	if err := syscall.Munmap(m); err != nil {
		t.Fatal(err)
	}

	assertLines(t, r.waitLines(t, 2), []tailer.Line{{Text: "first", Offset: 6}, {Text: "missed", Offset: 13}})

	// It follows on, with nothing repeated.
	appendFile(t, path, "next\n")
	assertLines(t, r.linesBeforeSentinel(t, path), []tailer.Line{
		{Text: "first", Offset: 6},
		{Text: "missed", Offset: 13},
		{Text: "next", Offset: 18},
	})
}
