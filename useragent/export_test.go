package useragent

// Cached returns how many agents p remembers.
func Cached(p *Parser) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.cur) + len(p.old)
}
