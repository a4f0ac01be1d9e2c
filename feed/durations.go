package feed

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weblogd/weblogd/record"
)

// statusClasses are the values of the class label of the duration
// histogram: the status classes, and other (1xx, and records that did
// not parse or have no status).
var statusClasses = [...]string{"2xx", "3xx", "4xx", "5xx", "other"}

// classOf is the index in statusClasses of rec's status.
func classOf(rec *record.Record) int {
	if !rec.Parsed || rec.Status < 200 || rec.Status > 599 {
		return len(statusClasses) - 1
	}
	return rec.Status/100 - 2
}

// durationBuckets suit web latencies: from a millisecond (a static file
// from the page cache) to half a minute (a proxy's timeout).
var durationBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// durations is the histogram weblogd_request_duration_seconds, by source
// and status class. Its source labels are bounded as the sources are:
// the files' names, and at most max other names (stream sources, and
// the sources of records from NATS); the records of more are counted
// under overflowName. A source's series are there, at zero, from its
// first record.
type durations struct {
	vec *prometheus.HistogramVec
	max int // other names; 0: no limit

	mu     sync.Mutex
	bySrc  sync.Map // source name → *[len(statusClasses)]prometheus.Observer
	others int
}

func newDurations(max int) *durations {
	return &durations{max: max, vec: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "weblogd_request_duration_seconds",
		Help:    "The time the web server took to answer, from the records that have it ($request_time, %D), by source and status class (2xx, 3xx, 4xx, 5xx, other). Sources past --max-sources are counted under (overflow).",
		Buckets: durationBuckets,
	}, []string{"source", "class"})}
}

// file makes the series of a file source (a log's name), at zero.
func (d *durations) file(name string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.series(name)
}

// make returns the observers of name, made at zero if new; d.mu is held.
func (d *durations) series(name string) *[len(statusClasses)]prometheus.Observer {
	if o, ok := d.bySrc.Load(name); ok {
		return o.(*[len(statusClasses)]prometheus.Observer)
	}
	o := new([len(statusClasses)]prometheus.Observer)
	for i, c := range statusClasses {
		o[i] = d.vec.WithLabelValues(name, c)
	}
	d.bySrc.Store(name, o)
	return o
}

// observe counts rec's duration, when it has one.
func (d *durations) observe(rec *record.Record) {
	o, ok := d.bySrc.Load(rec.Source)
	if !ok {
		o = d.other(rec.Source)
	}
	if rec.Duration.Set {
		o.(*[len(statusClasses)]prometheus.Observer)[classOf(rec)].Observe(rec.Duration.D.Seconds())
	}
}

// other returns the observers of a source that is not a file's: its own
// while there is room, else the overflow's.
func (d *durations) other(name string) any {
	d.mu.Lock()
	defer d.mu.Unlock()
	if o, ok := d.bySrc.Load(name); ok {
		return o
	}
	if d.max > 0 && d.others >= d.max {
		name = overflowName
		if o, ok := d.bySrc.Load(name); ok {
			return o
		}
	} else {
		d.others++
	}
	return d.series(name)
}
