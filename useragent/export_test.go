package useragent

// Cached returns how many agents p remembers.
func Cached(p *Parser) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.cur) + len(p.old)
}

// UAP names agent's families with uap-go's own ParseUserAgent and ParseOs,
// every pattern tried: what Families must agree with.
func UAP(agent string) (browser, os string) {
	if len(agent) > MaxAgent {
		agent = agent[:MaxAgent]
	}
	u := patterns().uap
	return u.ParseUserAgent(agent).Family, u.ParseOs(agent).Family
}
