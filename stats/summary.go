package stats

import (
	"strings"
	"unicode/utf8"
)

// The fields of the top lists, in the order of topNames.
const (
	fPath = iota
	fNotFound
	fHost
	fReferer
	fSite
	fAgent
	fBrowser
	fOS
	fCountry
	fVHost
	fSource
	fNode
	fMethod
	nFields
)

var topNames = [nFields]string{"path", "not_found", "host", "referer", "site", "agent", "browser", "os", "country", "vhost", "source", "node", "method"}

// SummaryCap is how many values each field's summary of an hour keeps
// (and the slowest paths' summary too). While a field has no more
// distinct values in an hour, its counts for that hour are exact.
const SummaryCap = 500

// MaxValue is the longest value a top list holds, in bytes; longer values
// are cut (on a rune boundary) so that hostile values cannot grow memory.
// Addresses, hosts and names are cut shorter (valueLimit).
const MaxValue = 256

// valueLimit is the longest value of each field.
var valueLimit = [nFields]int{
	fPath: MaxValue, fNotFound: MaxValue, fReferer: MaxValue, fAgent: MaxValue,
	fHost: 128, fSite: 128, fVHost: 128, fSource: 128, fNode: 128,
	fBrowser: 64, fOS: 64, fCountry: 64, fMethod: 64,
}

// cut returns v cut to MaxValue bytes on a rune boundary.
func cut(v string) string { return cutTo(v, MaxValue) }

// cutTo returns v cut to n bytes on a rune boundary.
func cutTo(v string, n int) string {
	if len(v) <= n {
		return v
	}
	i := n
	for i > 0 && !utf8.RuneStart(v[i]) {
		i--
	}
	return v[:i]
}

// entry is one value of a summary: w is its weight (a count, or for the
// slowest paths microseconds), err how much of w may be another value's
// (Space-Saving), n and max the count and longest duration of the slowest
// paths.
type entry struct {
	key  string
	w    uint64
	err  uint64
	n    uint64
	max  uint64
	hpos int32
}

// summary is a Space-Saving summary ("stream summary"): at most SummaryCap
// values, the least heavy replaced by a newcomer, which inherits its
// weight as an over-count. Every value whose true weight exceeds the
// total over SummaryCap is kept, and no weight is under-counted.
type summary struct {
	last    int32 // 1 + the index of the entry added last, 0 for none
	idx     map[string]int32
	entries []entry
	heap    []int32 // min-heap of entries by w
	evicted bool
}

func (s *summary) add(key string, limit int, w, dur uint64) {
	key = cutTo(key, limit)
	// Neighbouring records often share a value: a comparison is cheaper
	// than a map look-up.
	if s.last > 0 && s.entries[s.last-1].key == key {
		e := &s.entries[s.last-1]
		e.w += w
		e.n++
		e.max = max(e.max, dur)
		s.down(int(e.hpos))
		return
	}
	if s.idx == nil {
		s.idx = make(map[string]int32, 16)
	}
	if i, ok := s.idx[key]; ok {
		s.last = i + 1
		e := &s.entries[i]
		e.w += w
		e.n++
		e.max = max(e.max, dur)
		s.down(int(e.hpos))
		return
	}
	if len(s.entries) < SummaryCap {
		i := int32(len(s.entries))
		s.entries = append(s.entries, entry{key: strings.Clone(key), w: w, n: 1, max: dur, hpos: int32(len(s.heap))})
		s.heap = append(s.heap, i)
		s.idx[s.entries[i].key] = i
		s.last = i + 1
		s.up(len(s.heap) - 1)
		return
	}
	i := s.heap[0]
	e := &s.entries[i]
	delete(s.idx, e.key)
	e.key = strings.Clone(key)
	e.err = e.w
	e.w += w
	e.n = 1
	e.max = dur
	s.idx[e.key] = i
	s.last = i + 1
	s.evicted = true
	s.down(0)
}

func (s *summary) less(a, b int) bool {
	return s.entries[s.heap[a]].w < s.entries[s.heap[b]].w
}

func (s *summary) swap(a, b int) {
	s.heap[a], s.heap[b] = s.heap[b], s.heap[a]
	s.entries[s.heap[a]].hpos = int32(a)
	s.entries[s.heap[b]].hpos = int32(b)
}

func (s *summary) up(j int) {
	for j > 0 {
		i := (j - 1) / 2
		if !s.less(j, i) {
			break
		}
		s.swap(i, j)
		j = i
	}
}

func (s *summary) down(i int) {
	n := len(s.heap)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		j := l
		if r := l + 1; r < n && s.less(r, l) {
			j = r
		}
		if !s.less(j, i) {
			return
		}
		s.swap(i, j)
		i = j
	}
}

// hour holds the summaries of the records of one hour that left detail.
type hour struct {
	id    int64 // unix hour + 1
	lists [nFields]summary
	slow  summary // paths by total duration in microseconds
}

// names remembers what Classify and Country said, per distinct value:
// two generations of at most namesCap each, the older dropped when the
// newer fills, so the memory stays bounded and frequent values stay.
type names struct {
	classify func(string) (string, string)
	country  func(string) string
	agents   [2]map[string][2]string
	hosts    [2]map[string]string
	// The last answers, for runs of one agent or address.
	lastAgent, lastBrowser, lastOS string
	lastHost, lastCountry          string
}

// namesCap is how many agents (and client addresses) each generation of
// names remembers.
const namesCap = 1 << 12

func newNames(c Config) names {
	return names{
		classify: c.Classify,
		country:  c.Country,
		agents:   [2]map[string][2]string{{}, {}},
		hosts:    [2]map[string]string{{}, {}},
	}
}

func (n *names) families(agent string) (string, string) {
	agent = cut(agent)
	if agent == n.lastAgent && agent != "" {
		return n.lastBrowser, n.lastOS
	}
	b, o := n.lookFamilies(agent)
	n.lastAgent, n.lastBrowser, n.lastOS = agent, b, o
	return b, o
}

func (n *names) lookFamilies(agent string) (string, string) {
	if v, ok := n.agents[0][agent]; ok {
		return v[0], v[1]
	}
	v, ok := n.agents[1][agent]
	if !ok {
		v[0], v[1] = n.classify(agent)
		v[0], v[1] = cutTo(v[0], valueLimit[fBrowser]), cutTo(v[1], valueLimit[fOS])
	}
	if len(n.agents[0]) >= namesCap {
		n.agents[1] = n.agents[0]
		n.agents[0] = make(map[string][2]string, namesCap)
	}
	n.agents[0][strings.Clone(agent)] = v
	return v[0], v[1]
}

func (n *names) countryOf(host string) string {
	host = cutTo(host, valueLimit[fHost])
	if host == n.lastHost && host != "" {
		return n.lastCountry
	}
	c := n.lookCountry(host)
	n.lastHost, n.lastCountry = host, c
	return c
}

func (n *names) lookCountry(host string) string {
	if v, ok := n.hosts[0][host]; ok {
		return v
	}
	v, ok := n.hosts[1][host]
	if !ok {
		v = cutTo(n.country(host), valueLimit[fCountry])
	}
	if len(n.hosts[0]) >= namesCap {
		n.hosts[1] = n.hosts[0]
		n.hosts[0] = make(map[string]string, namesCap)
	}
	n.hosts[0][strings.Clone(host)] = v
	return v
}

// site returns the host of a referer URL, without scheme, user or path;
// "" for none.
func site(ref string) string {
	if ref == "" || ref == "-" {
		return ""
	}
	if i := strings.Index(ref, "://"); i >= 0 {
		ref = ref[i+3:]
	}
	if i := strings.IndexAny(ref, "/?#"); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndexByte(ref, '@'); i >= 0 {
		ref = ref[i+1:]
	}
	return ref
}
