package stats

import "github.com/weblogd/weblogd/record"

// values returns r's value of each top-list field, "" where it has none.
// Browser, os and country come from Classify and Country, through names.
func (s *state) values(r *record.Record) (v [nFields]string) {
	v = s.plainValues(r)
	if v[fAgent] != "" && s.names.classify != nil {
		v[fBrowser], v[fOS] = s.names.families(v[fAgent])
	}
	if v[fHost] != "" && s.names.country != nil {
		v[fCountry] = s.names.countryOf(v[fHost])
	}
	return v
}

// plainValues is values without browser, os and country.
func (s *state) plainValues(r *record.Record) (v [nFields]string) {
	v[fSource] = r.Source
	v[fNode] = r.Node
	if !r.Parsed {
		return v
	}
	v[fPath] = r.Path
	if r.Status == 404 {
		v[fNotFound] = r.Path
	}
	v[fHost] = r.Host
	if r.Referer != "-" {
		v[fReferer] = r.Referer
		v[fSite] = site(r.Referer)
	}
	if r.Agent != "-" {
		v[fAgent] = r.Agent
	}
	v[fVHost] = r.VHost
	v[fMethod] = r.Method
	return v
}

// summarise folds r, which counts at t, into the summaries of its hour:
// r has left detail (or detail holds nothing).
func (s *state) summarise(r *record.Record, t, now int64) {
	if t > s.evictedMax || !s.anyEvicted {
		s.evictedMax = t
		s.anyEvicted = true
	}
	h := floorDiv(t, hourNs)
	if h < floorDiv(now, hourNs)-int64(len(s.hours))+2 {
		s.dropped++
		return
	}
	i := mod(h, len(s.hours))
	hr := s.hours[i]
	if hr == nil || hr.id < h+1 {
		hr = &hour{id: h + 1}
		s.hours[i] = hr
	} else if hr.id > h+1 {
		s.dropped++
		return
	}
	vals := s.values(r)
	for f, v := range vals {
		if v != "" {
			hr.lists[f].add(v, valueLimit[f], 1, 0)
		}
	}
	if r.Parsed && r.Duration.Set && r.Path != "" {
		d := uint64(max(r.Duration.D, 0))
		hr.slow.add(r.Path, MaxValue, d, d)
	}
}
