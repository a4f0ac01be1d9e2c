package stats

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/DataDog/sketches-go/ddsketch"
	"github.com/axiomhq/hyperloglog"
	"github.com/weblogd/weblogd/record"
)

// completeSince returns the time from which detail holds every record:
// the second after the newest record that left it.
func (s *state) completeSince() int64 {
	if !s.anyEvicted {
		return math.MinInt64
	}
	return (floorDiv(s.evictedMax, int64(time.Second)) + 1) * int64(time.Second)
}

// tally counts the values of the top lists, and the slowest paths.
type tally struct {
	counts [nFields]map[string]uint64
	slow   map[string]*slowAcc
	// Neighbouring records often share a value (a client's burst, one
	// method, one source): runs of one value cost a comparison each, and
	// one map update in all.
	last [nFields]string
	run  [nFields]uint64
}

type slowAcc struct {
	n, total, max uint64 // nanoseconds
}

func newTally() *tally {
	t := &tally{slow: map[string]*slowAcc{}}
	for i := range t.counts {
		t.counts[i] = map[string]uint64{}
	}
	return t
}

// record counts r, except for browser, os and country: classify adds
// those from the agents and addresses counted, once per distinct value.
func (t *tally) record(s *state, r *record.Record) {
	vals := s.plainValues(r)
	for f, v := range vals {
		if v == "" {
			continue
		}
		if t.run[f] > 0 && v == t.last[f] {
			t.run[f]++
			continue
		}
		t.flush(f)
		t.last[f], t.run[f] = v, 1
	}
	if r.Parsed && r.Duration.Set && r.Path != "" {
		d := uint64(max(r.Duration.D, 0))
		k := cut(r.Path)
		a := t.slow[k]
		if a == nil {
			a = &slowAcc{}
			t.slow[k] = a
		}
		a.n++
		a.total += d
		a.max = max(a.max, d)
	}
}

// flush counts the run of field f.
func (t *tally) flush(f int) {
	if t.run[f] > 0 {
		t.counts[f][cutTo(t.last[f], valueLimit[f])] += t.run[f]
		t.last[f], t.run[f] = "", 0
	}
}

// done counts every run; call it after the last record.
func (t *tally) done() {
	for f := range t.run {
		t.flush(f)
	}
}

// classify counts browsers, operating systems and countries from the
// agents and addresses counted so far.
func (t *tally) classify(s *state) {
	if s.names.classify != nil {
		for a, c := range t.counts[fAgent] {
			b, o := s.names.families(a)
			if b != "" {
				t.counts[fBrowser][b] += c
			}
			if o != "" {
				t.counts[fOS][o] += c
			}
		}
	}
	if s.names.country != nil {
		for h, c := range t.counts[fHost] {
			if k := s.names.countryOf(h); k != "" {
				t.counts[fCountry][k] += c
			}
		}
	}
}

// hour adds an hour's summaries.
func (t *tally) hour(h *hour) {
	for f := range h.lists {
		m := t.counts[f]
		for i := range h.lists[f].entries {
			e := &h.lists[f].entries[i]
			m[e.key] += e.w
		}
	}
	for i := range h.slow.entries {
		e := &h.slow.entries[i]
		a := t.slow[e.key]
		if a == nil {
			a = &slowAcc{}
			t.slow[e.key] = a
		}
		a.n += e.n
		a.total += e.w
		a.max = max(a.max, e.max)
	}
}

// fill writes the top lists and the slowest paths into res.
func (t *tally) fill(res *Result, top int) {
	res.Top = map[string][]Count{}
	for f, m := range t.counts {
		if len(m) == 0 {
			continue
		}
		res.Top[topNames[f]] = topOf(m, top)
	}
	if len(t.slow) == 0 {
		return
	}
	l := make([]Slow, 0, len(t.slow))
	for k, a := range t.slow {
		tot := float64(a.total) / 1e9
		sl := Slow{Value: k, Count: a.n, Total: tot, Max: float64(a.max) / 1e9}
		if a.n > 0 {
			sl.Mean = tot / float64(a.n)
		}
		l = append(l, sl)
	}
	slices.SortFunc(l, func(a, b Slow) int {
		if a.Total != b.Total {
			if a.Total > b.Total {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Value, b.Value)
	})
	res.Slowest = l[:min(top, len(l))]
}

// topOf returns the n values of m counted most, most first (and in the
// order of their values for equal counts), keeping only n at a time.
func topOf(m map[string]uint64, n int) []Count {
	l := make([]Count, 0, min(n, len(m)))
	before := func(a, b Count) bool {
		return a.Count > b.Count || a.Count == b.Count && a.Value < b.Value
	}
	for k, c := range m {
		e := Count{Value: k, Count: c}
		if len(l) == n && !before(e, l[n-1]) {
			continue
		}
		i, _ := slices.BinarySearchFunc(l, e, func(a, b Count) int {
			if before(a, b) {
				return -1
			}
			return 1
		})
		if len(l) < n {
			l = append(l, Count{})
		}
		copy(l[i+1:], l[i:])
		l[i] = e
	}
	return l
}

// rateShape picks the rate's bucket for a window that starts at from (a
// whole minute): its size, the number of buckets, and the first one's
// start. The buckets run from the window's start, so that they add up to
// its requests; the last is the one now filling.
func rateShape(w time.Duration, from, now int64) (name string, size int64, n int, start int64) {
	switch {
	case w <= 15*time.Minute:
		name, size = "10s", tenSecNs
	case w <= 6*time.Hour:
		name, size = "1m", minuteNs
	default:
		name, size = "15m", 15*minuteNs
	}
	n = int(floorDiv(now-from, size)) + 1
	return name, size, n, from
}

func newRate(name string, n int, start int64, loc *time.Location) Rate {
	r := Rate{Bucket: name, Start: time.Unix(0, start).In(loc), Counts: make([]uint64, n), Classes: map[string][]uint64{}}
	for _, c := range classNames {
		r.Classes[c] = make([]uint64, n)
	}
	return r
}

func (s *state) query(q Query, nowT time.Time) *Result {
	now := nowT.UnixNano()
	loc := nowT.Location()
	curMin := floorDiv(now, minuteNs)
	nMin := (int64(q.Window) + minuteNs - 1) / minuteNs
	firstMin := curMin - nMin + 1
	from := firstMin * minuteNs
	res := &Result{
		Window: durString(q.Window),
		From:   time.Unix(0, from).In(loc),
		To:     nowT,
		Status: map[string]uint64{},
		Errors: map[string]uint64{},
	}
	complete := s.completeSince()
	if q.Match != nil {
		s.queryDetail(q, res, max(from, complete), now, loc)
		return res
	}

	var classes [nClasses]uint64
	status := map[uint16]uint64{}
	for mi := firstMin; mi <= curMin; mi++ {
		m := &s.minutes[mod(mi, len(s.minutes))]
		if m.id != mi+1 {
			continue
		}
		res.Requests += m.req
		res.Bytes += m.bytes
		res.ParseErrors += m.perr
		for c := range classes {
			classes[c] += m.class[c]
		}
		for _, c := range m.status {
			status[c.code] += uint64(c.n)
		}
	}
	for k, v := range status {
		res.Status[strconv.Itoa(int(k))] = v
	}
	res.Errors["4xx"], res.Errors["5xx"] = classes[c4xx], classes[c5xx]
	if m := &s.minutes[mod(curMin-1, len(s.minutes))]; m.id == curMin {
		res.PerSecond = float64(m.req) / 60
	}
	res.Visitors, res.Duration = s.sketched(q.Window, firstMin, curMin, from, now)
	res.Rate = s.rate(q.Window, from, now, loc)

	t := newTally()
	s.detail.each(func(e *held) {
		if e.t >= from {
			t.record(s, e.r)
		}
	})
	t.done()
	t.classify(s)
	res.TopExact = true
	if complete > from {
		// Detail holds only part of the window: the hours before it come
		// from their summaries, an hour counting when most of it lies
		// in the window.
		for _, h := range s.hours {
			if h == nil {
				continue
			}
			start := (h.id - 1) * hourNs
			if start+hourNs/2 < from || start > now {
				continue
			}
			t.hour(h)
			if h.evicted() {
				res.TopExact = false
			}
		}
	}
	t.fill(res, q.Top)
	return res
}

func (h *hour) evicted() bool {
	if h.slow.evicted {
		return true
	}
	for i := range h.lists {
		if h.lists[i].evicted {
			return true
		}
	}
	return false
}

// sketched merges the visitor and duration sketches of the window: by the
// minute up to six hours, by the hour beyond (an hour counting when most
// of it lies in the window).
func (s *state) sketched(w time.Duration, firstMin, curMin, from, now int64) (uint64, *Duration) {
	var sks []*sketches
	if w <= fine {
		for mi := firstMin; mi <= curMin; mi++ {
			if sk := &s.fineSk[mod(mi, fineSlots)]; sk.id == mi+1 {
				sks = append(sks, sk)
			}
		}
	} else {
		for hi := floorDiv(from, hourNs); hi <= floorDiv(now, hourNs); hi++ {
			if sk := &s.hourSk[mod(hi, len(s.hourSk))]; sk.id == hi+1 && hi*hourNs+hourNs/2 >= from {
				sks = append(sks, sk)
			}
		}
	}
	// A dense sketch takes many sparse ones faster; a sparse one stays
	// exact for a few visitors.
	vis, _ := hyperloglog.NewSketch(hllPrecision, len(sks) <= 60)
	var dur *ddsketch.DDSketch
	var durMax float64
	for _, sk := range sks {
		if sk.hll != nil {
			_ = vis.Merge(sk.hll)
		}
		if sk.dur != nil && !sk.dur.IsEmpty() {
			if dur == nil {
				dur = newDurSketch()
			}
			_ = dur.MergeWith(sk.dur)
			durMax = max(durMax, sk.durMax)
		}
	}
	return vis.Estimate(), durationOf(dur, durMax)
}

func durationOf(d *ddsketch.DDSketch, mx float64) *Duration {
	if d == nil || d.IsEmpty() {
		return nil
	}
	qs, err := d.GetValuesAtQuantiles([]float64{0.5, 0.9, 0.99})
	if err != nil {
		return nil
	}
	return &Duration{Count: uint64(d.GetCount()), P50: min(qs[0], mx), P90: min(qs[1], mx), P99: min(qs[2], mx), Max: mx}
}

// rate counts the window's requests by bucket, from the rings.
func (s *state) rate(w time.Duration, from, now int64, loc *time.Location) Rate {
	name, size, n, start := rateShape(w, from, now)
	rt := newRate(name, n, start, loc)
	cls := make([][]uint64, nClasses)
	for c, nm := range classNames {
		cls[c] = rt.Classes[nm]
	}
	if size == tenSecNs {
		first := start / tenSecNs
		for i := 0; i < n; i++ {
			ti := first + int64(i)
			b := &s.tens[mod(ti, tens)]
			if b.id != ti+1 {
				continue
			}
			for c := range b.class {
				cls[c][i] += uint64(b.class[c])
				rt.Counts[i] += uint64(b.class[c])
			}
		}
		return rt
	}
	per := size / minuteNs
	first := start / minuteNs
	for i := 0; i < n; i++ {
		for j := int64(0); j < per; j++ {
			mi := first + int64(i)*per + j
			m := &s.minutes[mod(mi, len(s.minutes))]
			if m.id != mi+1 {
				continue
			}
			for c := range m.class {
				cls[c][i] += m.class[c]
			}
			rt.Counts[i] += m.req
		}
	}
	return rt
}

// queryDetail answers a filtered query from the records held in detail
// that count at from or later.
func (s *state) queryDetail(q Query, res *Result, from, now int64, loc *time.Location) {
	res.Covers = &Covers{From: time.Unix(0, from).In(loc)}
	res.TopExact = true
	name, size, n, start := rateShape(q.Window, res.From.UnixNano(), now)
	res.Rate = newRate(name, n, start, loc)
	var classes [nClasses]uint64
	visitors := map[string]struct{}{}
	var dur *ddsketch.DDSketch
	var durMax float64
	lastMin := (floorDiv(now, minuteNs) - 1) * minuteNs
	var lastReq uint64
	t := newTally()
	s.detail.each(func(e *held) {
		if e.t < from || e.t > now {
			return
		}
		res.Covers.Records++
		r := e.r
		if !q.Match(r) {
			return
		}
		res.Requests++
		cl := classOf(r)
		classes[cl]++
		if e.t >= lastMin && e.t < lastMin+minuteNs {
			lastReq++
		}
		if i := floorDiv(e.t-start, size); i >= 0 && i < int64(n) {
			res.Rate.Counts[i]++
			res.Rate.Classes[classNames[cl]][i]++
		}
		if !r.Parsed {
			res.ParseErrors++
			t.record(s, r)
			return
		}
		if r.Bytes > 0 {
			res.Bytes += uint64(r.Bytes)
		}
		if r.Status >= 100 && r.Status <= 999 {
			res.Status[strconv.Itoa(r.Status)]++
		}
		if r.Host != "" {
			visitors[r.Host] = struct{}{}
		}
		if r.Duration.Set {
			if dur == nil {
				dur = newDurSketch()
			}
			v := max(r.Duration.D.Seconds(), 0)
			_ = dur.Add(v)
			durMax = max(durMax, v)
		}
		t.record(s, r)
	})
	res.Errors["4xx"], res.Errors["5xx"] = classes[c4xx], classes[c5xx]
	res.Visitors = uint64(len(visitors))
	res.PerSecond = float64(lastReq) / 60
	res.Duration = durationOf(dur, durMax)
	t.done()
	t.classify(s)
	t.fill(res, q.Top)
}
