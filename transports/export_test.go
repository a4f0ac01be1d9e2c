package transports

// Live returns how many workers p has, for tests.
func (p *Workers) Live() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.live
}
