package stats

import "time"

// Result is the answer to a Query, as GET /api/stats writes it.
type Result struct {
	// Window is the window asked for, as a Go duration ("1h0m0s" is
	// written "1h").
	Window string    `json:"window"`
	From   time.Time `json:"from"` // the window's start
	To     time.Time `json:"to"`   // now
	// Requests counts every record, parsed or not; Bytes sums their
	// bytes; ParseErrors counts those that did not parse. Exact.
	Requests    uint64 `json:"requests"`
	Bytes       uint64 `json:"bytes"`
	ParseErrors uint64 `json:"parse_errors"`
	// Status counts parsed records by status code ("200"); Errors by
	// class ("4xx", "5xx"). Exact.
	Status map[string]uint64 `json:"status"`
	Errors map[string]uint64 `json:"errors"`
	// Visitors is the number of distinct client addresses, within 2%.
	Visitors uint64 `json:"visitors"`
	// PerSecond is the request rate now: the requests of the last full
	// minute over 60.
	PerSecond float64 `json:"per_second"`
	Rate      Rate    `json:"rate"`
	// Top holds, per field, the most frequent values, most frequent
	// first. Keys: path, not_found (paths answered 404), host, referer,
	// site (the referring site: the referer's host), agent, browser, os,
	// country, vhost, source, node, method. A list is absent when no
	// record of the window has that field.
	Top map[string][]Count `json:"top"`
	// Slowest lists the paths that took the most time in all, with the
	// mean and the longest; absent when no record has a duration.
	Slowest []Slow `json:"slowest,omitempty"`
	// TopExact says whether every count in Top is exact (it is while the
	// window's records are held in detail, or a field has few enough
	// distinct values); otherwise each count may be over by a bounded
	// amount.
	TopExact bool `json:"top_exact"`
	// Duration summarises the server's time over the records that have
	// one; nil when none has.
	Duration *Duration `json:"duration,omitempty"`
	// Covers is set for a filtered query: the span of the window whose
	// records are held in detail, which is what the answer counts.
	Covers *Covers `json:"covers,omitempty"`
}

// Rate is the number of requests per bucket over the window, oldest
// first; the last bucket is the one now filling.
type Rate struct {
	Bucket string    `json:"bucket"` // "10s", "1m", "15m"
	Start  time.Time `json:"start"`  // the first bucket's start
	Counts []uint64  `json:"counts"`
	// Classes splits Counts by status class: "2xx", "3xx", "4xx",
	// "5xx", and "other" (1xx, and records that did not parse). Every
	// slice is as long as Counts.
	Classes map[string][]uint64 `json:"classes"`
}

// Count is one value of a top list.
type Count struct {
	Value string `json:"value"`
	Count uint64 `json:"count"`
}

// Slow is one path of Result.Slowest; times in seconds.
type Slow struct {
	Value string  `json:"value"`
	Count uint64  `json:"count"` // requests with a duration
	Total float64 `json:"total"`
	Mean  float64 `json:"mean"`
	Max   float64 `json:"max"`
}

// Duration is the server's time in seconds; quantiles within 1%.
type Duration struct {
	Count uint64  `json:"count"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
}

// Covers is the span a filtered answer counts.
type Covers struct {
	From    time.Time `json:"from"`
	Records uint64    `json:"records"` // records of that span held in detail, before the filter
}
