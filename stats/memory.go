package stats

import "unsafe"

// Worst cases of the sketches, by their construction: a visitor sketch
// holds at most 2^14 sparse entries of up to 4 bytes (then turns into
// 2^14 one-byte registers); a duration sketch at most durBins bins of 8
// bytes, its store growing by at most as much again.
const (
	hllMax = 4<<hllPrecision + 4<<10
	durMax = 2 * durBins * 8
	// entryOverhead is an entry of a summary beside its value: the entry,
	// its heap slot, and its map slot at the lowest load.
	entryOverhead = int64(unsafe.Sizeof(entry{})) + 4 + 64
	// statusCodes is how many codes a minute can count (100 to 999).
	statusCodes = 900
)

// MemoryBound returns the most memory, in bytes, statistics built with c
// can take, whatever the records (the records held in detail are counted
// as if detail alone held them, though the hub's ring shares them):
//
//	detail        DetailBytes × 9/8 (allocation rounding)
//	minutes       (Window/1m + 2) × (minute + 900 status codes × 8 B)
//	sketches      (6h/1m + 2 + Window/1h + 2) × (visitors 68 KiB + durations 16 KiB)
//	summaries     (Window/1h + 2) × SummaryCap × Σ over the 13 fields and the
//	              slowest paths of (entry overhead + longest value)
//	names         2 × 4096 × (agent + families, address + country)
//	queue         2 × maxPending × 16 B
func MemoryBound(c Config) int64 {
	c = defaults(c)
	nm := int64(c.Window/minuteDur) + 2
	nh := int64((c.Window+hourDur-1)/hourDur) + 2
	var b int64
	if c.DetailBytes > 0 {
		b += c.DetailBytes / 8 * 9
	}
	b += nm * (int64(unsafe.Sizeof(minute{})) + statusCodes*int64(unsafe.Sizeof(codeCount{})))
	b += (int64(fineSlots) + nh) * (hllMax + durMax + int64(unsafe.Sizeof(sketches{})))
	per := entryOverhead + MaxValue // the slowest paths
	for _, l := range valueLimit {
		per += entryOverhead + int64(l)
	}
	b += nh * (SummaryCap*per + int64(unsafe.Sizeof(hour{})))
	b += 2 * namesCap * (2*entryOverhead + MaxValue + 2*int64(valueLimit[fBrowser]) + int64(valueLimit[fHost]+valueLimit[fCountry]))
	b += 2 * maxPending * int64(unsafe.Sizeof(pend{}))
	b += tens * int64(unsafe.Sizeof(ten{}))
	return b
}
