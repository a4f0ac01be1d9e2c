package tailer_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weblogd/weblogd/tailer"
)

// gathered calls Gather and waits for its answer.
func gathered(tb testing.TB, t *tailer.Tailer) {
	tb.Helper()
	select {
	case <-t.Gather():
	case <-time.After(waitFor):
		tb.Fatalf("Gather was not answered within %v", waitFor)
	}
}

func TestGather(t *testing.T) {
	// When Gather's channel closes, every line written before the call
	// has been emitted: the broadcaster that calls it before a flush
	// flushes them all.
	t.Run("EmitsWhatWasWrittenBeforeTheCall", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "access.log")
		writeFile(t, path, "")
		r := startRun(t, tailer.Config{Path: path})
		r.waitState(t, tailer.StateFollowing)
		want := 0
		for i := 1; i <= 200; i++ {
			n := i % 3 // some Gathers find nothing, some one line, some two
			appendFile(t, path, strings.Repeat(fmt.Sprintf("line %d\n", i), n))
			want += n
			gathered(t, r.t)
			if got := len(r.snapshot()); got != want {
				t.Fatalf("after Gather %d: %d lines, want %d", i, got, want)
			}
		}
	})

	// While Gathers keep finding lines the follower stops being woken by
	// writes; lines written then are read by the next Gather, and when the
	// Gathers stop, by the poll: nothing is lost or repeated.
	t.Run("PacedLosesNothing", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "access.log")
		writeFile(t, path, "")
		r := startRun(t, tailer.Config{Path: path})
		r.waitState(t, tailer.StateFollowing)

		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				case <-time.After(5 * time.Millisecond):
					<-r.t.Gather()
				}
			}
		}()
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var want []tailer.Line
		var off int64
		for i := 0; i < 5000; i++ {
			text := fmt.Sprintf("GET /paced/%d HTTP/1.1", i)
			if _, err := f.WriteString(text + "\n"); err != nil {
				t.Fatal(err)
			}
			off += int64(len(text)) + 1
			want = append(want, tailer.Line{Text: text, Offset: off})
			if i%100 == 99 {
				time.Sleep(time.Millisecond)
			}
		}
		close(stop)
		wg.Wait()
		// The gathering stopped while lines may still be unread: the poll
		// finds them.
		assertLines(t, r.linesBeforeSentinel(t, path), want)
	})

	// A Gather that finds nothing gives the follower back its wake-ups:
	// the next line is read as it is written, not at the next poll.
	t.Run("EmptyGatherRestoresWakeUps", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "access.log")
		writeFile(t, path, "")
		r := startRun(t, tailer.Config{Path: path})
		r.waitState(t, tailer.StateFollowing)
		appendFile(t, path, "busy 1\nbusy 2\n")
		gathered(t, r.t) // finds lines: paced
		appendFile(t, path, "busy 3\n")
		gathered(t, r.t) // finds a line: still paced
		gathered(t, r.t) // finds none: woken by writes again
		if got := len(r.snapshot()); got != 3 {
			t.Fatalf("%d lines after the Gathers, want 3", got)
		}
		// Polling alone (every 250 ms) would bring few of these within
		// 30 ms; a wake-up brings each within a millisecond or so.
		prompt := 0
		for i := 0; i < 10; i++ {
			appendFile(t, path, fmt.Sprintf("quiet %d\n", i))
			began := time.Now()
			r.waitLines(t, 4+i)
			if time.Since(began) < 30*time.Millisecond {
				prompt++
			}
		}
		if prompt < 5 {
			t.Fatalf("%d of 10 lines read within 30 ms, want at least 5: writes do not wake the follower", prompt)
		}
	})
}
