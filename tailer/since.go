package tailer

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"
	"unicode/utf8"
)

// The search's reading sizes. A probe reads probeBytes at a time and
// looks at no more than probeLines lines for one with a time; the margin
// steps back marginStep at a time, at most maxMargin in all, until its
// lines are older than the window's start by more than Slack.
const (
	probeBytes = 4 << 10
	probeLines = 64
	marginStep = 64 << 10
	maxMargin  = 1 << 20
	spanBuffer = 64 << 10
	// smallFile is read whole at once: a search costs a few dozen
	// probes of probeBytes, more than such a file.
	smallFile = 256 << 10
)

// Slack is how far out of order the lines of a log may be and still be
// found by Since: a web server writes a request's line when it ends,
// stamped with the time it began, so a slow request's line follows
// newer ones by its duration.
const Slack = time.Minute

// Span is the end of a log from a given time on, found by Since without
// reading the whole file. Its lines are read with Lines.
type Span struct {
	// File is the file that was searched.
	File FileID
	// Start is where the first line stamped at or after the time begins,
	// as the search found it; lines from Start on without a time of
	// their own are in the span too.
	Start int64
	// From is where Lines begins: Start moved back over lines that may be
	// slightly out of order (see Slack). Lines from there stamped before
	// the time are for the caller to skip.
	From int64
	// Size is the file's size when Since opened it.
	Size int64

	f       *os.File
	mem     *bytes.Reader // a small file, read whole once
	maxLine int
	read    int64
	now     time.Time
}

// Since finds where the lines of the file at path stamped at or after from
// begin. timeOf reads a line's time (false when the line has none, or does
// not parse). Logs are close to time order, so it searches the file by
// offset: at a probe it skips to the next line start and reads lines until
// one has a time. It reads a few KiB per probe, a few dozen probes for a
// large file; BenchmarkSince shows it. A file none of whose probed lines
// has a time has an empty span (Start and From at its end). Close the
// Span when done.
func Since(path string, from time.Time, timeOf func(line string) (time.Time, bool), maxLineBytes int) (*Span, error) {
	if maxLineBytes < 0 {
		return nil, fmt.Errorf("find the lines since %v in %s: max line bytes %d is negative", from, path, maxLineBytes)
	}
	if maxLineBytes == 0 {
		maxLineBytes = DefaultMaxLineBytes
	}
	// Non-blocking: opening a FIFO would otherwise wait for a writer.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("find the lines since a time: %w", err)
	}
	id, _, fi, err := identify(f)
	if err == nil && !fi.Mode().IsRegular() {
		err = errors.New("not a regular file")
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("find the lines since a time in %s: %w", path, err)
	}
	s := &Span{File: id, Size: fi.Size(), f: f, maxLine: maxLineBytes, now: time.Now()}
	if s.Size <= smallFile {
		// The probes of a search would read more than the whole file.
		b := make([]byte, s.Size)
		n, err := f.ReadAt(b, 0)
		if err != nil && !errors.Is(err, io.EOF) {
			f.Close()
			return nil, fmt.Errorf("find the lines since a time in %s: %w", path, err)
		}
		s.mem, s.read = bytes.NewReader(b[:n]), int64(n)
		s.Size = int64(n)
	}
	if err := s.search(from, timeOf); err != nil {
		f.Close()
		return nil, fmt.Errorf("find the lines since a time in %s: %w", path, err)
	}
	return s, nil
}

// BytesRead is how many bytes of the file the search and Lines have read.
func (s *Span) BytesRead() int64 { return s.read }

// Close closes the file.
func (s *Span) Close() error { return s.f.Close() }

// search sets Start and From.
func (s *Span) search(from time.Time, timeOf func(string) (time.Time, bool)) error {
	// The smallest offset whose next timed line is not before from. A
	// probe that finds no timed line counts as not before: the search
	// then looks further back, which reads more but misses nothing.
	lo, hi := int64(0), s.Size
	found := false
	for lo < hi {
		mid := lo + (hi-lo)/2
		_, start, t, ok, err := s.probe(mid, timeOf)
		if err != nil {
			return err
		}
		found = found || ok
		if ok && t.Before(from) {
			lo = start + 1
		} else {
			hi = mid
		}
	}
	if !found {
		s.Start, s.From = s.Size, s.Size
		return nil
	}
	start, _, err := s.lineStart(lo)
	if err != nil {
		return err
	}
	s.Start, s.From = start, start
	// Back over lines that may be out of order: until a line older than
	// from by more than Slack, the start of the file, or maxMargin.
	for back := int64(marginStep); s.From > 0; back += marginStep {
		m := max(s.Start-back, 0)
		first, _, t, ok, err := s.probe(m, timeOf)
		if err != nil {
			return err
		}
		s.From = first
		if m == 0 || (ok && t.Before(from.Add(-Slack))) || back >= maxMargin {
			break
		}
	}
	return nil
}

// reader reads the file from off to end, counting what it reads.
func (s *Span) reader(off, end int64, size int) *bufio.Reader {
	return bufio.NewReaderSize(io.NewSectionReader(countingReaderAt{s}, off, max(end-off, 0)), size)
}

// countingReaderAt reads the file, or its copy in memory.
type countingReaderAt struct{ s *Span }

func (c countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if c.s.mem != nil {
		return c.s.mem.ReadAt(p, off)
	}
	n, err := c.s.f.ReadAt(p, off)
	c.s.read += int64(n)
	return n, err
}

// lineStart returns the start of the first line that begins at or after
// off (the file's size when none does), and a reader from there.
func (s *Span) lineStart(off int64) (int64, *bufio.Reader, error) {
	if off <= 0 {
		return 0, s.reader(0, s.Size, probeBytes), nil
	}
	r := s.reader(off-1, s.Size, probeBytes)
	n, err := skipLine(r)
	if errors.Is(err, io.EOF) {
		return s.Size, r, nil
	}
	return off - 1 + n, r, err
}

// probe looks at up to probeLines complete lines from the first that
// begins at or after off (first) for one with a time: its start (at) and
// time; ok is false when none has one.
func (s *Span) probe(off int64, timeOf func(string) (time.Time, bool)) (first, at int64, t time.Time, ok bool, err error) {
	first, r, err := s.lineStart(off)
	if err != nil {
		return 0, 0, time.Time{}, false, err
	}
	at = first
	var buf []byte
	for range probeLines {
		var n int64
		var text string
		text, _, n, buf, err = readLine(r, buf, s.maxLine)
		if errors.Is(err, io.EOF) {
			return first, 0, time.Time{}, false, nil // no complete line left
		}
		if err != nil {
			return 0, 0, time.Time{}, false, err
		}
		if t, ok := timeOf(text); ok {
			return first, at, t, true, nil
		}
		at += n
	}
	return first, 0, time.Time{}, false, nil
}

// Lines calls fn with each complete line from From on that ends at or
// before stop (Line.Offset <= stop), oldest first, until fn returns false.
// Lines are cut to the maximum line length as the tailer cuts them.
func (s *Span) Lines(stop int64, fn func(Line) bool) error {
	stop = min(stop, s.Size)
	if s.From >= stop {
		return nil
	}
	r := s.reader(s.From, stop, spanBuffer)
	off := s.From
	var buf []byte
	for {
		text, cut, n, b, err := readLine(r, buf, s.maxLine)
		buf = b
		if errors.Is(err, io.EOF) {
			return nil // the end, or a partial line: the tailer reads it whole
		}
		if err != nil {
			return fmt.Errorf("read at %d: %w", off, shrank(err))
		}
		off += n
		if !fn(Line{Text: text, Offset: off, File: s.File, Time: s.now, Truncated: cut}) {
			return nil
		}
	}
}

// skipLine reads up to and including the next "\n" and returns how many
// bytes that was; io.EOF when there is none.
func skipLine(r *bufio.Reader) (int64, error) {
	var n int64
	for {
		b, err := r.ReadSlice('\n')
		n += int64(len(b))
		switch {
		case err == nil:
			return n, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return n, err
		}
	}
}

// readLine reads one complete line, cut to limit, and how many bytes it
// took with its "\n". A line without "\n" at the end is io.EOF: not yet
// complete. buf holds a line longer than r's buffer; it is returned for
// reuse.
func readLine(r *bufio.Reader, buf []byte, limit int) (text string, cut bool, n int64, _ []byte, err error) {
	buf = buf[:0]
	keep := limit + utf8.UTFMax
	for {
		b, err := r.ReadSlice('\n')
		n += int64(len(b))
		if len(buf) < keep {
			buf = append(buf, b[:min(len(b), keep-len(buf))]...)
		}
		switch {
		case err == nil:
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			return "", false, n, buf, io.EOF
		default:
			return "", false, n, buf, err
		}
		line := buf
		if int64(len(line)) == n {
			// Read whole: its "\n", and a "\r" before it, go.
			line = bytes.TrimSuffix(line[:len(line)-1], []byte("\r"))
		}
		text, cut = cutLine(string(line), limit)
		return text, cut, n, buf, nil
	}
}
