package main

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// Latencies go into a log-linear histogram: 16 buckets per power of two
// (at most 1/16 ≈ 6% relative error), from 1 ns to 2^40 ns (18 minutes,
// past any run). Fixed size, so memory does not grow with deliveries.
const (
	histSub     = 16 // buckets per power of two
	histSubBits = 4  // log2(histSub)
	histPowers  = 41
	histBuckets = histPowers * histSub
	// histShards spreads atomic adds from thousands of subscriber
	// goroutines over separate histograms, so they do not all contend on
	// the same cache lines; 64 × 656 × 8 bytes is 336 KiB.
	histShards = 64
)

type histogram struct {
	shards [histShards][histBuckets]atomic.Uint64
	max    atomic.Int64
}

func bucketOf(ns int64) int {
	if ns < histSub {
		if ns < 0 {
			return 0
		}
		return int(ns)
	}
	p := bits.Len64(uint64(ns)) - 1 // ns in [2^p, 2^(p+1))
	mant := int(uint64(ns)>>(p-histSubBits)) & (histSub - 1)
	i := (p-histSubBits+1)*histSub + mant
	if i >= histBuckets {
		return histBuckets - 1
	}
	return i
}

// bucketUpper is the largest value bucket i holds, what a percentile reports
// (so the figure never flatters).
func bucketUpper(i int) int64 {
	if i < histSub {
		return int64(i)
	}
	p := i/histSub + histSubBits - 1
	mant := int64(i % histSub)
	lo := int64(1)<<p + mant<<(p-histSubBits)
	return lo + int64(1)<<(p-histSubBits) - 1
}

func (h *histogram) add(shard int, d time.Duration) {
	h.count(shard, int64(d))
	h.noteMax(int64(d))
}

// count adds one sample of ns nanoseconds to the histogram without
// touching the maximum (see noteMax).
func (h *histogram) count(shard int, ns int64) {
	h.shards[shard%histShards][bucketOf(ns)].Add(1)
}

// noteMax raises the recorded maximum to ns; callers pass the largest of
// the samples they counted together.
func (h *histogram) noteMax(ns int64) {
	for {
		m := h.max.Load()
		if ns <= m || h.max.CompareAndSwap(m, ns) {
			return
		}
	}
}

// percentiles returns the given quantiles (0..1) in nanoseconds, and the
// count; all zero without data.
func (h *histogram) percentiles(qs ...float64) ([]int64, uint64) {
	var merged [histBuckets]uint64
	var n uint64
	for s := range h.shards {
		for i := range merged {
			c := h.shards[s][i].Load()
			merged[i] += c
			n += c
		}
	}
	out := make([]int64, len(qs))
	if n == 0 {
		return out, 0
	}
	for k, q := range qs {
		rank := uint64(math.Ceil(q * float64(n)))
		if rank == 0 {
			rank = 1
		}
		var cum uint64
		for i, c := range merged {
			cum += c
			if cum >= rank {
				out[k] = min(bucketUpper(i), h.max.Load())
				break
			}
		}
	}
	return out, n
}
