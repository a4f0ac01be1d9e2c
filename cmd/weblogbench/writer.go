package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"time"
)

// writer appends the tool's lines to the log, one write call per line, as
// web servers do.
type writer struct {
	f       *os.File
	buf     []byte
	sec     int64  // the second stamp was formatted for
	stamp   []byte // [02/Jan/2006:15:04:05 -0700] of sec
	written atomic.Int64
}

// line formats one Combined Log Format line with path p (it is the part
// after /bench/) and writes it with its write time in its path.
func (w *writer) line(seq string) error {
	now := time.Now()
	if s := now.Unix(); s != w.sec || w.stamp == nil {
		w.sec = s
		w.stamp = now.AppendFormat(w.stamp[:0], "02/Jan/2006:15:04:05 -0700")
	}
	b := append(w.buf[:0], `203.0.113.9 - - [`...)
	b = append(b, w.stamp...)
	b = append(b, `] "GET /bench/`...)
	b = append(b, seq...)
	b = append(b, '/')
	b = strconv.AppendInt(b, now.UnixNano(), 10)
	b = append(b, ` HTTP/1.1" 200 2326 "https://www.example.com/" "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"`+"\n"...)
	w.buf = b
	if _, err := w.f.Write(b); err != nil {
		return fmt.Errorf("write the log: %w", err)
	}
	return nil
}

// warm writes one warm-up line, which subscribers note but do not count.
func (w *writer) warm() error { return w.line("w") }

// run writes planned lines at rate per second. A ticker paces it; each
// tick writes every line due by then, so a late tick (a busy machine, or a
// rate above the ticker's resolution) is caught up by batching.
func (w *writer) run(ctx context.Context, rate float64, planned int64) error {
	interval := max(time.Duration(float64(time.Second)/rate), time.Millisecond)
	t := time.NewTicker(interval)
	defer t.Stop()
	start := time.Now()
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
			if err := w.line(string(seq)); err != nil {
				return err
			}
			w.written.Store(n + 1)
		}
	}
	return nil
}
