package fleet_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weblogd/weblogd/fleet"
	"github.com/weblogd/weblogd/transports"
)

// freeURL returns the URL of a loopback port nothing listens on (yet),
// and the port.
func freeURL(tb testing.TB) (string, int) {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return fmt.Sprintf("nats://127.0.0.1:%d", port), port
}

// logBuffer is a slog handler's output, safe to read while it is written.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

// diskPublisher is a publisher of node web-1 keeping its buffer in file.
func diskPublisher(tb testing.TB, url, file string, log *slog.Logger) *fleet.Publisher {
	tb.Helper()
	p, err := fleet.NewPublisher(fleet.PublisherConfig{URL: url, Node: "web-1", Options: fastReconnect,
		AckTimeout: time.Second, BufferFile: file, Logger: log})
	if err != nil {
		tb.Fatalf("NewPublisher()=%v", err)
	}
	tb.Cleanup(func() { p.Close() })
	return p
}

func publishRange(p *fleet.Publisher, from, to uint64) {
	for i := from; i <= to; i++ {
		p.Publish(makeRecord("web-1.log", i))
	}
}

// fileSize is the size of the file at path.
func fileSize(tb testing.TB, path string) int64 {
	tb.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		tb.Fatal(err)
	}
	return fi.Size()
}

const headerSize = int64(len("weblogd NATS publish buffer 1\n"))

// TestBufferFileAcrossRestartWhileNATSIsDown: records published while
// NATS is down wait in the buffer file; the process stops and starts
// again (still no NATS) and publishes more; NATS comes up: every record
// is in the stream once, in order, the old ones first. The first half is
// large enough for the file to be rewritten (compacted) while it drains.
func TestBufferFileAcrossRestartWhileNATSIsDown(t *testing.T) {
	url, port := freeURL(t)
	file := filepath.Join(t.TempDir(), "state.json.nats")
	const n = 9000

	p1 := diskPublisher(t, url, file, nil)
	stop1 := run(t, p1.Run)
	publishRange(p1, 1, n/2)
	if st := p1.Stats(); st.Pending != n/2 || st.OnDisk != n/2 || st.Connected {
		t.Fatalf("first run Stats()=%+v, want %d pending, all on disk, not connected", st, n/2)
	}
	stop1()
	if err := p1.Close(); err != nil {
		t.Fatalf("Close()=%v", err)
	}

	p2 := diskPublisher(t, url, file, nil)
	if st := p2.Stats(); st.Pending != n/2 || st.OnDisk != n/2 || st.DiskErrors != 0 {
		t.Fatalf("restarted Stats()=%+v, want the %d records of the first run waiting, on disk", st, n/2)
	}
	stop2 := run(t, p2.Run)
	publishRange(p2, n/2+1, n)
	if st := p2.Stats(); st.Pending != n || st.OnDisk != n || st.Lag <= 0 {
		t.Fatalf("restarted Stats()=%+v, want %d pending, all on disk, and a lag", st, n)
	}

	runNATS(t, t.TempDir(), port)
	var c collector
	run(t, newEdge(t, url, "edge", &c).Run)
	waitFor(t, 20*time.Second, "every record at the edge", func() bool { return c.len() >= n })
	time.Sleep(200 * time.Millisecond) // room for a duplicate to show
	checkOnceInOrder(t, c.all(), n, "web-1")
	waitFor(t, 5*time.Second, "nothing waiting", func() bool { return p2.Stats().OnDisk == 0 })
	if st := p2.Stats(); st.Pending != 0 || st.Published != n || st.Lag != 0 {
		t.Errorf("Stats()=%+v, want all %d published, nothing waiting, no lag", st, n)
	}
	// Rewritten while it drained: what is done is never more than what
	// waits or compactMin records; Close leaves it empty.
	if size := fileSize(t, file); size > 4096*300 {
		t.Errorf("the buffer file has %d bytes once drained, want it compacted", size)
	}
	stop2()
	p2.Close()
	if size := fileSize(t, file); size != headerSize {
		t.Errorf("the buffer file has %d bytes after Close with nothing waiting, want only its header", size)
	}
}

// TestBufferFileRestartAfterPublishing: a restart after everything was
// acknowledged sends nothing again; a restart from a copy of the file
// taken before the acknowledgements were written down (a crash) sends the
// records again, and the stream drops every one: no duplicates.
func TestBufferFileRestartAfterPublishing(t *testing.T) {
	url, port := freeURL(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "state.json.nats")
	const n = 500

	p1 := diskPublisher(t, url, file, nil)
	stop1 := run(t, p1.Run)
	publishRange(p1, 1, n)
	crashImage, err := os.ReadFile(file) // every record, none acknowledged
	if err != nil {
		t.Fatal(err)
	}
	runNATS(t, t.TempDir(), port)
	waitFor(t, 10*time.Second, "the first run published", func() bool { return p1.Stats().Published == n })
	stop1()
	p1.Close()

	p2 := diskPublisher(t, url, file, nil)
	if st := p2.Stats(); st.Pending != 0 {
		t.Fatalf("restart after the acks: Stats()=%+v, want nothing waiting", st)
	}
	stop2 := run(t, p2.Run)
	publishRange(p2, n+1, n+100)
	waitFor(t, 10*time.Second, "the second run published", func() bool { return p2.Stats().Published == 100 })
	stop2()
	p2.Close()

	// A crash of the first run before its acks were on disk.
	if err := os.WriteFile(file, crashImage, 0o600); err != nil {
		t.Fatal(err)
	}
	p3 := diskPublisher(t, url, file, nil)
	if st := p3.Stats(); st.Pending != n {
		t.Fatalf("restart from the crash image: Stats()=%+v, want %d waiting", st, n)
	}
	run(t, p3.Run)
	waitFor(t, 10*time.Second, "the replay acknowledged", func() bool { return p3.Stats().Published == n })

	var c collector
	run(t, newEdge(t, url, "edge", &c).Run)
	waitFor(t, 10*time.Second, "every record at the edge", func() bool { return c.len() >= n+100 })
	time.Sleep(300 * time.Millisecond)
	checkOnceInOrder(t, c.all(), n+100, "web-1")
}

// TestBufferFileTornTail: a buffer file whose last record was cut short
// (a crash while writing) or is followed by garbage gives back every
// record before the damage, says so once in the log, counts it, and the
// start goes on; the file is clean again afterwards.
func TestBufferFileTornTail(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func([]byte) []byte
		kept   int
	}{
		{"torn last record", func(b []byte) []byte { return b[:len(b)-7] }, 9},
		{"garbage after the last record", func(b []byte) []byte { return append(b, "\x00\x00\x01\x00garbage"...) }, 10},
		{"flipped byte in the last record", func(b []byte) []byte { b[len(b)-3] ^= 0xff; return b }, 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, port := freeURL(t)
			file := filepath.Join(t.TempDir(), "state.json.nats")
			p1 := diskPublisher(t, url, file, nil)
			publishRange(p1, 1, 10)
			p1.Close()
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, tc.damage(b), 0o600); err != nil {
				t.Fatal(err)
			}

			var logs logBuffer
			p2 := diskPublisher(t, url, file, logs.logger())
			st := p2.Stats()
			if st.Pending != tc.kept || st.DiskErrors != 1 {
				t.Fatalf("Stats()=%+v, want %d records kept and 1 disk error", st, tc.kept)
			}
			if got := strings.Count(logs.String(), "damaged"); got != 1 {
				t.Errorf("the damage is logged %d times, want once:\n%s", got, logs.String())
			}
			p2.Close()
			p3 := diskPublisher(t, url, file, nil)
			if st := p3.Stats(); st.Pending != tc.kept || st.DiskErrors != 0 {
				t.Fatalf("next start Stats()=%+v, want the %d records and a clean file", st, tc.kept)
			}

			runNATS(t, t.TempDir(), port)
			run(t, p3.Run)
			var c collector
			run(t, newEdge(t, url, "edge", &c).Run)
			waitFor(t, 10*time.Second, "the kept records at the edge", func() bool { return c.len() >= tc.kept })
			time.Sleep(100 * time.Millisecond)
			checkOnceInOrder(t, c.all(), uint64(tc.kept), "web-1")
		})
	}
}

// TestBufferFileBound: records dropped from a full buffer are never
// written; a restart keeps every record the file holds, those queued
// beyond Buffer at shutdown too (their lines count as read).
func TestBufferFileBound(t *testing.T) {
	url, _ := freeURL(t)
	file := filepath.Join(t.TempDir(), "state.json.nats")
	newP := func() *fleet.Publisher {
		p, err := fleet.NewPublisher(fleet.PublisherConfig{URL: url, Node: "web-1", Buffer: 10, BufferFile: file})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		return p
	}
	p1 := newP()
	publishRange(p1, 1, 25)
	if st := p1.Stats(); st.Pending != 10 || st.Dropped != 15 || st.OnDisk != 10 {
		t.Fatalf("Stats()=%+v, want 10 pending (on disk), 15 dropped", st)
	}
	// Queued beyond Buffer when its reader stops (ctx done): kept too.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p1.PublishWait(ctx, makeRecord("web-1.log", 26), "dev1:ino7:fp", 2600)
	p1.Close()
	p2 := newP()
	if st := p2.Stats(); st.Pending != 11 || st.OnDisk != 11 {
		t.Fatalf("after a restart Stats()=%+v, want the 11 of the last run waiting", st)
	}
	publishRange(p2, 27, 30)
	if st := p2.Stats(); st.Pending != 11 || st.Dropped != 4 {
		t.Fatalf("Stats()=%+v, want 11 pending, 4 dropped", st)
	}
}

// TestBufferFileUnusable: a buffer file that cannot be read is an error
// from NewPublisher, not records silently lost.
func TestBufferFileUnusable(t *testing.T) {
	url, _ := freeURL(t)
	dir := t.TempDir()
	if _, err := fleet.NewPublisher(fleet.PublisherConfig{URL: url, BufferFile: dir}); err == nil {
		t.Error("NewPublisher(BufferFile: a directory)=nil error, want one")
	}
	if _, err := fleet.NewPublisher(fleet.PublisherConfig{URL: url, BufferFile: filepath.Join(dir, "no", "such", "dir", "f")}); err == nil {
		t.Error("NewPublisher(BufferFile in a missing directory)=nil error, want one")
	}
}

// TestBufferFileOfVersion1: a buffer file written by the version before
// batches (one JSON message per record) is read, and its records sent.
func TestBufferFileOfVersion1(t *testing.T) {
	s := runNATS(t, t.TempDir(), 0)
	file := filepath.Join(t.TempDir(), "state.json.nats")
	b := []byte("weblogd NATS publish buffer 1\n")
	for i, key := range []string{"dev1:ino7:fp:100", "seq:2"} {
		r := makeRecord("web-1.log", uint64(i+1))
		r.Node = "web-1"
		body := binary.AppendVarint([]byte{'r'}, time.Now().UnixNano())
		for _, s := range []string{fleet.Subject(fleet.DefaultPrefix, "web-1", "web-1.log"), "web-1\x1fweb-1.log\x1f" + key} {
			body = binary.AppendUvarint(body, uint64(len(s)))
			body = append(body, s...)
		}
		body = transports.AppendJSONRaw(body, r)
		b = binary.BigEndian.AppendUint32(b, uint32(len(body)))
		b = binary.BigEndian.AppendUint32(b, crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)))
		b = append(b, body...)
	}
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	p := diskPublisher(t, s.ClientURL(), file, nil)
	if st := p.Stats(); st.Pending != 2 || st.DiskErrors != 0 {
		t.Fatalf("Stats()=%+v, want the 2 records of the file waiting", st)
	}
	run(t, p.Run)
	var c collector
	run(t, newEdge(t, s.ClientURL(), "edge", &c).Run)
	waitFor(t, 10*time.Second, "the records at the edge", func() bool { return c.len() >= 2 })
	time.Sleep(100 * time.Millisecond)
	checkOnceInOrder(t, c.all(), 2, "web-1")
}
