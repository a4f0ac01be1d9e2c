package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
)

// result is the report, as printed and as written by --json.
type result struct {
	Server          string  `json:"server"`
	Machine         string  `json:"machine"`
	Transport       string  `json:"transport"`
	Subs            int     `json:"subs"`
	Stalled         int     `json:"stalled,omitempty"` // extra subscribers that never read, not counted below
	Rate            float64 `json:"rate"`              // lines/s; 0 for a burst
	Burst           int64   `json:"burst,omitempty"`   // lines written as fast as possible
	DurationSeconds float64 `json:"duration_seconds"`
	WriteSeconds    float64 `json:"write_seconds"`
	LinesWritten    int64   `json:"lines_written"`

	Deliveries      int64   `json:"deliveries"`
	DeliveredMin    float64 `json:"delivered_min"`    // fraction, over subscribers
	DeliveredMedian float64 `json:"delivered_median"` // fraction, over subscribers
	SubsComplete    int     `json:"subs_complete"`    // subscribers that got every line
	Lost            int64   `json:"lost"`
	Duplicated      int64   `json:"duplicated"`
	Reordered       int64   `json:"reordered"`
	Gaps            int64   `json:"gaps"`
	Unexpected      int64   `json:"unexpected"`  // numbered lines beyond those written
	EndedEarly      int     `json:"ended_early"` // streams the server ended before the run did
	FirstError      string  `json:"first_error,omitempty"`

	Latency latency `json:"latency"`

	CPUSeconds      *float64 `json:"cpu_seconds,omitempty"`
	CPUCoreFraction *float64 `json:"cpu_core_fraction,omitempty"` // CPU seconds per second of the run
	PeakRSSBytes    *int64   `json:"peak_rss_bytes,omitempty"`

	// The load tool's own CPU over the same time: near 100% of its core,
	// the tool, not the server, may be what limits the figures.
	ToolCPUSeconds      *float64 `json:"tool_cpu_seconds,omitempty"`
	ToolCPUCoreFraction *float64 `json:"tool_cpu_core_fraction,omitempty"`

	// A burst's ingest: from the first write to the first delivery of
	// the last line (its loss, if any, is in the figures above).
	IngestSeconds        *float64 `json:"ingest_seconds,omitempty"`
	IngestLinesPerSecond *float64 `json:"ingest_lines_per_second,omitempty"`

	Idle *idleResult `json:"idle,omitempty"`

	PerTransport []transportResult `json:"per_transport"`
}

type latency struct {
	Count uint64  `json:"count"`
	P50Ms float64 `json:"p50_ms"`
	P90Ms float64 `json:"p90_ms"`
	P99Ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
}

type transportResult struct {
	Transport       string  `json:"transport"`
	Subs            int     `json:"subs"`
	DeliveredMin    float64 `json:"delivered_min"`
	DeliveredMedian float64 `json:"delivered_median"`
	Lost            int64   `json:"lost"`
	Duplicated      int64   `json:"duplicated"`
	Reordered       int64   `json:"reordered"`
	Gaps            int64   `json:"gaps"`
	EndedEarly      int     `json:"ended_early"`
}

type idleResult struct {
	Subs        int     `json:"subs"`
	Transport   string  `json:"transport"`
	RSSBefore   int64   `json:"rss_before_bytes"`
	RSSAfter    int64   `json:"rss_after_bytes"`
	BytesPerSub float64 `json:"bytes_per_sub"` // RSS growth per subscriber
	// PSS of the tree (shared pages divided among the processes that map
	// them), when /proc/<pid>/smaps_rollup can be read.
	PSSBefore      int64    `json:"pss_before_bytes,omitempty"`
	PSSAfter       int64    `json:"pss_after_bytes,omitempty"`
	PSSBytesPerSub *float64 `json:"pss_bytes_per_sub,omitempty"`
}

// fill computes the delivery figures once every read loop has returned.
func (r *result) fill(subs []*sub, early []bool, h *histogram) {
	byTr := map[string][]float64{}
	trRes := map[string]*transportResult{}
	var all []float64
	for i, s := range subs {
		d := s.delivered.Load()
		frac := 1.0
		if r.LinesWritten > 0 {
			frac = float64(d) / float64(r.LinesWritten)
		}
		all = append(all, frac)
		byTr[s.transport] = append(byTr[s.transport], frac)
		t := trRes[s.transport]
		if t == nil {
			t = &transportResult{Transport: s.transport}
			trRes[s.transport] = t
		}
		t.Subs++
		lost := r.LinesWritten - d
		t.Lost += lost
		t.Duplicated += s.dups
		t.Reordered += s.reordered
		t.Gaps += s.gaps
		r.Deliveries += d
		r.Lost += lost
		r.Duplicated += s.dups
		r.Reordered += s.reordered
		r.Gaps += s.gaps
		r.Unexpected += s.unexpected
		if lost == 0 {
			r.SubsComplete++
		}
		if early[i] {
			r.EndedEarly++
			t.EndedEarly++
			if r.FirstError == "" && s.err != nil {
				r.FirstError = fmt.Sprintf("subscriber %d (%s): %v", s.id, s.transport, s.err)
			}
		}
	}
	r.DeliveredMin, r.DeliveredMedian = minMedian(all)
	for _, tr := range transports {
		if t := trRes[tr]; t != nil {
			t.DeliveredMin, t.DeliveredMedian = minMedian(byTr[tr])
			r.PerTransport = append(r.PerTransport, *t)
		}
	}
	ps, n := h.percentiles(0.50, 0.90, 0.99, 1)
	ms := func(ns int64) float64 { return float64(ns) / 1e6 }
	r.Latency = latency{Count: n, P50Ms: ms(ps[0]), P90Ms: ms(ps[1]), P99Ms: ms(ps[2]), MaxMs: ms(h.max.Load())}
}

func minMedian(v []float64) (float64, float64) {
	if len(v) == 0 {
		return 0, 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	return v[0], v[len(v)/2]
}

func printTable(w io.Writer, r *result) {
	what := fmt.Sprintf("%g lines/s for %gs", r.Rate, r.DurationSeconds)
	if r.Burst > 0 {
		what = fmt.Sprintf("a burst of %d lines", r.Burst)
	}
	stalled := ""
	if r.Stalled > 0 {
		stalled = fmt.Sprintf(" (+ %d stalled)", r.Stalled)
	}
	if r.Subs == 0 {
		fmt.Fprintf(w, "%s: idle memory only\n\n", r.Server)
	} else {
		fmt.Fprintf(w, "%s: %d × %s subscribers%s, %s\n\n", r.Server, r.Subs, r.Transport, stalled, what)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if r.Subs > 0 {
		fmt.Fprintf(tw, "lines written\t%d in %.2fs\n", r.LinesWritten, r.WriteSeconds)
		fmt.Fprintf(tw, "delivered\tmin %.1f%%, median %.1f%% (%d of %d subscribers got every line)\n",
			100*r.DeliveredMin, 100*r.DeliveredMedian, r.SubsComplete, r.Subs)
		fmt.Fprintf(tw, "lost / duplicated / reordered\t%d / %d / %d (gap markers %d, streams ended early %d)\n",
			r.Lost, r.Duplicated, r.Reordered, r.Gaps, r.EndedEarly)
		fmt.Fprintf(tw, "latency p50 / p90 / p99 / max\t%s / %s / %s / %s (%d deliveries)\n",
			msStr(r.Latency.P50Ms), msStr(r.Latency.P90Ms), msStr(r.Latency.P99Ms), msStr(r.Latency.MaxMs), r.Latency.Count)
		if r.Burst > 0 {
			if r.IngestLinesPerSecond != nil {
				fmt.Fprintf(tw, "ingest\t%.0f lines/s (%d lines, from the first write to the last line's first delivery in %.2f s)\n",
					*r.IngestLinesPerSecond, r.LinesWritten, *r.IngestSeconds)
			} else {
				fmt.Fprintf(tw, "ingest\tunknown: no subscriber got the last line\n")
			}
		}
		if r.CPUSeconds != nil {
			fmt.Fprintf(tw, "server CPU\t%.2f s (%.1f%% of a core)\n", *r.CPUSeconds, 100**r.CPUCoreFraction)
		} else {
			fmt.Fprintf(tw, "server CPU\tunknown (give --target-pid)\n")
		}
		if r.ToolCPUSeconds != nil {
			fmt.Fprintf(tw, "load tool CPU\t%.2f s (%.1f%% of a core)\n", *r.ToolCPUSeconds, 100**r.ToolCPUCoreFraction)
		}
	}
	if r.PeakRSSBytes != nil {
		fmt.Fprintf(tw, "server peak RSS\t%.1f MiB (process tree)\n", float64(*r.PeakRSSBytes)/(1<<20))
	}
	if r.Idle != nil {
		pss := ""
		if r.Idle.PSSBytesPerSub != nil {
			pss = fmt.Sprintf(", PSS %.1f KiB", *r.Idle.PSSBytesPerSub/1024)
		}
		fmt.Fprintf(tw, "idle memory per subscriber\tRSS %.1f KiB%s (%d idle %s subscribers)\n", r.Idle.BytesPerSub/1024, pss, r.Idle.Subs, r.Idle.Transport)
	}
	tw.Flush()
	if r.FirstError != "" {
		fmt.Fprintf(w, "first early end: %s\n", r.FirstError)
	}
	if r.ToolCPUCoreFraction != nil && *r.ToolCPUCoreFraction >= toolBusy {
		fmt.Fprintf(w, "note: the load tool used %.0f%% of a core: it, not the server, may have limited these figures\n", 100**r.ToolCPUCoreFraction)
	}
	if len(r.PerTransport) > 1 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "transport\tsubs\tdelivered min\tmedian\tlost\tdup\treordered\tgaps\tended early\t")
		for _, t := range r.PerTransport {
			fmt.Fprintf(tw, "%s\t%d\t%.1f%%\t%.1f%%\t%d\t%d\t%d\t%d\t%d\t\n", t.Transport, t.Subs,
				100*t.DeliveredMin, 100*t.DeliveredMedian, t.Lost, t.Duplicated, t.Reordered, t.Gaps, t.EndedEarly)
		}
		tw.Flush()
	}
}

func msStr(ms float64) string {
	switch {
	case ms >= 1000:
		return fmt.Sprintf("%.2f s", ms/1000)
	case ms >= 10:
		return fmt.Sprintf("%.0f ms", ms)
	default:
		return fmt.Sprintf("%.2f ms", ms)
	}
}

// machine names the machine for the report: CPU model and count.
func machine() string {
	model := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				model = strings.TrimSpace(strings.TrimLeft(v, " \t:"))
				break
			}
		}
	}
	return fmt.Sprintf("%s, %d CPUs, %s/%s", model, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH)
}
