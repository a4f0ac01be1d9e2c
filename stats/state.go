package stats

import (
	"hash/maphash"
	"slices"
	"time"

	"github.com/DataDog/sketches-go/ddsketch"
	"github.com/axiomhq/hyperloglog"
	"github.com/weblogd/weblogd/record"
)

const (
	minuteDur = time.Minute
	hourDur   = time.Hour
	minuteNs  = int64(time.Minute)
	tenSecNs  = int64(10 * time.Second)
	hourNs    = int64(time.Hour)
	// tens is how many 10-second buckets are kept: the last hour, and
	// two spare for the one filling and the one just past.
	tens = 360 + 2
	// fine is how long minute sketches are kept: windows up to it count
	// visitors and durations by the minute, longer ones by the hour.
	fine      = 6 * time.Hour
	fineSlots = int(fine/time.Minute) + 2
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
// visitors; durations within 1%, in at most 1024 bins (a range of a
// microsecond to ten minutes, or a millisecond to a week, before the
// lowest bins merge).
const (
	hllPrecision = 14
	durAccuracy  = 0.01
	durBins      = 1024
)

// minute holds the exact counts of one minute.
type minute struct {
	id     int64 // unix minute + 1; 0 when unused
	req    uint64
	bytes  uint64
	perr   uint64
	class  [nClasses]uint64
	status []codeCount // by code
}

// codeCount counts one status code. A minute has a handful of codes, so a
// sorted slice is smaller and faster than a map.
type codeCount struct {
	code uint16
	n    uint32
}

func (m *minute) reset(id int64) {
	*m = minute{id: id, status: m.status[:0]}
}

func (m *minute) addStatus(code uint16) {
	i, ok := slices.BinarySearchFunc(m.status, code, func(c codeCount, k uint16) int { return int(c.code) - int(k) })
	if !ok {
		m.status = slices.Insert(m.status, i, codeCount{code: code})
	}
	m.status[i].n++
}

// sketches holds the visitors and durations of a minute or an hour.
type sketches struct {
	id     int64 // unix minute or hour + 1; 0 when unused
	hll    *hyperloglog.Sketch
	dur    *ddsketch.DDSketch
	durMax float64
}

// take makes s the sketches of id, emptying them if they held an older
// one; it returns false when s holds a newer one.
func (s *sketches) take(id int64) bool {
	if s.id == id {
		return true
	}
	if s.id > id {
		return false
	}
	s.id = id
	if s.hll != nil {
		s.hll.Reset()
	}
	if s.dur != nil {
		s.dur.Clear()
	}
	s.durMax = 0
	return true
}

func (s *sketches) add(r *record.Record, h uint64) {
	if r.Host != "" {
		if s.hll == nil {
			s.hll, _ = hyperloglog.NewSketch(hllPrecision, true)
		}
		s.hll.InsertHash(h)
	}
	if r.Duration.Set {
		if s.dur == nil {
			s.dur = newDurSketch()
		}
		v := max(r.Duration.D.Seconds(), 0)
		_ = s.dur.Add(v)
		s.durMax = max(s.durMax, v)
	}
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
	fineSk     []sketches // ring indexed by unix minute, the last six hours
	hourSk     []sketches // ring indexed by unix hour
	hours      []*hour    // ring indexed by unix hour; the summaries
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
		fineSk:  make([]sketches, fineSlots),
		hourSk:  make([]sketches, nh),
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
			m.addStatus(uint16(r.Status))
		}
		if r.Host != "" || r.Duration.Set {
			var h uint64
			if r.Host != "" {
				h = maphash.String(hashSeed, r.Host)
			}
			if mi > curMin-int64(fineSlots)+1 {
				if sk := &s.fineSk[mod(mi, fineSlots)]; sk.take(mi + 1) {
					sk.add(r, h)
				}
			}
			hi := floorDiv(t, hourNs)
			if sk := &s.hourSk[mod(hi, len(s.hourSk))]; sk.take(hi + 1) {
				sk.add(r, h)
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
	// Classify and Country are slow for a value they have not seen (tens
	// of µs): asking here, as records arrive, keeps that cost off the
	// queries, which then find the answers remembered.
	if r.Agent != "" && s.names.classify != nil {
		s.names.families(r.Agent)
	}
	if r.Host != "" && s.names.country != nil {
		s.names.countryOf(r.Host)
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
