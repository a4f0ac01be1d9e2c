package feed

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"time"

	"github.com/weblogd/weblogd/format"
	"github.com/weblogd/weblogd/geoip"
	"github.com/weblogd/weblogd/record"
	"github.com/weblogd/weblogd/stats"
	"github.com/weblogd/weblogd/tailer"
	"github.com/weblogd/weblogd/useragent"
)

// agentCache is how many user agents' families are remembered: the
// agents of a site's traffic repeat, and a few thousand cover nearly
// every line; each costs a few hundred bytes.
const agentCache = 10000

// newStats builds the statistics of c, with the user-agent parser and,
// with c.GeoIP, the country database (which the caller closes).
func newStats(c Config) (*stats.Stats, *geoip.DB, error) {
	sc := stats.Config{Window: c.StatsWindow, DetailBytes: c.StatsDetailBytes, Classify: useragent.New(agentCache).Families}
	var geo *geoip.DB
	if c.GeoIP != "" {
		var err error
		if geo, err = geoip.Open(c.GeoIP); err != nil {
			return nil, nil, fmt.Errorf("geoip database: %w", err)
		}
		sc.Country = geo.Country
	}
	return stats.New(sc), geo, nil
}

// keep gives a record that has just entered the ring (it has its seq) to
// the statistics and the duration histogram. Neither waits: the ingest
// path never waits for a statistics query.
func (s *Server) keep(rec *record.Record) {
	s.stats.Add(rec)
	s.durations.observe(rec)
}

// past is the part of a log that lies within the history window: lines
// stamped at or after from, and lines without a time that lie after
// start (where the window's first stamped line begins).
type past struct {
	on    bool
	from  time.Time
	start int64
}

// holds says whether the record of line l is within the window.
func (p past) holds(rec *record.Record, l tailer.Line) bool {
	switch {
	case !p.on:
		return false
	case rec.Time.IsZero():
		return l.Offset > p.start
	default:
		return !rec.Time.Before(p.from)
	}
}

// readPast reads the lines of src's file of the last History into the
// statistics only (they take no seq and go to no subscriber): those that
// end at or before the offset stop returns for the file found at the
// path (false: none of its lines). The lines are read by src's reader,
// the one that then follows the log, so that auto recognition carries
// on. It returns the window, for the backfill lines that follow.
func (s *Server) readPast(ctx context.Context, src *source, stop func(tailer.FileID) (int64, bool)) past {
	if s.cfg.History <= 0 {
		return past{}
	}
	from := time.Now().Add(-s.cfg.History)
	// Probes read lines far apart: a reader of their own, so that the
	// source's reader sees its lines in order.
	probe := s.src.format.NewReader(format.ReaderConfig{MaxLine: s.cfg.MaxLineBytes})
	timeOf := func(line string) (time.Time, bool) {
		rec := probe.ReadPast(line, false)
		if rec == nil || rec.Time.IsZero() {
			return time.Time{}, false
		}
		return rec.Time, true
	}
	span, err := tailer.Since(src.path, from, timeOf, s.cfg.MaxLineBytes)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			s.log.Warn("cannot read a log's history into the statistics", "path", src.path, "err", err)
		}
		return past{}
	}
	defer span.Close()
	w := past{on: true, from: from, start: span.Start}
	end, ok := stop(span.File)
	if !ok {
		// Rotated since it was looked at, or the saved position is in an
		// older file: the lines of this one are all read as new ones. The
		// backfill's lines are of another file: only their times tell.
		w.start = math.MaxInt64
		return w
	}
	n := 0
	err = span.Lines(end, func(l tailer.Line) bool {
		rec := src.read.ReadPast(l.Text, l.Truncated)
		if rec != nil && w.holds(rec, l) {
			s.redactor.Record(rec)
			rec.Source = src.name
			s.stats.Add(rec)
			n++
		}
		// An hour of a busy log is gigabytes: a shutdown does not wait
		// for the rest of it.
		return ctx.Err() == nil
	})
	if err != nil {
		s.log.Warn("cannot read a log's history into the statistics", "path", src.path, "err", err)
	}
	if ctx.Err() != nil {
		s.log.Info("stopped reading a log's history: shutting down", "path", src.path, "records", n)
		return w
	}
	s.log.Info("read a log's history into the statistics", "path", src.path, "since", from.Format(time.RFC3339),
		"records", n, "bytes_read", span.BytesRead(), "size", span.Size)
	return w
}
