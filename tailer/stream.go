package tailer

import (
	"context"
	"errors"
	"io"
	"os"
	"time"
)

// ReadStream reads lines from r (standard input, a pipe) until it ends or
// ctx is done, and gives each to emit, cut at maxLine bytes (zero means
// DefaultMaxLineBytes) as a file's lines are; at the end of r, a last
// line without "\n" is a line too. It returns nil at the end of r or
// once ctx is done, else the read error. A stream has no offsets: Line.File
// and Line.Offset are zero.
//
// A read in progress is ended when ctx is done if r is an *os.File the
// runtime polls (a pipe opened by os.Pipe, a file made non-blocking), or
// else if r is an io.Closer (it is closed).
func ReadStream(ctx context.Context, r io.Reader, maxLine int, emit func(Line)) error {
	if maxLine <= 0 {
		maxLine = DefaultMaxLineBytes
	}
	s := &splitter{maxLine: maxLine, emit: emit}
	var stop func() bool
	if f, ok := r.(*os.File); ok && f.SetReadDeadline(time.Time{}) == nil {
		stop = context.AfterFunc(ctx, func() { f.SetReadDeadline(time.Now()) })
	} else if c, ok := r.(io.Closer); ok {
		stop = context.AfterFunc(ctx, func() { c.Close() })
	} else {
		stop = func() bool { return true }
	}
	defer stop()
	buf := make([]byte, readBufBytes)
	for {
		if ctx.Err() != nil {
			return nil
		}
		n, err := r.Read(buf)
		s.consume(buf[:n])
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			s.flush()
			return nil
		case ctx.Err() != nil:
			return nil
		default:
			s.flush()
			return err
		}
	}
}
