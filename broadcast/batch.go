package broadcast

import (
	"sort"
	"sync"
)

// Batch is the records of one flush, shared read-only by every subscriber
// that receives it. Its memo lets the transports encode it at most once per
// wire format however many subscribers write it: the first writer that
// needs a format builds it, the others reuse it.
type Batch struct {
	Records []*Record // ascending seqs, oldest first; never empty

	mu   sync.Mutex
	memo map[any]*memoEntry
}

type memoEntry struct {
	once sync.Once
	v    any
}

// NewBatch wraps records (ascending seqs, at least one). A live batch holds
// consecutive seqs; a history batch chosen by a filter may skip some.
func NewBatch(records []*Record) *Batch { return &Batch{Records: records} }

// First returns the seq of the oldest record.
func (b *Batch) First() uint64 { return b.Records[0].Seq }

// Last returns the seq of the newest record.
func (b *Batch) Last() uint64 { return b.Records[len(b.Records)-1].Seq }

// Memo returns the value built by build for key, calling build at most once
// per batch and key even when many goroutines ask at the same time. Keys
// are comparable values owned by the caller (an unexported type in the
// transport, say), so formats do not collide.
func (b *Batch) Memo(key any, build func(*Batch) any) any {
	b.mu.Lock()
	if b.memo == nil {
		b.memo = make(map[any]*memoEntry, 2)
	}
	e := b.memo[key]
	if e == nil {
		e = new(memoEntry)
		b.memo[key] = e
	}
	b.mu.Unlock()
	e.once.Do(func() { e.v = build(b) })
	return e.v
}

// since returns the part of b with seq > after, or nil if there is none. A
// cut batch is a new batch with its own memo.
func (b *Batch) since(after uint64) *Batch {
	switch {
	case b.First() > after:
		return b
	case b.Last() <= after:
		return nil
	}
	i := sort.Search(len(b.Records), func(i int) bool { return b.Records[i].Seq > after })
	return NewBatch(b.Records[i:])
}

// Gap is an inclusive range of seqs that a subscriber missed: dropped from
// its queue because it fell behind, or asked for as history after they had
// left the ring.
type Gap struct {
	From, To uint64
}

// Item is what a subscriber receives: a batch of records, or a gap when
// Batch is nil.
type Item struct {
	Batch *Batch
	Gap   Gap
}
