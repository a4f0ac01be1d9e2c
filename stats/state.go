package stats

import (
	"hash/maphash"
	"time"

	"github.com/DataDog/sketches-go/ddsketch"
	"github.com/axiomhq/hyperloglog"
	"github.com/weblogd/weblogd/record"
)

const (
	minuteNs = int64(time.Minute)
	tenSecNs = int64(10 * time.Second)
	hourNs   = int64(time.Hour)
	// tens is how many 10-second buckets are kept: the last hour, and
	// two spare for the one filling and the one just past.
	tens = 360 + 2
)

// Status classes, in the order of Rate.Classes' keys.
const (
	c2xx = iota
	c3xx
	c4xx
	c5xx
	cOther
	nClasses
)

var classNames = [nClasses]string{"2xx", "3xx", "4xx", "5xx", "other"}

// hashSeed hashes client addresses for the visitor sketches; one seed for
// the process so that every sketch agrees.
var hashSeed = maphash.MakeSeed()

// Sketch parameters: 2^14 registers give a standard error of 0.8% on
// visitors; durations within 1%, in at most 2048 bins.
const (
	hllPrecision = 14
	durAccuracy  = 0.01
	durBins      = 2048
)

// minute holds the exact counts of one minute, and its sketches.
type minute struct {
	id     int64 // unix minute + 1; 0 when unused
	req    uint64
	bytes  uint64
	perr   uint64
	class  [nClasses]uint64
	status map[uint16]uint64
	hll    *hyperloglog.Sketch
	dur    *ddsketch.DDSketch
	durMax float64
}

func (m *minute) reset(id int64) {
	m.id = id
	m.req, m.bytes, m.perr = 0, 0, 0
	m.class = [nClasses]uint64{}
	clear(m.status)
	if m.hll != nil {
		m.hll.Reset()
	}
	if m.dur != nil {
		m.dur.Clear()
	}
	m.durMax = 0
}

// ten holds the counts by class of 10 seconds, for the rate of short
// windows.
type ten struct {
	id    int64 // unix 10 s + 1; 0 when unused
	class [nClasses]uint32
}

// state is everything Stats keeps; Stats.mu guards it.
type state struct {
	c          Config
	minutes    []minute // ring indexed by unix minute
	tens       [tens]ten
	hours      []*hour // ring indexed by unix hour; the summaries
	detail     detail
	names      names
	old        uint64 // records older than the window, counted nowhere
	dropped    uint64 // records that left detail after their hour left the window
	evictedMax int64  // the newest time of a record that left detail
	anyEvicted bool
}

func newState(c Config) *state {
	nm := int(c.Window/time.Minute) + 2
	nh := int((c.Window+time.Hour-1)/time.Hour) + 2
	return &state{
		c:       c,
		minutes: make([]minute, nm),
		hours:   make([]*hour, nh),
		detail:  detail{limit: c.DetailBytes},
		names:   newNames(c),
	}
}

// when returns the unix nanosecond a record counts at: its own time when
// it has one that is not ahead of its arrival, else its arrival.
func when(r *record.Record, at int64) int64 {
	if r.Time.IsZero() {
		return at
	}
	t := r.Time.UnixNano()
	if t > at {
		return at
	}
	return t
}

func classOf(r *record.Record) int {
	if !r.Parsed {
		return cOther
	}
	switch {
	case r.Status >= 200 && r.Status < 300:
		return c2xx
	case r.Status >= 300 && r.Status < 400:
		return c3xx
	case r.Status >= 400 && r.Status < 500:
		return c4xx
	case r.Status >= 500 && r.Status < 600:
		return c5xx
	}
	return cOther
}

// floorDiv is a / b rounded down, for times before 1970 too.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func mod(a int64, n int) int {
	m := int(a % int64(n))
	if m < 0 {
		m += n
	}
	return m
}

// fold counts r, which arrived at at, the clock reading now.
func (s *state) fold(r *record.Record, at, now int64) {
	t := when(r, at)
	curMin := floorDiv(now, minuteNs)
	mi := floorDiv(t, minuteNs)
	if mi < curMin-int64(len(s.minutes))+2 {
		s.old++
		return
	}
	m := &s.minutes[mod(mi, len(s.minutes))]
	if m.id != mi+1 {
		if m.id > mi+1 {
			s.old++ // its slot already holds a newer minute
			return
		}
		m.reset(mi + 1)
	}
	m.req++
	cl := classOf(r)
	m.class[cl]++
	if !r.Parsed {
		m.perr++
	} else {
		if r.Bytes > 0 {
			m.bytes += uint64(r.Bytes)
		}
		if r.Status >= 100 && r.Status <= 999 {
			if m.status == nil {
				m.status = make(map[uint16]uint64, 8)
			}
			m.status[uint16(r.Status)]++
		}
		if r.Host != "" {
			if m.hll == nil {
				m.hll, _ = hyperloglog.NewSketch(hllPrecision, true)
			}
			m.hll.InsertHash(maphash.String(hashSeed, r.Host))
		}
		if r.Duration.Set {
			if m.dur == nil {
				m.dur = newDurSketch()
			}
			v := r.Duration.D.Seconds()
			if v < 0 {
				v = 0
			}
			_ = m.dur.Add(v)
			if v > m.durMax {
				m.durMax = v
			}
		}
	}
	ti := floorDiv(t, tenSecNs)
	if ti >= floorDiv(now, tenSecNs)-tens+2 {
		b := &s.tens[mod(ti, tens)]
		if b.id != ti+1 && b.id < ti+1 {
			*b = ten{id: ti + 1}
		}
		if b.id == ti+1 {
			b.class[cl]++
		}
	}
	if s.c.DetailBytes < 0 {
		s.summarise(r, t, now)
		return
	}
	s.detail.push(r, t)
	for s.detail.over() {
		e := s.detail.pop()
		s.summarise(e.r, e.t, now)
	}
}

func newDurSketch() *ddsketch.DDSketch {
	d, err := ddsketch.LogCollapsingLowestDenseDDSketch(durAccuracy, durBins)
	if err != nil {
		panic(err) // constant arguments
	}
	return d
}
