package transports

// Live returns how many goroutines p has, for tests.
func (p *WriterPool) Live() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.live
}
