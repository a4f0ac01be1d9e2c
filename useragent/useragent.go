// Package useragent names the browser and operating system families of a
// User-Agent header, with the ua-parser project's maintained patterns.
package useragent

// Parser names families, remembering the newest agents it has seen. It is
// safe for concurrent use.
type Parser struct{}

// New returns a Parser that remembers up to cache agents.
func New(cache int) *Parser { return &Parser{} }

// Families returns the browser and operating system families of agent
// ("Firefox", "Windows"); "Other" when the patterns do not know it.
func (p *Parser) Families(agent string) (browser, os string) { return "Other", "Other" }
