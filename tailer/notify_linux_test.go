package tailer

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Tests of the shared inotify instance, without the poll that would hide
// a missed event.

// waitWake waits for a wake-up on c.
func waitWake(t *testing.T, c chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(5 * time.Second):
		t.Fatalf("no wake-up for %s", what)
	}
}

func TestNotifier(t *testing.T) {
	t.Run("SharedDirectoryWatch", func(t *testing.T) {
		// Two followers of one directory share its watch; one letting go
		// leaves the other's.
		dir := t.TempDir()
		n1, err := acquireNotifier()
		if err != nil {
			t.Fatal(err)
		}
		defer n1.release()
		n2, err := acquireNotifier()
		if err != nil {
			t.Fatal(err)
		}
		defer n2.release()
		if n1 != n2 {
			t.Fatal("two acquires gave two instances, want one shared")
		}
		a, b := make(chan struct{}, 1), make(chan struct{}, 1)
		ra, err := n1.watchDir(dir, "a.log", a)
		if err != nil {
			t.Fatal(err)
		}
		rb, err := n2.watchDir(dir, "b.log", b)
		if err != nil {
			t.Fatal(err)
		}
		defer rb.close()
		if ra.wd != rb.wd {
			t.Fatalf("watch descriptors %d and %d for one directory, want one", ra.wd, rb.wd)
		}
		ra.close()
		if err := os.WriteFile(filepath.Join(dir, "b.log"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		waitWake(t, b, "b.log created")
		select {
		case <-a:
			t.Fatal("a closed registration was woken")
		default:
		}
	})

	t.Run("NameFilter", func(t *testing.T) {
		dir := t.TempDir()
		n, err := acquireNotifier()
		if err != nil {
			t.Fatal(err)
		}
		defer n.release()
		a := make(chan struct{}, 1)
		r, err := n.watchDir(dir, "a.log", a)
		if err != nil {
			t.Fatal(err)
		}
		defer r.close()
		// Events come in order: if the one for other.log woke a, a is
		// full before a.log's arrives.
		os.WriteFile(filepath.Join(dir, "other.log"), nil, 0o644)
		os.WriteFile(filepath.Join(dir, "a.log"), nil, 0o644)
		waitWake(t, a, "a.log created")
		select {
		case <-a:
			t.Fatal("woken twice: other.log woke a follower of a.log")
		case <-time.After(50 * time.Millisecond):
		}
	})

	t.Run("FileWatchFollowsRenames", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "access.log")
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		n, err := acquireNotifier()
		if err != nil {
			t.Fatal(err)
		}
		defer n.release()
		c := make(chan struct{}, 1)
		r, err := n.watchFile(f, c)
		if err != nil {
			t.Fatal(err)
		}
		defer r.close()
		if err := os.Rename(path, path+".1"); err != nil {
			t.Fatal(err)
		}
		waitWake(t, c, "the rename")
		// A new file at the old name is not the watched one.
		if err := os.WriteFile(path, []byte("new\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		select {
		case <-c:
			t.Fatal("woken by a write to the file that took the name")
		case <-time.After(50 * time.Millisecond):
		}
		w, err := os.OpenFile(path+".1", os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		w.WriteString("old\n")
		waitWake(t, c, "a write to the renamed file")
	})

	t.Run("LastReleaseCloses", func(t *testing.T) {
		n, err := acquireNotifier()
		if err != nil {
			t.Fatal(err)
		}
		n.release()
		select {
		case <-n.done:
		case <-time.After(5 * time.Second):
			t.Fatal("the reading goroutine did not end after the last release")
		}
		shared.mu.Lock()
		defer shared.mu.Unlock()
		if shared.n != nil || shared.refs != 0 {
			t.Fatalf("after the last release: %v, %d refs; want none", shared.n, shared.refs)
		}
	})
}
