package feed_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/weblogd/weblogd/broadcast"
	"github.com/weblogd/weblogd/feed"
	"github.com/weblogd/weblogd/record"
)

// These tests restart a server with --state around the things that happen
// to logs, with a writer appending numbered lines all along, and check the
// records of both runs line by line and seq by seq.

func numbered(i int) string { return fmt.Sprintf("line %06d", i) }

// sentinel is the last line a test writer writes.
const sentinel = "-- sentinel --"

// lineWriter is a web server writing its log: numbered lines at a steady
// pace (a few thousand a second) through a descriptor it keeps across
// renames until told to reopen the path.
type lineWriter struct {
	path string
	mu   sync.Mutex
	f    *os.File
	n    int
	stop chan struct{}
	done chan struct{}
}

func startWriter(t *testing.T, path string) *lineWriter {
	t.Helper()
	w := &lineWriter{path: path, stop: make(chan struct{}), done: make(chan struct{})}
	w.open(t)
	go func() {
		defer close(w.done)
		for {
			select {
			case <-w.stop:
				return
			default:
			}
			w.mu.Lock()
			w.f.WriteString(numbered(w.n+1) + "\n")
			w.n++
			pause := w.n%4 == 0
			w.mu.Unlock()
			if pause {
				time.Sleep(time.Millisecond)
			}
		}
	}()
	t.Cleanup(func() {
		w.halt()
		w.f.Close()
	})
	return w
}

func (w *lineWriter) open(t *testing.T) {
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	w.f = f
}

func (w *lineWriter) halt() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

// more waits until the writer has written n more lines.
func (w *lineWriter) more(t *testing.T, n int) {
	t.Helper()
	w.mu.Lock()
	want := w.n + n
	w.mu.Unlock()
	waitUntil(t, func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.n >= want
	})
}

// reopen opens the path again, as nginx does on USR1.
func (w *lineWriter) reopen(t *testing.T) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.f.Close()
	w.open(t)
}

// finish stops the writer, writes the sentinel and returns how many
// numbered lines it wrote.
func (w *lineWriter) finish(t *testing.T) int {
	t.Helper()
	w.halt()
	if _, err := w.f.WriteString(sentinel + "\n"); err != nil {
		t.Fatal(err)
	}
	return w.n
}

// collector keeps every record a subscription receives until it ends.
type collector struct {
	mu   sync.Mutex
	recs []*record.Record
	gaps []broadcast.Gap
	done chan struct{}
}

// collect subscribes to srv for every record after since.
func collect(t *testing.T, srv *feed.Server, since uint64) *collector {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	sub, err := srv.Subscribe(ctx, broadcast.SubscribeOptions{Resume: true, Since: since})
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{done: make(chan struct{})}
	go func() {
		defer close(c.done)
		defer sub.Close()
		for {
			over := sub.Reason() != ""
			for items := sub.Take(); len(items) > 0; items = sub.Take() {
				c.mu.Lock()
				for _, it := range items {
					if it.Batch == nil {
						c.gaps = append(c.gaps, it.Gap)
						continue
					}
					c.recs = append(c.recs, it.Batch.Records...)
				}
				c.mu.Unlock()
			}
			if over {
				return
			}
			<-sub.Ready()
		}
	}()
	t.Cleanup(func() { sub.Close(); <-c.done })
	return c
}

func (c *collector) records() []*record.Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*record.Record(nil), c.recs...)
}

// untilSentinel waits for the sentinel record and returns those before it.
func (c *collector) untilSentinel(t *testing.T) []*record.Record {
	t.Helper()
	var got []*record.Record
	waitUntil(t, func() bool {
		got = c.records()
		for i, r := range got {
			if r.Line == sentinel {
				got = got[:i]
				return true
			}
		}
		return false
	})
	return got
}

// ended waits until the subscription has ended (the server stopped) and
// returns everything it received.
func (c *collector) ended(t *testing.T) []*record.Record {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(waitFor):
		t.Fatal("the subscription did not end")
	}
	if len(c.gaps) > 0 {
		t.Fatalf("gaps %v: the subscriber lost records", c.gaps)
	}
	return c.records()
}

// assertRecords checks that recs are the numbered lines first.. in order,
// each once, with the seqs seq.. in order.
func assertRecords(t *testing.T, recs []*record.Record, first int, seq uint64) {
	t.Helper()
	for i, r := range recs {
		if r.Line != numbered(first+i) || r.Seq != seq+uint64(i) {
			lo, hi := max(0, i-2), min(len(recs), i+3)
			var around []string
			for _, x := range recs[lo:hi] {
				around = append(around, fmt.Sprintf("%d:%s", x.Seq, x.Line))
			}
			t.Fatalf("record %d is seq %d %q, want seq %d %q; around it: %v", i, r.Seq, r.Line, seq+uint64(i), numbered(first+i), around)
		}
	}
}

func readState(t *testing.T, path string) (lastSeq uint64, raw []byte) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		LastSeq uint64 `json:"last_seq"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatalf("state %s: %v", raw, err)
	}
	return c.LastSeq, raw
}

// TestRestartAcrossRotation stops the server, rotates the log while it is
// down (the writer keeps writing to the renamed file, then reopens the
// path), and starts it again: the rest of the renamed file, then the new
// file from its start, every line once, seqs continuing.
func TestRestartAcrossRotation(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "access.log")
	state := filepath.Join(dir, "state.json")
	writeLines(t, log)
	cfg := feed.Config{Logs: []string{log}, StatePath: state, HTTPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0"}

	srv1, stop1 := stopServerFunc(t, cfg)
	c1 := collect(t, srv1, 0)
	w := startWriter(t, log)
	w.more(t, 300)
	if err := stop1(); err != nil {
		t.Fatalf("Run()=%v", err)
	}
	run1 := c1.ended(t)
	last, _ := readState(t, state)
	if len(run1) == 0 || run1[len(run1)-1].Seq != last {
		t.Fatalf("the first run got %d records; the checkpoint says last seq %d", len(run1), last)
	}
	assertRecords(t, run1, 1, 1)

	w.more(t, 100) // while down
	if err := os.Rename(log, log+".1"); err != nil {
		t.Fatal(err)
	}
	w.more(t, 100) // to the renamed file
	writeLines(t, log)
	w.reopen(t)
	w.more(t, 100) // to the new file

	srv2 := startServer(t, cfg)
	c2 := collect(t, srv2, last)
	w.more(t, 100)
	n := w.finish(t)
	run2 := c2.untilSentinel(t)
	assertRecords(t, run2, len(run1)+1, last+1)
	if got := len(run1) + len(run2); got != n {
		t.Fatalf("%d records over both runs, want %d", got, n)
	}
}

// TestRestartAfterCrash takes the checkpoint as a crash would leave it:
// the copy of one saved while lines kept coming, after which the server
// went on reading and saving. Restarting from that copy repeats exactly
// the lines read after it was saved, loses none, and gives them new seqs
// after its last seq (the seqs it had reserved, some of which the server
// went on to give out).
func TestRestartAfterCrash(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "access.log")
	state := filepath.Join(dir, "state.json")
	writeLines(t, log)
	cfg := feed.Config{Logs: []string{log}, StatePath: state, HTTPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0"}

	srv1, stop1 := stopServerFunc(t, cfg)
	c1 := collect(t, srv1, 0)
	w := startWriter(t, log)
	var snapSeq uint64
	var snap []byte
	waitUntil(t, func() bool {
		snapSeq, snap = readState(t, state)
		var cp struct {
			Logs []struct{ Files []struct{ Offset int64 } }
		}
		json.Unmarshal(snap, &cp)
		return len(cp.Logs) == 1 && len(cp.Logs[0].Files) == 1 && cp.Logs[0].Files[0].Offset >= 200*int64(len(numbered(1))+1)
	})
	w.more(t, 300) // read and saved after the snapshot
	if err := stop1(); err != nil {
		t.Fatalf("Run()=%v", err)
	}
	run1 := c1.ended(t)
	assertRecords(t, run1, 1, 1)

	// The crash: the checkpoint on disk is the snapshot.
	if err := os.WriteFile(state, snap, 0o644); err != nil {
		t.Fatal(err)
	}
	var cp struct {
		Logs []struct {
			Files []struct{ Offset int64 }
		}
	}
	if err := json.Unmarshal(snap, &cp); err != nil || len(cp.Logs) != 1 || len(cp.Logs[0].Files) != 1 {
		t.Fatalf("snapshot %s: want one log with one file (%v)", snap, err)
	}
	saved := int(cp.Logs[0].Files[0].Offset / int64(len(numbered(1))+1)) // lines before the saved offset
	if uint64(saved) > snapSeq {
		t.Fatalf("the snapshot has %d lines read but last seq %d: a restart would reuse seqs", saved, snapSeq)
	}

	srv2 := startServer(t, cfg)
	c2 := collect(t, srv2, snapSeq)
	w.more(t, 100)
	n := w.finish(t)
	run2 := c2.untilSentinel(t)
	// Exactly the lines after the saved offset, first the ones the crash
	// "lost" (run1 had delivered them after the snapshot), then the rest.
	assertRecords(t, run2, saved+1, snapSeq+1)
	if got := saved + len(run2); got != n {
		t.Fatalf("lines before the snapshot and after it: %d, want %d", got, n)
	}
	repeated := len(run1) - saved
	t.Logf("restart from a checkpoint %d lines old repeated exactly those %d lines", repeated, repeated)
}

// TestCheckpointWaitsForTheFlush: a checkpoint never holds a line whose
// record the hub has not yet offered to subscribers, or a crash right
// after it was saved would lose that line for every subscriber. With a
// long tick, lines wait in the ring for most of a second; the test
// watches each checkpoint as it is saved and compares it with what a
// subscriber had then received.
func TestCheckpointWaitsForTheFlush(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "access.log")
	state := filepath.Join(dir, "state.json")
	writeLines(t, log)
	srv := startServer(t, feed.Config{Logs: []string{log}, StatePath: state, Tick: time.Second,
		Ring: 100000, Queue: 100000, HTTPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0"})
	c := collect(t, srv, 0)
	// The hub's flushes follow the first line by whole ticks; the saver's
	// ticks began with the server: half a tick apart.
	time.Sleep(500 * time.Millisecond)
	startWriter(t, log)
	lineLen := int64(len(numbered(1)) + 1)
	prev, _ := os.ReadFile(state)
	checked := 0
	for deadline := time.Now().Add(waitFor); checked < 3; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d checkpoints with lines in %v, want 3", checked, waitFor)
		}
		raw, err := os.ReadFile(state)
		if err != nil || string(raw) == string(prev) {
			continue
		}
		received := len(c.records())
		prev = raw
		var cp struct {
			Logs []struct{ Files []struct{ Offset int64 } }
		}
		if err := json.Unmarshal(raw, &cp); err != nil || len(cp.Logs) != 1 || len(cp.Logs[0].Files) != 1 {
			t.Fatalf("checkpoint %s: want one log with one file (%v)", raw, err)
		}
		saved := cp.Logs[0].Files[0].Offset / lineLen
		if saved > int64(received) {
			t.Fatalf("a checkpoint holds %d lines while the subscriber has received %d: a crash now would lose %d",
				saved, received, saved-int64(received))
		}
		if saved > 0 {
			checked++
			t.Logf("checkpoint at line %d, %d received", saved, received)
		}
	}
}

// TestStateSaveFailureIsReported: when the checkpoint cannot be saved
// while running (its directory replaced by a file here, which stops root
// too), the failure is logged once however often it is retried, counted,
// and shown by /readyz; when saving works again, that is logged once and
// /readyz is 200 again.
func TestStateSaveFailureIsReported(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	log := tempLog(t)
	state := filepath.Join(dir, "state.json")
	logs := &logRecorder{}
	srv := startServer(t, feed.Config{Logs: []string{log}, StatePath: state, Tick: 5 * time.Millisecond,
		HTTPAddr: "127.0.0.1:0", Logger: slog.New(logs)})
	url := "http://" + srv.HTTPAddr().String()
	waitUntil(t, func() bool { code, _ := httpGet(t, url+"/readyz"); return code == 200 })

	if err := os.Rename(dir, dir+".away"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var body string
	deadline := time.Now().Add(waitFor)
	for i := 0; ; i++ { // every line moves the checkpoint: every tick tries
		writeLines(t, log, fmt.Sprintf("line %d while the checkpoint cannot be saved", i))
		time.Sleep(5 * time.Millisecond)
		var code int
		code, body = httpGet(t, url+"/readyz")
		mfs, _ := scrape(t, srv)
		errs, _ := value(mfs, "weblogd_state_save_errors_total")
		if code == 503 && errs >= 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %d lines: /readyz %d %q, %v failed saves; want 503 and at least 5", i, code, body, errs)
		}
	}
	if want := "cannot save the checkpoint: write state " + state + ": create a file in " + dir + ": not a directory"; !strings.Contains(body, want) {
		t.Fatalf("/readyz says %q, want %q", body, want)
	}
	if n := logs.count(slog.LevelError, "cannot save the checkpoint"); n != 1 {
		t.Fatalf("the failure was logged %d times, want once: %q", n, logs.all())
	}

	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(dir+".away", dir); err != nil {
		t.Fatal(err)
	}
	writeLines(t, log, "the checkpoint can be saved again")
	logs.waitFor(t, slog.LevelInfo, "saving the checkpoint recovered")
	waitUntil(t, func() bool { code, _ := httpGet(t, url+"/readyz"); return code == 200 })
	writeLines(t, log, "and again")
	time.Sleep(50 * time.Millisecond)
	if n := logs.count(slog.LevelInfo, "saving the checkpoint recovered"); n != 1 {
		t.Fatalf("the recovery was logged %d times, want once: %q", n, logs.all())
	}
}

// TestReservedSeqsRunOut: while the checkpoint cannot be saved, the ring
// gives out the seqs the last saved checkpoint reserved and no more; the
// lines after wait in their file, and come once the checkpoint can be
// saved again. A shutdown while they wait does not hang on them.
func TestReservedSeqsRunOut(t *testing.T) {
	const lines = 70000 // more than the 65,536 seqs reserved at the start
	setup := func(t *testing.T) (srv *feed.Server, stop func() error, log, dir string, c *collector) {
		dir = filepath.Join(t.TempDir(), "state")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		log = tempLog(t)
		srv, stop = stopServerFunc(t, feed.Config{Logs: []string{log}, StatePath: filepath.Join(dir, "state.json"),
			HTTPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0"})
		c = collect(t, srv, 0)
		if err := os.Rename(dir, dir+".away"); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dir, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		all := make([]string, lines)
		for i := range all {
			all[i] = numbered(i + 1)
		}
		writeLines(t, log, all...)
		reserved, _ := readState(t, filepath.Join(dir+".away", "state.json"))
		waitUntil(t, func() bool { return srv.LastSeq() == reserved })
		time.Sleep(100 * time.Millisecond) // time to give out more, if it would
		if got := srv.LastSeq(); got != reserved {
			t.Fatalf("last seq %d while the checkpoint on disk reserves up to %d", got, reserved)
		}
		if n := len(c.records()); n >= lines {
			t.Fatalf("%d records delivered while the checkpoint could not be saved, want fewer than %d", n, lines)
		}
		return srv, stop, log, dir, c
	}

	t.Run("then saving works again", func(t *testing.T) {
		_, stop, _, dir, c := setup(t)
		if err := os.Remove(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(dir+".away", dir); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, func() bool { return len(c.records()) == lines })
		assertRecords(t, c.records(), 1, 1)
		if err := stop(); err != nil {
			t.Fatalf("Run()=%v", err)
		}
	})

	t.Run("shutdown meanwhile", func(t *testing.T) {
		_, stop, _, _, _ := setup(t)
		err := stop()
		if err == nil || !strings.Contains(err.Error(), "not a directory") {
			t.Fatalf("Run()=%v, want the failed save of the checkpoint", err)
		}
	})
}

// TestStateOfAnotherFile restarts with a checkpoint whose file is gone,
// replaced by another one that was not rotated from it (nothing in the
// directory is the saved file): the checkpoint is reported and the log
// followed from its end, with seqs continuing. (A file deleted and
// created again while down may get the same inode back; with other
// content, that is taken for a truncation, and the file read from its
// start: all of it was written while down.)
func TestStateOfAnotherFile(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "access.log")
	state := filepath.Join(dir, "state.json")
	writeLines(t, log, "old 1", "old 2")
	logs := &logRecorder{}
	cfg := feed.Config{Logs: []string{log}, StatePath: state, HTTPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0",
		Logger: slog.New(logs)}
	_, stop := stopServerFunc(t, cfg)
	if err := stop(); err != nil {
		t.Fatalf("Run()=%v", err)
	}
	last, _ := readState(t, state)

	other := filepath.Join(t.TempDir(), "other.log")
	writeLines(t, other, "history of another file 1", "history of another file 2")
	if err := os.Rename(other, log); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, cfg)
	c := collect(t, srv, last)
	logs.waitFor(t, slog.LevelWarn, "not in this file")
	writeLines(t, log, "news")
	waitUntil(t, func() bool { return len(c.records()) > 0 })
	if r := c.records()[0]; r.Line != "news" || r.Seq != last+1 {
		t.Fatalf("first record seq %d %q, want seq %d \"news\": the other file is followed from its end", r.Seq, r.Line, last+1)
	}
}

// TestUnreadableStateIsReported: a checkpoint that cannot be used is
// reported at Warn and ignored; the server starts.
func TestUnreadableStateIsReported(t *testing.T) {
	for name, body := range map[string]string{
		"corrupt":         "{not json",
		"unknown version": `{"version":99,"last_seq":5,"logs":[]}`,
		"bad fingerprint": `{"version":2,"last_seq":5,"logs":[{"path":"x","files":[{"dev":1,"inode":2,"fingerprint":"zz","fingerprint_len":3,"offset":4}]}]}`,
		// Taken as it is, the next seq would wrap to 0.
		"last seq near 2^64":   `{"version":2,"last_seq":18446744073709551615,"logs":[]}`,
		"last seq beyond 2^53": `{"version":2,"last_seq":9007199254740992,"logs":[]}`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			log := filepath.Join(dir, "access.log")
			state := filepath.Join(dir, "state.json")
			writeLines(t, log, "old")
			if err := os.WriteFile(state, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			logs := &logRecorder{}
			srv := startServer(t, feed.Config{Logs: []string{log}, StatePath: state, Backfill: -1, Logger: slog.New(logs)})
			logs.waitFor(t, slog.LevelWarn, "ignoring the checkpoint")
			c := collect(t, srv, 0)
			writeLines(t, log, "new")
			waitUntil(t, func() bool { return len(c.records()) > 0 })
			if r := c.records()[0]; r.Seq != 1 || r.Line != "new" {
				t.Fatalf("first record seq %d %q, want seq 1 \"new\"", r.Seq, r.Line)
			}
		})
	}
}

// TestStateVersion1 resumes from a checkpoint written by the previous
// version (device, inode and offset, no fingerprint).
func TestStateVersion1(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "access.log")
	state := filepath.Join(dir, "state.json")
	writeLines(t, log, "read before", "written while down")
	fi, err := os.Stat(log)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	v1 := fmt.Sprintf(`{"version":1,"last_seq":7,"files":[{"path":%q,"dev":%d,"inode":%d,"offset":%d}]}`,
		log, st.Dev, st.Ino, len("read before\n"))
	if err := os.WriteFile(state, []byte(v1), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, feed.Config{Logs: []string{log}, StatePath: state})
	c := collect(t, srv, 7)
	writeLines(t, log, "after restart")
	waitUntil(t, func() bool { return len(c.records()) >= 2 })
	got := c.records()
	if got[0].Seq != 8 || got[0].Line != "written while down" || got[1].Seq != 9 || got[1].Line != "after restart" {
		t.Fatalf("records %d %q, %d %q; want 8 \"written while down\", 9 \"after restart\"", got[0].Seq, got[0].Line, got[1].Seq, got[1].Line)
	}
}

// TestFailedLogIsRetried: a log whose directory does not exist yet fails
// to be followed, and is retried until it can be.
func TestFailedLogIsRetried(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "later")
	log := filepath.Join(dir, "access.log")
	srv := startServer(t, feed.Config{Logs: []string{log}})
	url := "http://" + srv.HTTPAddr().String()
	waitUntil(t, func() bool {
		code, body := httpGet(t, url+"/readyz")
		return code == 503 && strings.Contains(body, "failed")
	})
	c := collect(t, srv, 0)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeLines(t, log, "first line of a late log")
	waitUntil(t, func() bool { return len(c.records()) > 0 })
	if r := c.records()[0]; r.Line != "first line of a late log" {
		t.Fatalf("first record %q, want the log's first line", r.Line)
	}
	waitUntil(t, func() bool { code, _ := httpGet(t, url+"/readyz"); return code == 200 })
}

// logRecorder is a slog.Handler that keeps every record's level and
// message.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *logRecorder) WithGroup(string) slog.Handler            { return h }

func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.msgs = append(h.msgs, r.Level.String()+" "+r.Message)
	return nil
}

// count returns how many messages at level contain substr.
func (h *logRecorder) count(level slog.Level, substr string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, m := range h.msgs {
		if strings.HasPrefix(m, level.String()+" ") && strings.Contains(m, substr) {
			n++
		}
	}
	return n
}

func (h *logRecorder) all() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.msgs...)
}

// waitFor waits for a message at level containing substr.
func (h *logRecorder) waitFor(t *testing.T, level slog.Level, substr string) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		h.mu.Lock()
		for _, m := range h.msgs {
			if strings.HasPrefix(m, level.String()+" ") && strings.Contains(m, substr) {
				h.mu.Unlock()
				return
			}
		}
		msgs := append([]string(nil), h.msgs...)
		h.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no %s message containing %q within %v: %q", level, substr, waitFor, msgs)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
