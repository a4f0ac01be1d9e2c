package transports

import (
	"errors"
	"sync"
	"time"
)

// ErrEnded is returned by Writer.Do once the stream is over.
var ErrEnded = errors.New("the stream has ended")

// Writer is the writing side of a connection that its transport owns (raw
// TCP, WebSocket), built so that an idle subscriber costs no goroutine.
// Nothing waits on the subscription: the hub calls Notify (as
// SubscribeOptions.Notify) when it has something, and only then is a
// write queued on the WriterPool; it writes everything pending, coalescing
// whatever arrives meanwhile into its next write, and lets go. Writes
// never overlap: the reader, to answer a client's command, writes with Do,
// which waits for the write under way.
//
// Writes go through the flush function given to NewWriter; it reports
// when the stream is over (the goodbye is written, or a write failed), and
// the Writer then calls end, which closes the connection so that its
// reader finds it over. The reader, the connection's owner, calls Stop
// when it has: nothing is written after that, and Stop waits for the write
// under way.
type Writer struct {
	flush     func(beat bool) (over bool, err error)
	end       func()
	heartbeat time.Duration
	pool      *WriterPool

	mu      sync.Mutex
	free    *sync.Cond     // signalled when a write ends; made by the first Do
	started bool           // Start was called: Notify may queue writes
	busy    bool           // a write is queued or under way
	again   bool           // news arrived during the write, or before Start
	beat    bool           // a heartbeat is due
	over    bool           // the stream has ended: nothing more is written
	err     error          // what ended it; nil after a proper goodbye
	wg      sync.WaitGroup // the queued write
}

// NewWriter returns a Writer that writes with flush on pool and calls end
// once the stream is over. flush writes what the subscription has (and a
// heartbeat when beat is set), one call at a time, and reports whether
// the stream is over, with the error that ended it (nil after a proper
// goodbye). A heartbeat is due every heartbeat period (the pool's sweep);
// zero means none. It writes nothing until Start.
func NewWriter(flush func(beat bool) (over bool, err error), end func(), heartbeat time.Duration, pool *WriterPool) *Writer {
	return &Writer{flush: flush, end: end, heartbeat: heartbeat, pool: pool}
}

// Start lets Notify queue writes (a Notify before it is remembered) and
// starts the heartbeat. Call it once the subscription is in place.
func (w *Writer) Start() {
	w.mu.Lock()
	w.started = true
	beats := w.heartbeat > 0 && !w.over
	w.mu.Unlock()
	if beats {
		w.pool.addBeat(w)
		w.mu.Lock()
		over := w.over
		w.mu.Unlock()
		if over { // it ended meanwhile, maybe before it was added
			w.dropBeat()
		}
	}
	w.Notify()
}

// beatDue is the heartbeat sweep's: a heartbeat goes with the next write.
func (w *Writer) beatDue() {
	w.mu.Lock()
	if w.over {
		w.mu.Unlock()
		return
	}
	w.beat = true
	w.mu.Unlock()
	w.Notify()
}

// Notify says there is something to write. It never blocks: it queues a
// write if none is queued or under way, and otherwise has that one look
// again before it lets go.
func (w *Writer) Notify() {
	w.mu.Lock()
	switch {
	case w.over:
	case w.busy, !w.started:
		w.again = true
	default:
		w.busy = true
		w.wg.Add(1)
		w.pool.enqueue(w)
	}
	w.mu.Unlock()
}

// runQueued is a write queued by Notify.
func (w *Writer) runQueued() {
	defer w.wg.Done()
	w.run()
}

// Do waits for the write under way, runs fn in its place, then writes
// whatever is pending. fn may write. An error from fn ends the stream with
// it. Do returns ErrEnded, without running fn, once the stream is over.
func (w *Writer) Do(fn func() error) error {
	w.mu.Lock()
	if w.free == nil {
		w.free = sync.NewCond(&w.mu) // most connections never call Do
	}
	for w.busy && !w.over {
		w.free.Wait()
	}
	if w.over {
		w.mu.Unlock()
		return ErrEnded
	}
	w.busy = true
	w.mu.Unlock()
	if err := fn(); err != nil {
		w.finish(err)
		return err
	}
	w.run()
	return nil
}

// run writes until nothing is pending, then lets go; busy is set when it
// is called.
func (w *Writer) run() {
	for {
		w.mu.Lock()
		beat := w.beat
		w.beat, w.again = false, false
		w.mu.Unlock()
		if over, err := w.flush(beat); over || err != nil {
			w.finish(err)
			return
		}
		w.mu.Lock()
		if w.again && !w.over {
			w.mu.Unlock()
			continue
		}
		w.release()
		w.mu.Unlock()
		return
	}
}

// dropBeat takes w out of its pool's heartbeat sweep.
func (w *Writer) dropBeat() {
	if w.heartbeat > 0 {
		w.pool.dropBeat(w)
	}
}

// release ends the write, with w.mu held.
func (w *Writer) release() {
	w.busy = false
	if w.free != nil {
		w.free.Broadcast()
	}
}

// finish ends the stream with err, ends the write and closes the
// connection.
func (w *Writer) finish(err error) {
	w.mu.Lock()
	first := !w.over
	if first {
		w.over, w.err = true, err
	}
	w.release()
	w.mu.Unlock()
	if first {
		w.dropBeat()
		w.end()
	}
}

// Stop ends the stream from the owner's side, cause being why (the peer
// went, or broke the protocol), unless it had ended already; it waits for
// the write under way and returns what ended the stream. The owner
// closes the connection before it calls Stop, so that a write stuck on a
// peer that stopped reading fails at once.
func (w *Writer) Stop(cause error) error {
	w.mu.Lock()
	if !w.over {
		w.over, w.err = true, cause
	}
	if w.free != nil {
		w.free.Broadcast()
	}
	w.mu.Unlock()
	w.dropBeat()
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// maxIdleGoroutines is how many of the pool's goroutines wait for the
// next flush once the queue is empty: one takes a whole flush's writes,
// one after the other, unless a write waits on its peer (then another
// starts); more would only wait.
const maxIdleGoroutines = 1

// WriterPool runs Writers' writes on goroutines that outlive one write. A
// goroutine started afresh for every write begins with a small stack and
// grows it, copying it, in every write: with 10,000 subscribers (the
// weblogbench row 10000x100) that copying was an eighth of the server's
// CPU. Here a few goroutines take the writes from
// one queue in the order the hub notified them, their stacks grown once.
// A goroutine that starts a write while others wait in the queue and none
// is free starts one more, so a write that waits on a slow peer (up to the
// write timeout) holds up nobody. When the queue is empty a goroutine
// waits for more, unless another already does; then it ends.
//
// The zero value is ready. Close ends the waiting goroutines and waits for
// all of them; the owner calls it once no Writer is left.
type WriterPool struct {
	mu      sync.Mutex
	cond    *sync.Cond
	queue   []*Writer // writes to take, oldest at head
	head    int
	live    int // goroutines
	free    int // of those, not in a write (starting, or waiting)
	waiting int // of those, waiting on cond
	closed  bool
	wg      sync.WaitGroup

	// The heartbeat sweep: the Writers with a heartbeat
	// and when each last had one, Unix ns.
	beats    map[*Writer]int64
	beatTick time.Duration // how often the sweep looks; 0 until it runs
	beatStop chan struct{}
}

// enqueue queues w's write. It never blocks.
func (p *WriterPool) enqueue(w *Writer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		go w.runQueued() // a last goodbye after Close; w.wg still counts it
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

// start starts a goroutine; p.mu is held.
func (p *WriterPool) start() {
	if p.cond == nil {
		p.cond = sync.NewCond(&p.mu)
	}
	p.live++
	p.free++
	p.wg.Add(1)
	go p.run()
}

func (p *WriterPool) run() {
	defer p.wg.Done()
	p.mu.Lock()
	for {
		for p.head == len(p.queue) {
			if p.closed || p.waiting >= maxIdleGoroutines {
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
			p.start() // others wait, and this write may wait on its peer
		}
		p.mu.Unlock()
		w.runQueued()
		p.mu.Lock()
		p.free++
	}
}

// Close ends the goroutines once the queue is empty, and the heartbeat
// sweep, and waits for them.
func (p *WriterPool) Close() {
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
// looks every eighth of the shortest heartbeat and notifies, with a beat,
// the Writers whose heartbeat is due. A timer each would cost every idle
// connection some hundred bytes (the idle-ws row).
func (p *WriterPool) addBeat(w *Writer) {
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
func (p *WriterPool) dropBeat(w *Writer) {
	p.mu.Lock()
	delete(p.beats, w)
	p.mu.Unlock()
}

// sweep notifies the Writers whose heartbeat is due, every tick, until stop.
// A heartbeat is due half a tick before its period is up, so that a
// period that is a multiple of the tick is kept exactly.
func (p *WriterPool) sweep(tick time.Duration, stop chan struct{}) {
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
