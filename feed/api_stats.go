package feed

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/weblogd/weblogd/stats"
	"github.com/weblogd/weblogd/transports"
)

// defaultStatsWindow is the window of /api/stats when window= is not
// given: the last hour, what an operator looks at first.
const defaultStatsWindow = time.Hour

// maxTop bounds top=: a top list longer than a hundred is a dump, not a
// summary, and each value costs in every list of the answer.
const maxTop = 100

// apiStats answers GET /api/stats: the statistics of the window ending
// now, of the records the filters (the streams' own, and a token's)
// accept.
func (s *Server) apiStats(w http.ResponseWriter, r *http.Request) {
	req, err := transports.ParseRequest(r, "window", "top")
	if err != nil {
		transports.BadRequest(w, err)
		return
	}
	q := r.URL.Query()
	for _, name := range []string{"backlog", "since"} {
		if q.Has(name) {
			transports.BadRequest(w, fmt.Errorf("%s is for streams; statistics take window", name))
			return
		}
	}
	if r.Header.Get("Last-Event-ID") != "" {
		transports.BadRequest(w, errors.New("Last-Event-ID is for streams; statistics take window"))
		return
	}
	for _, name := range []string{"window", "top"} {
		if len(q[name]) > 1 {
			transports.BadRequest(w, fmt.Errorf("%s is given more than once", name))
			return
		}
	}
	query := stats.Query{Window: defaultStatsWindow, Top: stats.DefaultTop}
	if v := q.Get("window"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > s.stats.Window() {
			transports.BadRequest(w, fmt.Errorf("bad window %q: want a duration (5m, 1h, 24h) more than 0 and at most %v", v, fmtDuration(s.stats.Window())))
			return
		}
		query.Window = d
	}
	if v := q.Get("top"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxTop {
			transports.BadRequest(w, fmt.Errorf("bad top %q: want a count from 1 to %d", v, maxTop))
			return
		}
		query.Top = n
	}
	if req.Filter != nil {
		query.Match = req.Filter.Match
	}
	res, err := s.stats.Query(query)
	if errors.Is(err, stats.ErrWindow) {
		transports.BadRequest(w, err) // checked above; the statistics have the last word
		return
	}
	if err != nil {
		http.Error(w, "statistics: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	json.NewEncoder(w).Encode(res)
}

// fmtDuration writes d as a person would: 24h, not 24h0m0s.
func fmtDuration(d time.Duration) string {
	s := d.String()
	if t, ok := strings.CutSuffix(s, "m0s"); ok {
		s = t + "m"
	}
	if t, ok := strings.CutSuffix(s, "h0m"); ok {
		s = t + "h"
	}
	return s
}
