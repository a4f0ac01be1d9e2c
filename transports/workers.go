package transports

import "sync"

// maxIdleWorkers is how many workers wait for the next flush once the
// queue is empty: one takes a whole flush's turns, one after the other,
// unless a turn waits on its peer (then another starts); more would only
// wait.
const maxIdleWorkers = 1

// Workers runs Writers' turns (a turn: write what is pending, and let the
// role go) on goroutines that outlive one turn. A goroutine started afresh
// for every turn begins with a small stack and grows it, copying it, in
// every write: with 10,000 subscribers that copying was an eighth of the
// server's CPU. Here a few workers take the turns from one queue in the
// order the hub kicked them, their stacks grown once. A worker that starts
// a turn while others wait in the queue and no worker is free starts one
// more, so a turn whose write waits on a slow peer (up to the write
// timeout) holds up nobody. When the queue is empty a worker waits for
// more, unless another already does; then it ends.
//
// The zero value is ready. Close ends the waiting workers and waits for
// all of them; the owner calls it once no Writer is left.
type Workers struct {
	mu      sync.Mutex
	cond    *sync.Cond
	queue   []*Writer // turns to take, oldest at head
	head    int
	live    int // workers
	free    int // of those, not in a turn (starting, or waiting)
	waiting int // of those, waiting on cond
	closed  bool
	wg      sync.WaitGroup
}

// turn queues w's turn. It never blocks.
func (p *Workers) turn(w *Writer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		go w.runTurn() // a last goodbye after Close; w.wg still counts it
		return
	}
	p.queue = append(p.queue, w)
	if p.waiting > 0 {
		p.cond.Signal()
		return
	}
	if p.free == 0 {
		p.start()
	}
}

// start starts a worker; p.mu is held.
func (p *Workers) start() {
	if p.cond == nil {
		p.cond = sync.NewCond(&p.mu)
	}
	p.live++
	p.free++
	p.wg.Add(1)
	go p.work()
}

func (p *Workers) work() {
	defer p.wg.Done()
	p.mu.Lock()
	for {
		for p.head == len(p.queue) {
			if p.closed || p.waiting >= maxIdleWorkers {
				p.live--
				p.free--
				p.mu.Unlock()
				return
			}
			p.queue, p.head = p.queue[:0], 0
			p.waiting++
			p.cond.Wait()
			p.waiting--
		}
		w := p.queue[p.head]
		p.queue[p.head] = nil
		p.head++
		p.free--
		if p.head < len(p.queue) && p.free == 0 {
			p.start() // others wait, and this turn may wait on its peer
		}
		p.mu.Unlock()
		w.runTurn()
		p.mu.Lock()
		p.free++
	}
}

// Close ends the workers once the queue is empty and waits for them.
func (p *Workers) Close() {
	p.mu.Lock()
	p.closed = true
	if p.cond != nil {
		p.cond.Broadcast()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
