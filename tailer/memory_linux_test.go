package tailer_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weblogd/weblogd/tailer"
)

// heapLimit is the bound asserted on the heap in use while a follower
// reads hundreds of megabytes: the follower holds two 64 KiB read buffers
// and one MaxLineBytes line buffer; the rest is the test's own garbage
// (each delivered line's text) between collections. A follower that held
// a line or a file in memory would go far past it.
const heapLimit = 64 << 20

func TestBoundedMemory(t *testing.T) {
	t.Run("HugeLine", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "access.log")
		writeFile(t, path, "")
		r := startRun(t, tailer.Config{Path: path})
		r.waitState(t, tailer.StateFollowing)
		// Just over 1 MiB; the cut falls in the middle of an "é" and backs
		// off to its start.
		huge := "x" + strings.Repeat("é", 1<<19)
		appendFile(t, path, huge+"\nafter\n")
		n := int64(len(huge))
		assertLines(t, r.waitLines(t, 2), []tailer.Line{
			{Text: huge[:tailer.DefaultMaxLineBytes-1], Offset: n + 1, Truncated: true},
			{Text: "after", Offset: n + 7},
		})
	})

	t.Run("HugeGrowthOfShortLines", func(t *testing.T) {
		// 200 MB of 100-byte lines appear at once.
		const size = 200 << 20
		const lineLen = 99 // and "\n"
		path := filepath.Join(t.TempDir(), "access.log")
		block := numberedBlock(lineLen, 1<<20)
		writeBlocks(t, path, block, size>>20)
		defer os.Remove(path)
		want := size >> 20 * (len(block) / (lineLen + 1))

		var count atomic.Int64
		var bad atomic.Value
		peak := sampleHeap(t)
		r := startRunFunc(t, tailer.Config{Path: path}, func(l tailer.Line) {
			if len(l.Text) != lineLen && bad.Load() == nil {
				bad.Store(fmt.Sprintf("line %d has %d bytes, want %d", count.Load()+1, len(l.Text), lineLen))
			}
			count.Add(1)
		})
		waitUntil(t, "every line read", func() bool { return count.Load() >= int64(want) })
		if b := bad.Load(); b != nil {
			t.Fatal(b)
		}
		if err := r.stop(t); err != nil {
			t.Fatal(err)
		}
		if n := count.Load(); n != int64(want) {
			t.Fatalf("read %d lines, want %d", n, want)
		}
		p := peak()
		t.Logf("peak heap in use %.1f MiB while reading %d MiB", float64(p)/(1<<20), size>>20)
		if p > heapLimit {
			t.Fatalf("peak heap in use %d MiB, want < %d MiB", p>>20, heapLimit>>20)
		}
	})

	t.Run("GiantLineWithoutNewline", func(t *testing.T) {
		// 50 MB without a "\n" are read to their end before the line is
		// finished; then its "\n" comes. Only its start is kept.
		const size = 50 << 20
		path := filepath.Join(t.TempDir(), "access.log")
		writeBlocks(t, path, bytes.Repeat([]byte("x"), 1<<20), size>>20)
		defer os.Remove(path)

		peak := sampleHeap(t)
		read := readBytes(t)
		r := startRun(t, tailer.Config{Path: path})
		waitUntil(t, "the giant line read to its end", func() bool { return readBytes(t)-read >= size })
		appendFile(t, path, "\nafter\n")
		got := r.waitLines(t, 2)
		assertLines(t, got, []tailer.Line{
			{Text: strings.Repeat("x", tailer.DefaultMaxLineBytes), Offset: size + 1, Truncated: true},
			{Text: "after", Offset: size + 7},
		})
		p := peak()
		t.Logf("peak heap in use %.1f MiB while reading a %d MiB line", float64(p)/(1<<20), size>>20)
		if p > heapLimit {
			t.Fatalf("peak heap in use %d MiB, want < %d MiB", p>>20, heapLimit>>20)
		}
	})
}

// TestLatency measures how long a line appended to a quiet log takes to
// reach emit. With inotify it is well under a millisecond; the bound
// asserted is loose (a loaded CI machine, the race detector) but far below
// the 250 ms poll, so it fails if wake-ups fall back to polling.
func TestLatency(t *testing.T) {
	const samples = 100
	path := filepath.Join(t.TempDir(), "access.log")
	writeFile(t, path, "")
	arrived := make(chan time.Time, 1)
	startRunEmit(t, tailer.Config{Path: path}, func(tailer.Line) { arrived <- time.Now() })
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	time.Sleep(50 * time.Millisecond) // paces the start: Run has opened the file and waits
	var lat []time.Duration
	for i := range samples {
		time.Sleep(2 * time.Millisecond) // a quiet log: each line is the only news
		start := time.Now()
		if _, err := f.WriteString(numbered(i) + "\n"); err != nil {
			t.Fatal(err)
		}
		select {
		case at := <-arrived:
			lat = append(lat, at.Sub(start))
		case <-time.After(waitFor):
			t.Fatalf("line %d not delivered within %v", i, waitFor)
		}
	}
	slices.Sort(lat)
	median, p99 := lat[samples/2], lat[samples*99/100]
	t.Logf("write to emit: median %v, p99 %v, max %v", median, p99, lat[samples-1])
	if median > 50*time.Millisecond {
		t.Fatalf("median latency %v, want well under the poll interval: are changes notified?", median)
	}
}

// numberedBlock returns about size bytes of lines of lineLen bytes each
// (and "\n"), numbered.
func numberedBlock(lineLen, size int) []byte {
	var b bytes.Buffer
	pad := strings.Repeat("-", lineLen)
	for i := 0; b.Len()+lineLen+1 <= size; i++ {
		s := "203.0.113.7 GET /" + strconv.Itoa(i) + " " + pad
		b.WriteString(s[:lineLen] + "\n")
	}
	return b.Bytes()
}

// writeBlocks writes block n times to a new file at path.
func writeBlocks(tb testing.TB, path string, block []byte, n int) {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	for range n {
		if _, err := f.Write(block); err != nil {
			f.Close()
			tb.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
}

// sampleHeap samples HeapInuse until the returned function is called, and
// that function returns the peak.
func sampleHeap(tb testing.TB) func() uint64 {
	runtime.GC()
	ctx, cancel := context.WithCancel(context.Background())
	var peak atomic.Uint64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	stop := func() uint64 {
		cancel()
		wg.Wait()
		return peak.Load()
	}
	tb.Cleanup(func() { stop() })
	return stop
}

// readBytes returns how many bytes this process has read from files so
// far (rchar in /proc/self/io): the follower's progress through a file
// that yields no line.
func readBytes(tb testing.TB) int64 {
	tb.Helper()
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		tb.Skipf("no /proc/self/io: %v", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "rchar: "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				tb.Fatal(err)
			}
			return n
		}
	}
	tb.Fatal("no rchar in /proc/self/io")
	return 0
}
