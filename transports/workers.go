package transports

import (
	"sync"
	"time"
)

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

	// The heartbeat sweep: the Writers with a heartbeat
	// and when each last had one, Unix ns.
	beats    map[*Writer]int64
	beatTick time.Duration // how often the sweep looks; 0 until it runs
	beatStop chan struct{}
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

// Close ends the workers once the queue is empty, and the heartbeat
// sweep, and waits for them.
func (p *Workers) Close() {
	p.mu.Lock()
	if p.beatStop != nil && !p.closed {
		close(p.beatStop)
	}
	p.closed = true
	if p.cond != nil {
		p.cond.Broadcast()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// addBeat puts w in the heartbeat sweep: a goroutine of the pool's that
// looks every eighth of the shortest heartbeat and kicks, with a beat, the
// Writers whose heartbeat is due. A timer each would cost every idle
// connection some hundred bytes.
func (p *Workers) addBeat(w *Writer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	if p.beats == nil {
		p.beats = make(map[*Writer]int64)
	}
	p.beats[w] = time.Now().UnixNano()
	if tick := max(w.heartbeat/8, time.Millisecond); p.beatTick == 0 || tick < p.beatTick {
		if p.beatStop != nil {
			close(p.beatStop) // the sweep starts again with the shorter tick
		}
		p.beatTick, p.beatStop = tick, make(chan struct{})
		p.wg.Add(1)
		go p.sweep(tick, p.beatStop)
	}
}

// dropBeat takes w out of the sweep.
func (p *Workers) dropBeat(w *Writer) {
	p.mu.Lock()
	delete(p.beats, w)
	p.mu.Unlock()
}

// sweep kicks the Writers whose heartbeat is due, every tick, until stop.
// A heartbeat is due half a tick before its period is up, so that a
// period that is a multiple of the tick is kept exactly.
func (p *Workers) sweep(tick time.Duration, stop chan struct{}) {
	defer p.wg.Done()
	t := time.NewTicker(tick)
	defer t.Stop()
	var due []*Writer
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		now := time.Now().UnixNano()
		p.mu.Lock()
		for w, last := range p.beats {
			if time.Duration(now-last) >= w.heartbeat-tick/2 {
				p.beats[w] = now
				due = append(due, w)
			}
		}
		p.mu.Unlock()
		for i, w := range due {
			w.beatDue()
			due[i] = nil
		}
		due = due[:0]
	}
}
