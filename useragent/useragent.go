// Package useragent names the browser and operating system families of a
// User-Agent header, with the ua-parser project's maintained patterns
// (github.com/ua-parser/uap-go, whose definitions are compiled into the
// program: nothing is read from disk).
package useragent

import (
	"strings"
	"sync"

	"github.com/ua-parser/uap-go/uaparser"
	"gopkg.in/yaml.v3"
)

// MaxAgent is how much of an agent is looked at. Real agents are a few
// hundred bytes; cutting longer ones bounds what a hostile header costs
// in matching time and in cache memory.
const MaxAgent = 512

// Other is the family of an agent the patterns do not know, as ua-parser
// names it.
const Other = "Other"

// patternSet is ua-parser's patterns compiled, with the filter that
// skips the ones an agent cannot match.
type patternSet struct {
	uap    *uaparser.Parser
	filter *filter
}

// patterns is the compiled pattern set, shared by every Parser: compiling
// it takes tens of milliseconds, and matching only reads it.
var patterns = sync.OnceValue(func() patternSet {
	var def uaparser.RegexDefinitions
	if err := yaml.Unmarshal(uaparser.DefinitionYaml, &def); err != nil {
		panic("useragent: ua-parser's definitions do not parse: " + err.Error())
	}
	// The device patterns are most of the set and we name no devices;
	// leaving them out halves the start-up cost.
	def.Device = nil
	// We run the patterns ourselves (filter.families), so uap-go's own
	// caches, which cannot be turned off, are left with one entry.
	p, err := uaparser.New(
		uaparser.WithRegexDefinitions(def),
		uaparser.WithMode(uaparser.EUserAgentLookUpMode|uaparser.EOsLookUpMode),
		uaparser.WithCacheSize(1),
	)
	if err != nil {
		panic("useragent: " + err.Error())
	}
	return patternSet{uap: p, filter: newFilter(p)}
})

// families is what the cache holds for one agent.
type families struct{ browser, os string }

// Parser names families, remembering the newest agents it has seen. It is
// safe for concurrent use.
//
// Matching an agent against the hundreds of patterns is hundreds of
// times slower than finding it in the cache, even with the filter that
// skips most of them (BenchmarkFamiliesCold against
// BenchmarkFamiliesCached, and BenchmarkFamiliesUnfiltered for what the
// filter saves); a log has few distinct agents next to its lines, so the
// cache answers most lookups.
type Parser struct {
	set  patternSet
	half int // entries per generation

	mu sync.Mutex
	// The cache is two generations of a map: lookups fill cur; when cur
	// holds half entries it becomes old and a new cur starts, so old's
	// agents not asked for since are forgotten. This bounds it at 2*half
	// entries with no per-entry bookkeeping.
	cur, old map[string]families
}

// New returns a Parser that remembers up to cache agents (at least 2).
// Each costs at most MaxAgent bytes plus about 100 bytes of map entry.
func New(cache int) *Parser {
	half := max(cache/2, 1)
	return &Parser{
		set:  patterns(),
		half: half,
		cur:  make(map[string]families, half),
	}
}

// Families returns the browser and operating system families of agent
// ("Firefox", "Windows"), as ua-parser names them; Other when the patterns
// do not know it. An empty agent, or "-" as logs write a missing one, has
// no families: "", "".
func (p *Parser) Families(agent string) (browser, os string) {
	if agent == "" || agent == "-" {
		return "", ""
	}
	if len(agent) > MaxAgent {
		agent = agent[:MaxAgent]
	}
	p.mu.Lock()
	f, ok := p.cur[agent]
	if !ok {
		if f, ok = p.old[agent]; ok {
			p.keep(agent, f)
		}
	}
	p.mu.Unlock()
	if ok {
		return f.browser, f.os
	}

	// The agent is usually a piece of a whole log line; a copy keeps
	// the cache from holding the line.
	agent = strings.Clone(agent)
	// Matched outside the lock: another goroutine may match the same
	// agent at the same time, which costs time but gives the same answer.
	f = p.set.filter.families(p.set.uap, agent)
	p.mu.Lock()
	p.keep(agent, f)
	p.mu.Unlock()
	return f.browser, f.os
}

// keep remembers f for agent in the newer generation. p.mu must be held.
func (p *Parser) keep(agent string, f families) {
	if len(p.cur) >= p.half {
		p.old = p.cur
		p.cur = make(map[string]families, p.half)
	}
	p.cur[agent] = f
}
