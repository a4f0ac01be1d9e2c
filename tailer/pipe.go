package tailer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"syscall"
	"time"
	"unicode/utf8"
)

// isFIFO reports whether fi, the result of a stat, is a named pipe.
func isFIFO(fi fs.FileInfo) bool { return fi.Mode()&fs.ModeNamedPipe != 0 }

// pipe is the state of a Run that reads a FIFO: the read end, and a write
// end of its own held while no writer is connected.
type pipe struct {
	t *Tailer
	r *os.File
	w *os.File // nil while a writer has written since the last end of stream
	splitter
}

// splitter cuts a stream into lines, as the tailer cuts a file's.
type splitter struct {
	maxLine int
	emit    func(Line)
	line    []byte // the kept start of the line being read, at most maxLine+UTFMax bytes
	length  int64  // the whole length of that line so far
}

// runPipe reads the FIFO at the path as a stream until ctx is done: each
// line written into it is delivered once, cut like a file's. A FIFO has no
// offsets: nothing is skipped or resumed, Positions stays empty, and
// Line.File and Line.Offset are zero.
//
// Both ends are opened non-blocking, so that neither start-up nor
// shutdown waits for a writer. While no writer is connected the follower
// holds a write end itself: reads then wait for data instead of finding
// the end of the stream at once. It lets go of it once a writer has
// written, so that the writer closing is seen as the end of the stream
// (the partial last line, if any, is delivered then, as for a rotated
// file), and takes it again to wait for the next writer (nginx reopens its
// log on USR1).
func (t *Tailer) runPipe(ctx context.Context, emit func(Line)) error {
	r, err := os.OpenFile(t.path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	p := &pipe{t: t, r: r, splitter: splitter{maxLine: t.maxLine, emit: emit}}
	defer p.close()
	fi, err := r.Stat()
	if err != nil {
		return err
	}
	if !isFIFO(fi) {
		return fmt.Errorf("%s is no longer a FIFO", t.path)
	}
	if err := r.SetReadDeadline(time.Time{}); err != nil {
		// Not in the poller: a read could not be ended at shutdown.
		return fmt.Errorf("wait for %s: %w", t.path, err)
	}
	if err := p.holdWriteEnd(fi); err != nil {
		return err
	}
	// A read blocked in the poller returns once its deadline has passed.
	stop := context.AfterFunc(ctx, func() { r.SetReadDeadline(time.Now()) })
	defer stop()

	t.mu.Lock()
	t.phase, t.following = phaseRunning, true
	t.positions = nil // a FIFO has none
	t.mu.Unlock()
	t.log.Debug("reading the FIFO")

	buf := make([]byte, readBufBytes)
	for {
		n, err := r.Read(buf)
		if n > 0 && p.w != nil {
			// A writer is connected (it wrote): its close must end the
			// stream.
			p.w.Close()
			p.w = nil
		}
		p.consume(buf[:n])
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			// Every writer has closed: what it left without "\n" is a
			// line, and the next writer is waited for.
			p.flush()
			if err := p.holdWriteEnd(fi); err != nil {
				return err
			}
		case ctx.Err() != nil:
			return nil
		default:
			return fmt.Errorf("read %s: %w", t.path, err)
		}
	}
}

// holdWriteEnd opens the FIFO for writing, without blocking (the read end
// is open), after checking that the path still names the FIFO being read.
func (p *pipe) holdWriteEnd(fi fs.FileInfo) error {
	w, err := os.OpenFile(p.t.path, os.O_WRONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return fmt.Errorf("open %s to wait for writers: %w", p.t.path, err)
	}
	wfi, err := w.Stat()
	if err != nil || !os.SameFile(fi, wfi) {
		w.Close()
		return fmt.Errorf("%s was replaced while it was read", p.t.path)
	}
	p.w = w
	return nil
}

// consume delivers the complete lines of data, keeping the start of the
// last one until its "\n" arrives; of a line longer than MaxLineBytes only
// what cutting it needs is kept.
func (p *splitter) consume(data []byte) {
	limit := p.maxLine + utf8.UTFMax
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		part := data
		if i >= 0 {
			part = data[:i]
		}
		if keep := limit - len(p.line); keep > 0 {
			p.line = append(p.line, part[:min(keep, len(part))]...)
		}
		p.length += int64(len(part))
		if i < 0 {
			return
		}
		p.deliver()
		data = data[i+1:]
	}
}

// flush delivers a partial line left at the end of the stream.
func (p *splitter) flush() {
	if p.length > 0 {
		p.deliver()
	}
}

func (p *splitter) deliver() {
	text, cut := lineText(p.line, p.length, p.maxLine)
	p.emit(Line{Text: text, Time: time.Now(), Truncated: cut})
	p.line, p.length = p.line[:0], 0
}

func (p *pipe) close() {
	if p.w != nil {
		p.w.Close()
	}
	p.r.Close()
	if p.length > 0 {
		p.t.log.Warn("shut down in the middle of a line from the FIFO; its start is lost",
			slog.Int64("bytes", p.length))
	}
}
