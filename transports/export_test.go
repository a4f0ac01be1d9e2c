package transports

// Live returns how many goroutines p has, for tests.
func (p *WriterPool) Live() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.live
}

// ReadNow is one read of ReadAvailable's, for tests.
func (k *Waiting) ReadNow(b []byte) (int, error) { return k.read(b) }
