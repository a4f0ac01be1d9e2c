package tailer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"
	"unicode/utf8"
)

// lastChunkBytes is how much Last reads at a time while it scans backwards
// for newlines: 64 KiB holds a few hundred typical access-log lines, so a
// backlog of 100 lines usually costs one read, and memory stays bounded
// however large the file or its lines are.
const lastChunkBytes = 64 << 10

// Last reads the last n complete lines of the file at path and returns them
// oldest first, each cut to maxLineBytes (zero means DefaultMaxLineBytes)
// like the lines Run delivers. A partial last line without "\n" is not
// returned. end is the position just after the last complete line, in the
// file that was read: start a Tailer there (Config.Resume) and nothing is
// missed or read twice, even if the file is rotated before Run opens it; a
// partial last line is then read whole once it completes. With n == 0 Last
// returns no lines, only end.
//
// Last scans backwards from the end in bounded chunks, so its cost depends
// on the length of the lines it returns, not on the size of the file; it
// reads the whole file only when the file holds fewer than n+1 newlines. A
// missing file gives an error that wraps fs.ErrNotExist.
func Last(path string, n int, maxLineBytes int) (lines []Line, end Position, err error) {
	if n < 0 {
		return nil, Position{}, fmt.Errorf("read last lines of %s: n %d is negative", path, n)
	}
	if maxLineBytes < 0 {
		return nil, Position{}, fmt.Errorf("read last lines of %s: max line bytes %d is negative", path, maxLineBytes)
	}
	if maxLineBytes == 0 {
		maxLineBytes = DefaultMaxLineBytes
	}
	// Non-blocking: opening a FIFO would otherwise wait for a writer.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		// The *PathError already names the file.
		return nil, Position{}, fmt.Errorf("read last lines: %w", err)
	}
	defer f.Close()
	id, _, fi, err := identify(f)
	if err != nil {
		return nil, Position{}, fmt.Errorf("read last lines of %s: %w", path, err)
	}
	if fi.IsDir() {
		return nil, Position{}, fmt.Errorf("read last lines of %s: is a directory", path)
	}
	if !fi.Mode().IsRegular() {
		return nil, Position{}, fmt.Errorf("read last lines of %s: not a regular file", path)
	}
	end.File = id

	nls, chunk, err := lastNewlines(f, fi.Size(), n+1)
	if err != nil {
		return nil, Position{}, fmt.Errorf("read last lines of %s: %w", path, err)
	}
	if len(nls) == 0 {
		return nil, end, nil // no complete line at all
	}
	end.Offset = nls[0] + 1

	// nls holds the positions of the last n+1 "\n" bytes, newest first; the
	// (n+1)th only marks where the oldest wanted line starts. With fewer, the
	// scan reached the start of the file, where the oldest line starts.
	count := min(n, len(nls))
	lines = make([]Line, count)
	var buf []byte
	now := time.Now()
	for k := range count {
		var start int64
		if k+1 < len(nls) {
			start = nls[k+1] + 1
		}
		var l Line
		l, buf, err = readLineAt(f, chunk, buf, start, nls[k], maxLineBytes)
		if err != nil {
			return nil, Position{}, fmt.Errorf("read last lines of %s: %w", path, err)
		}
		l.Time, l.File = now, id
		lines[count-1-k] = l
	}
	return lines, end, nil
}

// chunk is a piece of the file held in memory: the bytes from start on.
type chunk struct {
	start int64
	data  []byte
}

// lastNewlines returns the positions of the last want "\n" bytes in the
// first size bytes of f, newest first, reading backwards lastChunkBytes at a
// time. It also returns the last chunk it read, which holds the oldest of
// those lines, and often all of them.
func lastNewlines(f *os.File, size int64, want int) ([]int64, chunk, error) {
	nls := make([]int64, 0, min(want, 1024))
	buf := make([]byte, min(size, lastChunkBytes))
	var c chunk
	pos := size
	for pos > 0 {
		m := min(pos, lastChunkBytes)
		pos -= m
		c = chunk{start: pos, data: buf[:m]}
		if _, err := f.ReadAt(c.data, pos); err != nil {
			return nil, chunk{}, fmt.Errorf("read at %d: %w", pos, shrank(err))
		}
		for i := len(c.data); ; {
			j := bytes.LastIndexByte(c.data[:i], '\n')
			if j < 0 {
				break
			}
			nls = append(nls, pos+int64(j))
			if len(nls) == want {
				return nls, c, nil
			}
			i = j
		}
	}
	return nls, c, nil
}

// readLineAt reads the line that starts at start and whose "\n" is at nl,
// reading no more of it than cutting to limit needs. It takes the bytes from
// c when c holds them, and otherwise reads them into buf, growing it as
// needed; it returns buf for reuse.
func readLineAt(f *os.File, c chunk, buf []byte, start, nl int64, limit int) (Line, []byte, error) {
	length := nl - start
	// Cutting looks at no more than limit+UTFMax-1 bytes, and a line longer
	// than limit+UTFMax is cut whatever its ending, so only a line read whole
	// can need its "\r" removed.
	k := min(length, int64(limit+utf8.UTFMax))
	var b []byte
	if start >= c.start && start+k <= c.start+int64(len(c.data)) {
		b = c.data[start-c.start : start-c.start+k]
	} else {
		if int64(cap(buf)) < k {
			buf = make([]byte, k)
		}
		b = buf[:k]
		if _, err := f.ReadAt(b, start); err != nil {
			return Line{}, buf, fmt.Errorf("read at %d: %w", start, shrank(err))
		}
	}
	if int64(len(b)) == length {
		// The whole line is in b, so its last byte is the one before "\n".
		b = bytes.TrimSuffix(b, []byte("\r"))
	}
	// When b is only a prefix, the line is longer than limit+UTFMax bytes,
	// so it is cut whatever its ending.
	text, cut := cutLine(string(b), limit)
	return Line{Text: text, Offset: nl + 1, Truncated: cut}, buf, nil
}

// shrank explains an EOF inside the size Last saw at the start: the file
// was truncated while it was being read.
func shrank(err error) error {
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("file shrank while being read: %w", err)
	}
	return err
}
