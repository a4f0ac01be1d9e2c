package feed

import (
	"context"
	"sync"
	"time"
)

// ingestRates holds a token bucket per ingest token (Grant.Key): each
// token may send rate lines a second, and a second's worth at once. A
// line over the rate is never dropped: its request waits for the bucket,
// and so, through TCP, does the client. A nil ingestRates has no limit.
type ingestRates struct {
	rate float64 // lines per second

	mu      sync.Mutex
	buckets map[string]*rateBucket
}

func newIngestRates(rate int) *ingestRates {
	if rate <= 0 {
		return nil
	}
	return &ingestRates{rate: float64(rate), buckets: map[string]*rateBucket{}}
}

// bucket returns key's bucket; nil without a limit. Buckets are few (one
// per token of the file) and kept while the server runs.
func (ir *ingestRates) bucket(key string) *rateBucket {
	if ir == nil {
		return nil
	}
	ir.mu.Lock()
	defer ir.mu.Unlock()
	b := ir.buckets[key]
	if b == nil {
		b = &rateBucket{rate: ir.rate, burst: ir.rate, level: ir.rate, at: time.Now()}
		ir.buckets[key] = b
	}
	return b
}

// rateBucket is one token's bucket, shared by its requests.
type rateBucket struct {
	rate, burst float64

	mu    sync.Mutex
	level float64 // lines that may go now; negative: owed
	at    time.Time
}

// take reserves a block of lines (a hundredth of a second's worth, at
// most 256, so that a busy request takes the lock a few hundred times a
// second at most), waits until the bucket has them, and returns how many
// it took; an error only if ctx ends first.
func (b *rateBucket) take(ctx context.Context) (int, error) {
	n := int(min(max(b.rate/100, 1), 256))
	b.mu.Lock()
	now := time.Now()
	b.level = min(b.level+now.Sub(b.at).Seconds()*b.rate, b.burst)
	b.at = now
	b.level -= float64(n)
	wait := time.Duration(0)
	if b.level < 0 {
		wait = time.Duration(-b.level / b.rate * float64(time.Second))
	}
	b.mu.Unlock()
	if wait <= 0 {
		return n, nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return n, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}
