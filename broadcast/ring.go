package broadcast

import "sync"

// Ring numbers records and keeps the newest of them. Sequence numbers are
// assigned on Append under the ring's lock, so records from several logs
// appended concurrently still get one gap-free order.
//
// A limit (SetLimit) caps the seqs Append gives out: a server that saves
// its numbering sets it to what it has saved, so that no seq it ever gave
// out is above what a restart continues after.
type Ring struct {
	mu    sync.RWMutex
	room  *sync.Cond // on mu: the limit rose
	buf   []*Record  // circular; buf[(seq-1)%len(buf)] holds seq while it is kept
	last  uint64     // seq of the newest record; 0 before the first
	held  int        // how many records buf holds (≤ len(buf))
	limit uint64     // the highest seq Append may give out; 0: no limit
	short chan struct{}
}

// DefaultRingSize is the --ring default: enough history for a page of
// backlog and for a reconnecting client to resume after a few seconds of a
// busy server.
const DefaultRingSize = 10000

// NewRing returns a ring that keeps the newest size records (DefaultRingSize
// when size ≤ 0). The first record appended gets sequence number last+1, so
// a restarted server can continue its numbering.
func NewRing(size int, last uint64) *Ring {
	if size <= 0 {
		size = DefaultRingSize
	}
	r := &Ring{buf: make([]*Record, size), last: last, short: make(chan struct{}, 1)}
	r.room = sync.NewCond(&r.mu)
	return r
}

// SetLimit sets the highest seq Append may give out, and lets the Appends
// waiting for it go on; 0 removes the limit.
func (r *Ring) SetLimit(limit uint64) {
	r.mu.Lock()
	r.limit = limit
	r.mu.Unlock()
	r.room.Broadcast()
}

// Limit returns the highest seq Append may give out; 0 means no limit.
func (r *Ring) Limit() uint64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.limit
}

// Short receives when an Append waits because the limit is reached: the
// one who sets the limit should raise it now.
func (r *Ring) Short() <-chan struct{} { return r.short }

// Continue makes the numbering continue after last (a restarted server's
// checkpoint). It only applies to a ring that holds nothing yet.
func (r *Ring) Continue(last uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.held > 0 {
		return false
	}
	r.last = last
	return true
}

// Append numbers rec, keeps it, and returns its seq. The ring takes rec
// over: it must not be changed afterwards. At the limit, it waits until
// the limit is raised.
func (r *Ring) Append(rec *Record) uint64 {
	r.mu.Lock()
	for r.limit != 0 && r.last >= r.limit {
		select {
		case r.short <- struct{}{}:
		default:
		}
		r.room.Wait()
	}
	r.last++
	rec.Seq = r.last
	r.buf[r.last%uint64(len(r.buf))] = rec
	if r.held < len(r.buf) {
		r.held++
	}
	seq := r.last
	r.mu.Unlock()
	return seq
}

// Size returns how many records the ring can keep.
func (r *Ring) Size() int { return len(r.buf) }

// Len returns how many records the ring keeps now.
func (r *Ring) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.held
}

// Last returns the seq of the newest record, 0 if none was ever appended.
func (r *Ring) Last() uint64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.last
}

// Bounds returns the seqs of the oldest and the newest record kept; first is
// last+1 when the ring is empty.
func (r *Ring) Bounds() (first, last uint64) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.last - uint64(r.held) + 1, r.last
}

// After returns the records with seq > after and ≤ upTo, oldest first, at
// most max of them (all when max ≤ 0), and the seq of the oldest record kept.
// If first > after+1, the records after..first-1 have left the ring: the
// caller reports them as a gap.
func (r *Ring) After(after, upTo uint64, max int) (recs []*Record, first uint64) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	first = r.last - uint64(r.held) + 1
	if upTo > r.last {
		upTo = r.last
	}
	from := after + 1
	if from < first {
		from = first
	}
	if from > upTo {
		return nil, first
	}
	n := upTo - from + 1
	if max > 0 && n > uint64(max) {
		n = uint64(max)
	}
	recs = make([]*Record, 0, n)
	size := uint64(len(r.buf))
	for seq := from; seq < from+n; seq++ {
		recs = append(recs, r.buf[seq%size])
	}
	return recs, first
}

// Tail returns the newest n records with seq ≤ upTo for which match is true
// (every record when match is nil), oldest first. It scans at most the
// whole ring.
func (r *Ring) Tail(n int, upTo uint64, match func(*Record) bool) []*Record {
	if n <= 0 {
		return nil
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if upTo > r.last {
		upTo = r.last
	}
	first := r.last - uint64(r.held) + 1
	size := uint64(len(r.buf))
	var rev []*Record
	for seq := upTo; seq >= first && seq > 0 && len(rev) < n; seq-- {
		rec := r.buf[seq%size]
		if match == nil || match(rec) {
			rev = append(rev, rec)
		}
	}
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	return rev
}
