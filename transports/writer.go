package transports

import (
	"errors"
	"sync"
	"time"
)

// ErrEnded is returned by Writer.Do once the stream is over.
var ErrEnded = errors.New("the stream has ended")

// Writer is the writing side of a connection that its transport owns (raw
// TCP, WebSocket), built so that an idle subscriber costs no goroutine but
// the one reading from its peer. Nothing waits on the subscription: the
// hub calls Kick (as SubscribeOptions.Notify) when it has something, and
// only then is a writer goroutine started; it writes everything pending,
// coalescing whatever arrives meanwhile into its next write, and ends.
// Whoever writes holds the writer role, so writes never overlap: the
// reader takes the role too, with Do, to answer a client's command.
//
// The role's holder writes through the flush function given to NewWriter;
// it reports when the stream is over (the goodbye is written, or a write
// failed), and the Writer then calls end, which closes the connection so
// that its reader returns. The reader, the connection's owner, calls Stop
// when it has: no writer is started after that, and Stop waits for the
// one in flight.
type Writer struct {
	flush     func(beat bool) (over bool, err error)
	end       func()
	heartbeat time.Duration
	pool      *Workers // runs the turns; nil: a goroutine each

	mu      sync.Mutex
	free    *sync.Cond // signalled when the role is released; made by the first Do
	started bool       // Start was called: Kick may start writers
	busy    bool       // the role is held
	again   bool       // news arrived while the role was held, or before Start
	beat    bool       // a heartbeat is due
	over    bool       // the stream has ended: nothing more is written
	err     error      // what ended it; nil after a proper goodbye
	timer   *time.Timer
	wg      sync.WaitGroup // writer goroutines
}

// NewWriter returns a Writer that writes with flush and calls end once the
// stream is over. flush is called with the role held: it writes what the
// subscription has (and a heartbeat when beat is set), and reports whether
// the stream is over, with the error that ended it (nil after a proper
// goodbye). A heartbeat is due every heartbeat period; zero means none.
// Its turns run on pool's workers (nil: a goroutine each). It starts
// nothing until Start.
func NewWriter(flush func(beat bool) (over bool, err error), end func(), heartbeat time.Duration, pool *Workers) *Writer {
	return &Writer{flush: flush, end: end, heartbeat: heartbeat, pool: pool}
}

// Start lets Kick start writers (a Kick before it is remembered) and starts
// the heartbeat. Call it once the subscription is in place.
func (w *Writer) Start() {
	w.mu.Lock()
	w.started = true
	beats := w.heartbeat > 0 && !w.over
	if beats && w.pool == nil {
		w.timer = time.AfterFunc(w.heartbeat, w.beatDue)
	}
	w.mu.Unlock()
	if beats && w.pool != nil {
		w.pool.addBeat(w) // one sweep for all, rather than a timer each
		w.mu.Lock()
		over := w.over
		w.mu.Unlock()
		if over { // it ended meanwhile, maybe before it was added
			w.dropBeat()
		}
	}
	w.Kick()
}

func (w *Writer) beatDue() {
	w.mu.Lock()
	if w.over {
		w.mu.Unlock()
		return
	}
	w.beat = true
	if w.timer != nil {
		w.timer.Reset(w.heartbeat)
	}
	w.mu.Unlock()
	w.Kick()
}

// Kick says there is something to write. It never blocks: it queues a
// turn if the role is free, and otherwise tells its holder to look again
// before it lets go.
func (w *Writer) Kick() {
	w.mu.Lock()
	switch {
	case w.over:
	case w.busy, !w.started:
		w.again = true
	default:
		w.busy = true
		w.wg.Add(1)
		if w.pool != nil {
			w.pool.turn(w)
		} else {
			go w.runTurn()
		}
	}
	w.mu.Unlock()
}

// runTurn is a turn queued by Kick.
func (w *Writer) runTurn() {
	defer w.wg.Done()
	w.run()
}

// Do runs fn holding the role, then writes whatever is pending before it
// lets the role go. fn may write. An error from fn ends the stream with
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

// run writes until nothing is pending, then releases the role; the role
// is held when it is called.
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
	if w.pool != nil && w.heartbeat > 0 {
		w.pool.dropBeat(w)
	}
}

// release lets the role go, with w.mu held.
func (w *Writer) release() {
	w.busy = false
	if w.free != nil {
		w.free.Broadcast()
	}
}

// finish ends the stream with err, releases the role and closes the
// connection.
func (w *Writer) finish(err error) {
	w.mu.Lock()
	first := !w.over
	if first {
		w.over, w.err = true, err
	}
	w.release()
	if w.timer != nil {
		w.timer.Stop()
	}
	w.mu.Unlock()
	if first {
		w.dropBeat()
		w.end()
	}
}

// Stop ends the stream from the owner's side, cause being why (the peer
// went, or broke the protocol), unless it had ended already; it waits for
// the writer in flight and returns what ended the stream. The owner
// closes the connection before it calls Stop, so that a write stuck on a
// peer that stopped reading fails at once.
func (w *Writer) Stop(cause error) error {
	w.mu.Lock()
	if !w.over {
		w.over, w.err = true, cause
	}
	if w.timer != nil {
		w.timer.Stop()
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
