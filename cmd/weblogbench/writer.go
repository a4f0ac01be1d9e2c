package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"sync/atomic"
	"time"
)

// burstWrite is the most a burst writes at once: whole lines, up to this
// many bytes per write call.
const burstWrite = 64 << 10

// writer appends the tool's lines to the log.
type writer struct {
	f       io.Writer // the log, or with --ingest the body of a POST /ingest
	lines   int64     // every line written, warm-up lines too
	buf     []byte
	sec     int64  // the second stamp was formatted for
	stamp   []byte // [02/Jan/2006:15:04:05 -0700] of sec
	written atomic.Int64
	first   time.Time // when the first line of the run was written
}

// appendLine appends one Combined Log Format line whose path carries seq
// and the time now: GET /bench/<seq>/<unixnano>.
func (w *writer) appendLine(b, seq []byte, now time.Time) []byte {
	if s := now.Unix(); s != w.sec || w.stamp == nil {
		w.sec = s
		w.stamp = now.AppendFormat(w.stamp[:0], "02/Jan/2006:15:04:05 -0700")
	}
	b = append(b, `203.0.113.9 - - [`...)
	b = append(b, w.stamp...)
	b = append(b, `] "GET /bench/`...)
	b = append(b, seq...)
	b = append(b, '/')
	b = strconv.AppendInt(b, now.UnixNano(), 10)
	return append(b, ` HTTP/1.1" 200 2326 "https://www.example.com/" "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"`+"\n"...)
}

// line writes one line with one write call, as web servers do, stamped
// just before the write.
func (w *writer) line(seq []byte) error {
	w.buf = w.appendLine(w.buf[:0], seq, time.Now())
	if _, err := w.f.Write(w.buf); err != nil {
		return fmt.Errorf("write the log: %w", err)
	}
	w.lines++
	return nil
}

// warm writes one warm-up line, which subscribers note but do not count.
func (w *writer) warm() error { return w.line([]byte("w")) }

// run writes planned lines at rate per second, one write each. A ticker
// paces it; each tick writes every line due by then, so a late tick (a
// busy machine, or a rate above the ticker's resolution) is caught up.
func (w *writer) run(ctx context.Context, rate float64, planned int64) error {
	interval := max(time.Duration(float64(time.Second)/rate), time.Millisecond)
	t := time.NewTicker(interval)
	defer t.Stop()
	start := time.Now()
	w.first = start
	var seq []byte
	for n := int64(0); n < planned; {
		select {
		case <-ctx.Done():
			return fmt.Errorf("write lines: %w", context.Cause(ctx))
		case <-t.C:
		}
		due := min(int64(time.Since(start).Seconds()*rate)+1, planned)
		for ; n < due; n++ {
			seq = strconv.AppendInt(seq[:0], n, 10)
			if err := w.line(seq); err != nil {
				return err
			}
			w.written.Store(n + 1)
		}
	}
	return nil
}

// burst writes n lines as fast as it can, whole lines in writes of up to
// burstWrite bytes, each line stamped when it is formatted.
func (w *writer) burst(ctx context.Context, n int64) error {
	buf := make([]byte, 0, burstWrite+1024)
	var seq []byte
	w.first = time.Now()
	for i := int64(0); i < n; {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("write lines: %w", context.Cause(ctx))
		}
		buf = buf[:0]
		for ; i < n && len(buf) < burstWrite; i++ {
			seq = strconv.AppendInt(seq[:0], i, 10)
			buf = w.appendLine(buf, seq, time.Now())
		}
		if _, err := w.f.Write(buf); err != nil {
			return fmt.Errorf("write the log: %w", err)
		}
		w.lines += i - w.written.Load()
		w.written.Store(i)
	}
	return nil
}
