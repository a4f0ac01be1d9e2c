package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// maxSuiteSubs is the most subscribers one scenario of the suite opens.
const maxSuiteSubs = 10000

// toolBusy is the share of its core above which the tool says it may have
// been what limited a run.
const toolBusy = 0.9

// defaultSuiteIdle is how many idle subscribers the idle-memory rows open
// unless --idle-subs says.
const defaultSuiteIdle = 1000

// scenario is one row of the suite.
type scenario struct {
	key   string
	title string
	// kind is the subscriber kind; "" is the server's WebSocket kind
	// (ws for weblogd, the peer's own kind for a peer).
	kind        string
	subs        int
	rate        float64
	idle        bool // idle memory only
	stalled     int
	burst       int64
	longer      int // runs this many times --duration (0: once)
	weblogdOnly bool
	floor       bool   // also measure what its writes alone cost here (floor.go)
	baseline    string // the row this one is compared with
	target      string // weblogd's target for this row, as words
	check       func(c *cell, s *suiteRun) (bool, bool)
}

// standardSuite is the table every server runs, weblogd and its peers side
// by side, then rows for weblogd alone with its own targets
// (docs/performance.md).
var standardSuite = []scenario{
	{key: "1x100", title: "1 subscriber, 100 lines/s", subs: 1, rate: 100,
		target: "p50 ≤ 0.5 ms, p99 ≤ the best peer's",
		check: func(c *cell, s *suiteRun) (bool, bool) {
			if c.p50.med > 0.5 {
				return false, true
			}
			best, ok := s.bestPeerP99("1x100")
			return c.p99.med <= best, ok
		}},
	{key: "100x100", title: "100 subscribers, 100 lines/s", subs: 100, rate: 100,
		target: "p99 ≤ the best peer's",
		check: func(c *cell, s *suiteRun) (bool, bool) {
			best, ok := s.bestPeerP99("100x100")
			return c.p99.med <= best, ok
		}},
	{key: "100x1000", title: "100 subscribers, 1,000 lines/s", subs: 100, rate: 1000,
		target: "p99 ≤ 20 ms, CPU < 10%",
		check: func(c *cell, s *suiteRun) (bool, bool) {
			return c.p99.med <= 20 && c.cpu.med < 0.10, true
		}},
	{key: "1000x100", title: "1,000 subscribers, 100 lines/s", subs: 1000, rate: 100},
	{key: "1000x1000", title: "1,000 subscribers, 1,000 lines/s", subs: 1000, rate: 1000, floor: true,
		target: "every line, p99 ≤ 60 ms, CPU < 25%, RSS < 64 MiB",
		check: func(c *cell, s *suiteRun) (bool, bool) {
			return c.complete() && c.p99.med <= 60 && c.cpu.med < 0.25 && c.rss.med < 64<<20, true
		}},
	{key: "idle-ws", title: "idle memory per WebSocket subscriber", idle: true,
		target: "≤ 8 KiB",
		check:  func(c *cell, s *suiteRun) (bool, bool) { return c.idleRSS.med <= 8<<10, true }},
	{key: "idle-tcp", title: "idle memory per raw TCP subscriber", kind: "tcp", idle: true, weblogdOnly: true,
		target: "≤ 4 KiB",
		check:  func(c *cell, s *suiteRun) (bool, bool) { return c.idleRSS.med <= 4<<10, true }},
	{key: "10000x100", title: "10,000 subscribers, 100 lines/s", subs: 10000, rate: 100, weblogdOnly: true, floor: true,
		target: "every line, p99 ≤ 150 ms, RSS < 200 MiB",
		check: func(c *cell, s *suiteRun) (bool, bool) {
			return c.complete() && c.p99.med <= 150 && c.rss.med < 200<<20, true
		}},
	{key: "mixed4-10000x100", title: "2,500 × tcp, hits, sse, ws, 100 lines/s", kind: "mixed4", subs: 10000, rate: 100, weblogdOnly: true,
		target: "no loss",
		check:  func(c *cell, s *suiteRun) (bool, bool) { return c.complete(), true }},
	{key: "burst", title: "ingest: a burst of 1,000,000 lines, 1 subscriber", subs: 1, burst: 1_000_000, weblogdOnly: true,
		target: "every line, ≥ 300,000 lines/s",
		check: func(c *cell, s *suiteRun) (bool, bool) {
			return c.complete() && c.ingest.med >= 300_000, true
		}},
	// Twice as long: loopback's send buffer (megabytes, autotuned) takes
	// the stalled subscriber's first seconds before the server feels it.
	{key: "stalled", title: "100 subscribers + 1 stalled, 1,000 lines/s", subs: 100, rate: 1000, stalled: 1, longer: 2, weblogdOnly: true,
		baseline: "100x1000", target: "p99 within 10% of without (100 × 1,000 row)",
		check: func(c *cell, s *suiteRun) (bool, bool) {
			b := s.cells[cellKey{"100x1000", "weblogd"}]
			if b == nil || b.ok == 0 {
				return false, false
			}
			return math.Abs(c.p99.med-b.p99.med) <= 0.10*b.p99.med, true
		}},
}

// serverSpec is one column of the suite.
type serverSpec struct {
	name    string
	cmd     string
	kind    string // the WebSocket kind of its rows
	path    string // its WebSocket path; "" for the kind's default
	weblogd bool
}

type cellKey struct{ scenario, server string }

// stat is a metric over the runs of a cell.
type stat struct {
	min, med, max float64
	n             int
}

func (s stat) MarshalJSON() ([]byte, error) {
	if s.n == 0 {
		return []byte("null"), nil
	}
	return json.Marshal(map[string]any{"min": s.min, "median": s.med, "max": s.max, "runs": s.n})
}

func statOf(v []float64) stat {
	if len(v) == 0 {
		return stat{}
	}
	v = slices.Clone(v)
	slices.Sort(v)
	med := v[len(v)/2]
	if len(v)%2 == 0 {
		med = (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return stat{min: v[0], med: med, max: v[len(v)-1], n: len(v)}
}

// cell is one scenario on one server: its runs and their statistics.
type cell struct {
	Scenario string    `json:"scenario"`
	Server   string    `json:"server"`
	Results  []*result `json:"results"`
	Errors   []string  `json:"errors,omitempty"`
	// Stats are over the runs that completed: p50_ms, p99_ms, delivered (of lines
	// × subscribers), cpu (fraction of a core), peak_rss_bytes,
	// tool_cpu, idle_rss_bytes, idle_pss_bytes (per subscriber),
	// ingest_lines_per_second.
	Stats map[string]stat `json:"stats"`

	ok                                  int
	p50, p99, delivered, cpu, rss       stat
	toolCPU                             stat
	idleRSS, idlePSS, ingest, deliverMn stat
	allComplete                         bool
}

// complete tells whether every run delivered every line to every
// subscriber, with no duplicate, gap or reordering.
func (c *cell) complete() bool { return c.ok > 0 && c.ok == len(c.Results) && c.allComplete }

func (c *cell) compute() {
	var p50, p99, del, delMin, cpu, rss, tool, irss, ipss, ingest []float64
	c.allComplete = true
	c.ok = 0
	for _, r := range c.Results {
		if r == nil {
			continue
		}
		c.ok++
		if r.Idle != nil {
			irss = append(irss, r.Idle.BytesPerSub)
			if r.Idle.PSSBytesPerSub != nil {
				ipss = append(ipss, *r.Idle.PSSBytesPerSub)
			}
		}
		if r.Subs == 0 {
			continue
		}
		p50, p99 = append(p50, r.Latency.P50Ms), append(p99, r.Latency.P99Ms)
		if want := r.LinesWritten * int64(r.Subs); want > 0 {
			del = append(del, float64(r.Deliveries)/float64(want))
		}
		delMin = append(delMin, r.DeliveredMin)
		if r.CPUCoreFraction != nil {
			cpu = append(cpu, *r.CPUCoreFraction)
		}
		if r.PeakRSSBytes != nil {
			rss = append(rss, float64(*r.PeakRSSBytes))
		}
		if r.ToolCPUCoreFraction != nil {
			tool = append(tool, *r.ToolCPUCoreFraction)
		}
		if r.IngestLinesPerSecond != nil {
			ingest = append(ingest, *r.IngestLinesPerSecond)
		} else if r.Burst > 0 {
			ingest = append(ingest, 0)
		}
		if r.Lost != 0 || r.Duplicated != 0 || r.Reordered != 0 || r.Gaps != 0 || r.Unexpected != 0 || r.EndedEarly != 0 {
			c.allComplete = false
		}
	}
	c.p50, c.p99, c.delivered, c.deliverMn, c.cpu, c.rss, c.toolCPU = statOf(p50), statOf(p99), statOf(del), statOf(delMin), statOf(cpu), statOf(rss), statOf(tool)
	c.idleRSS, c.idlePSS, c.ingest = statOf(irss), statOf(ipss), statOf(ingest)
	c.Stats = map[string]stat{"p50_ms": c.p50, "p99_ms": c.p99, "delivered": c.delivered, "delivered_min": c.deliverMn, "cpu": c.cpu,
		"peak_rss_bytes": c.rss, "tool_cpu": c.toolCPU, "idle_rss_bytes": c.idleRSS, "idle_pss_bytes": c.idlePSS,
		"ingest_lines_per_second": c.ingest}
}

// suiteRun is a suite being run: its servers, scenarios and cells.
type suiteRun struct {
	servers   []serverSpec
	scenarios []scenario
	cells     map[cellKey]*cell
	floors    map[string][]*floorResult // by scenario key
	floorErrs []string                  // floor runs that failed, for the notes
	runs      int
	tickMs    float64
}

// bestPeerP99 is the lowest median p99 of the peers in row key; false
// when no peer ran it. A peer of kind ws speaks weblogd's own messages: it
// is another build of weblogd (the one before a change), not a peer to
// beat.
func (s *suiteRun) bestPeerP99(key string) (float64, bool) {
	best := math.Inf(1)
	for _, srv := range s.servers {
		if c := s.cells[cellKey{key, srv.name}]; !srv.weblogd && srv.kind != "ws" && c != nil && c.p99.n > 0 {
			best = min(best, c.p99.med)
		}
	}
	return best, !math.IsInf(best, 1)
}

var tickFlag = regexp.MustCompile(`--?tick[= ](\S+)`)

func listSuite(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "key\tscenario\tservers\ttarget (weblogd)")
	for _, sc := range standardSuite {
		who := "weblogd and peers"
		if sc.weblogdOnly {
			who = "weblogd"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", sc.key, sc.title, who, sc.target)
	}
	tw.Flush()
}

// selectRows keeps the scenarios whose key contains one of the
// comma-separated strings of rows (all when rows is empty), and the rows
// they are compared with.
func selectRows(all []scenario, rows string) []scenario {
	if rows == "" {
		return all
	}
	want := map[string]bool{}
	for _, sc := range all {
		for _, r := range strings.Split(rows, ",") {
			if r = strings.TrimSpace(r); r != "" && strings.Contains(sc.key, r) {
				want[sc.key] = true
				if sc.baseline != "" {
					want[sc.baseline] = true
				}
			}
		}
	}
	var out []scenario
	for _, sc := range all {
		if want[sc.key] {
			out = append(out, sc)
		}
	}
	return out
}

// options builds one run's options from the suite's.
func (sc scenario) options(base *options, srv serverSpec) (*options, error) {
	o := *base
	o.suite, o.jsonPath, o.cpuProfile, o.quiet = "", "", "", true
	o.peers = nil
	o.serverCmd = srv.cmd
	o.transport = sc.kind
	if o.transport == "" {
		o.transport = srv.kind
	}
	o.wsPath = srv.path
	o.subs, o.rate, o.stalled, o.burst, o.idleSubs = sc.subs, sc.rate, sc.stalled, sc.burst, 0
	if sc.longer > 1 {
		o.duration = min(o.duration*time.Duration(sc.longer), maxDuration*time.Second)
	}
	if o.rate == 0 {
		o.rate = 100
	}
	if sc.idle {
		o.subs, o.idleSubs = 0, base.idleSubs
		if o.idleSubs == 0 {
			o.idleSubs = defaultSuiteIdle
		}
	}
	if err := o.check(); err != nil {
		return nil, err
	}
	return &o, nil
}

func runSuite(ctx context.Context, o *options, stdout, stderr io.Writer) int {
	s := &suiteRun{cells: map[cellKey]*cell{}, floors: map[string][]*floorResult{}, runs: o.runs, tickMs: 50,
		scenarios: selectRows(standardSuite, o.rows)}
	if m := tickFlag.FindStringSubmatch(o.serverCmd); m != nil {
		if d, err := time.ParseDuration(m[1]); err == nil {
			s.tickMs = float64(d) / 1e6
		}
	}
	if len(s.scenarios) == 0 {
		fmt.Fprintf(stderr, "weblogbench: --rows %q matches no scenario (see --suite list)\n", o.rows)
		return 2
	}
	s.servers = []serverSpec{{name: "weblogd", cmd: o.serverCmd, kind: "ws", weblogd: true}}
	for _, p := range o.peers {
		s.servers = append(s.servers, serverSpec{name: p.name, cmd: p.cmd, kind: p.kind, path: p.path})
	}
	type job struct {
		sc  scenario
		srv serverSpec
		o   *options
	}
	var jobs []job
	for _, sc := range s.scenarios {
		for _, srv := range s.servers {
			if sc.weblogdOnly && !srv.weblogd {
				continue
			}
			ro, err := sc.options(o, srv)
			if err != nil {
				fmt.Fprintf(stderr, "weblogbench: scenario %s on %s: %v\n", sc.key, srv.name, err)
				return 2
			}
			jobs = append(jobs, job{sc, srv, ro})
			s.cells[cellKey{sc.key, srv.name}] = &cell{Scenario: sc.key, Server: srv.name}
		}
	}
	var floors []scenario
	for _, sc := range s.scenarios {
		if sc.floor {
			floors = append(floors, sc)
		}
	}
	total := (len(jobs) + len(floors)) * o.runs
	pin := "not pinned"
	if o.pinServer >= 0 || o.pinLoad >= 0 {
		pin = fmt.Sprintf("server on CPU %d, load tool on CPU %d", o.pinServer, o.pinLoad)
	}
	fmt.Fprintf(stderr, "suite standard: %d scenarios × servers, %d runs each (%d runs of %v), %s\n",
		len(jobs), o.runs, total, o.duration, pin)
	started := time.Now()
	k := 0
	// Run by run, every row and server in turn: a disturbance of the
	// shared machine then touches one run of several cells rather than
	// every run of one.
	for run := 1; run <= o.runs; run++ {
		for _, j := range jobs {
			k++
			if ctx.Err() != nil {
				fmt.Fprintf(stderr, "weblogbench: interrupted\n")
				return 1
			}
			t0 := time.Now()
			res, err := bench(ctx, j.o, io.Discard)
			c := s.cells[cellKey{j.sc.key, j.srv.name}]
			c.Results = append(c.Results, res)
			line := ""
			if err != nil {
				c.Errors = append(c.Errors, fmt.Sprintf("run %d: %v", run, err))
				line = "failed: " + firstLine(err.Error())
			} else {
				line = summary(res)
			}
			fmt.Fprintf(stderr, "[%d/%d] %s · %s · run %d/%d: %s (%.0f s)\n", k, total, j.srv.name, j.sc.title, run, o.runs,
				line, time.Since(t0).Seconds())
		}
		for _, sc := range floors {
			k++
			if ctx.Err() != nil {
				fmt.Fprintf(stderr, "weblogbench: interrupted\n")
				return 1
			}
			t0 := time.Now()
			tick := time.Duration(s.tickMs * 1e6)
			r, err := measureFloor(ctx, sc.subs, floorBytes(sc.rate, tick), tick, o.duration, o.pinServer, o.timerSlack)
			line := ""
			if err != nil {
				line = "failed: " + firstLine(err.Error())
				s.floorErrs = append(s.floorErrs, fmt.Sprintf("floor · %s · run %d: %s", sc.title, run, line))
			} else {
				s.floors[sc.key] = append(s.floors[sc.key], r)
				line = r.String()
			}
			fmt.Fprintf(stderr, "[%d/%d] floor · %s · run %d/%d: %s (%.0f s)\n", k, total, sc.title, run, o.runs, line, time.Since(t0).Seconds())
		}
	}
	for _, c := range s.cells {
		c.compute()
	}
	s.print(stdout, o, time.Since(started))
	if o.jsonPath != "" {
		var cells []*cell
		for _, sc := range s.scenarios {
			for _, srv := range s.servers {
				if c := s.cells[cellKey{sc.key, srv.name}]; c != nil {
					cells = append(cells, c)
				}
			}
		}
		out := map[string]any{"suite": "standard", "runs": o.runs, "machine": machine(), "duration_seconds": o.duration.Seconds(),
			"pin_server": o.pinServer, "pin_load": o.pinLoad, "cells": cells, "floors": s.floors}
		if err := writeJSON(o.jsonPath, out); err != nil {
			fmt.Fprintf(stderr, "weblogbench: %v\n", err)
			return 1
		}
	}
	return 0
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// summary is one run in a line, for progress.
func summary(r *result) string {
	if r.Subs == 0 && r.Idle != nil {
		return "idle " + idleStr(r.Idle.BytesPerSub, r.Idle.PSSBytesPerSub)
	}
	s := fmt.Sprintf("p50 %s, p99 %s, %s delivered", msStr(r.Latency.P50Ms), msStr(r.Latency.P99Ms), pct(float64(r.Deliveries)/float64(max(1, r.LinesWritten*int64(r.Subs)))))
	if r.IngestLinesPerSecond != nil {
		s += fmt.Sprintf(", ingest %s lines/s", thousands(*r.IngestLinesPerSecond))
	}
	if r.CPUCoreFraction != nil {
		s += fmt.Sprintf(", CPU %s", pct(*r.CPUCoreFraction))
	}
	if r.PeakRSSBytes != nil {
		s += ", RSS " + bytesStr(float64(*r.PeakRSSBytes))
	}
	if r.ToolCPUCoreFraction != nil {
		s += fmt.Sprintf(", tool CPU %s", pct(*r.ToolCPUCoreFraction))
	}
	if r.Lost+r.Duplicated+r.Reordered+r.Gaps+int64(r.EndedEarly) > 0 {
		s += fmt.Sprintf(", lost %d dup %d reordered %d gaps %d ended early %d", r.Lost, r.Duplicated, r.Reordered, r.Gaps, r.EndedEarly)
	}
	return s
}

func (s *suiteRun) print(w io.Writer, o *options, took time.Duration) {
	fmt.Fprintf(w, "weblogbench suite standard: %s\n", machine())
	fmt.Fprintf(w, "%d run(s) per cell, %v of lines per run, grace %v; ", o.runs, o.duration, o.grace)
	if o.pinServer >= 0 || o.pinLoad >= 0 {
		fmt.Fprintf(w, "server pinned to CPU %d, load tool to CPU %d; ", o.pinServer, o.pinLoad)
	}
	fmt.Fprintf(w, "servers' timer slack %v; ", o.timerSlack)
	fmt.Fprintf(w, "took %v\n", took.Round(time.Second))
	for _, srv := range s.servers {
		fmt.Fprintf(w, "  %s (%s subscribers): %s\n", srv.name, srv.kind, srv.cmd)
	}
	fmt.Fprintln(w, "\nCells are medians over the runs: p50 and p99 latency (write to receipt) · lines delivered (of lines × subscribers) · server CPU (% of one core, whole process tree) · server peak RSS (whole tree). Idle rows: memory growth per idle subscriber, RSS (PSS).")

	// Side by side: the rows every server runs.
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := "scenario"
	for _, srv := range s.servers {
		head += "\t" + srv.name
	}
	fmt.Fprintln(tw, head+"\t")
	for _, sc := range s.scenarios {
		if sc.weblogdOnly && len(s.servers) > 1 && sc.key != "idle-tcp" {
			continue
		}
		line := sc.title
		for _, srv := range s.servers {
			line += "\t" + s.cellStr(sc, srv, false)
		}
		fmt.Fprintln(tw, line+"\t")
	}
	tw.Flush()

	// weblogd's targets.
	fmt.Fprintln(w, "\nweblogd against its targets (medians):")
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tweblogd\ttarget\tmet\t")
	for _, sc := range s.scenarios {
		if sc.target == "" && !sc.weblogdOnly {
			continue
		}
		c := s.cells[cellKey{sc.key, "weblogd"}]
		met := "-"
		if c != nil && c.ok > 0 && sc.check != nil {
			if ok, known := sc.check(c, s); !known {
				met = "?"
			} else if ok {
				met = "yes"
			} else {
				met = "NO"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", sc.title, s.cellStr(sc, s.servers[0], false), sc.target, met)
	}
	tw.Flush()

	// Ranges.
	if s.runs > 1 {
		fmt.Fprintln(w, "\nMinimum–maximum over the runs (same order):")
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, head+"\t")
		for _, sc := range s.scenarios {
			line := sc.title
			for _, srv := range s.servers {
				line += "\t" + s.cellStr(sc, srv, true)
			}
			fmt.Fprintln(tw, line+"\t")
		}
		tw.Flush()
	}

	// The floor.
	if len(s.floors) > 0 {
		fmt.Fprintln(w, "\nThe floor: what the writes alone cost here. No server: a process pinned like one writes a message the size of weblogd's to every connection once a tick, and the tool reads them; its lines' latency is theirs had they come evenly over the tick before (medians, min–max):")
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "writes of the row	writes	writer CPU	per write	ticks begun a tick late	lines p50	lines p99	")
		for _, sc := range s.scenarios {
			rs := s.floors[sc.key]
			if len(rs) == 0 {
				continue
			}
			var cpu, per, late, p50, p99 []float64
			for _, r := range rs {
				cpu, per, late = append(cpu, r.CPU), append(per, r.usPerWrite()), append(late, float64(r.Overran)/max(1, r.Seconds*1e3/r.TickMs))
				p50, p99 = append(p50, r.P50Ms), append(p99, r.P99Ms)
			}
			c, p, l, l50, l99 := statOf(cpu), statOf(per), statOf(late), statOf(p50), statOf(p99)
			r := rs[0]
			fmt.Fprintf(tw, "%s\t%s × %s bytes / %v\t%s (%s–%s)\t%.1f µs (%.1f–%.1f)\t%s (%s–%s)\t%s (%s–%s)\t%s (%s–%s)\t\n", sc.title,
				thousands(float64(r.Conns)), thousands(float64(r.Bytes)), time.Duration(r.TickMs*1e6),
				pct(c.med), pct(c.min), pct(c.max), p.med, p.min, p.max, pct(l.med), pct(l.min), pct(l.max),
				msStr(l50.med), msStr(l50.min), msStr(l50.max), msStr(l99.med), msStr(l99.min), msStr(l99.max))
		}
		tw.Flush()
	}

	// What went wrong.
	var errs []string
	for _, sc := range s.scenarios {
		for _, srv := range s.servers {
			c := s.cells[cellKey{sc.key, srv.name}]
			if c == nil {
				continue
			}
			for _, e := range c.Errors {
				errs = append(errs, fmt.Sprintf("%s · %s · %s", srv.name, sc.title, firstLine(e)))
			}
			for i, r := range c.Results {
				if r != nil && r.FirstError != "" {
					errs = append(errs, fmt.Sprintf("%s · %s · run %d: %d stream(s) ended early, first: %s", srv.name, sc.title, i+1, r.EndedEarly, r.FirstError))
				}
				if r != nil && r.ToolCPUCoreFraction != nil && *r.ToolCPUCoreFraction >= toolBusy {
					errs = append(errs, fmt.Sprintf("%s · %s · run %d: the load tool used %s of its core: it may have limited the figures", srv.name, sc.title, i+1, pct(*r.ToolCPUCoreFraction)))
				}
			}
		}
	}
	errs = append(errs, s.floorErrs...)
	if len(errs) > 0 {
		fmt.Fprintln(w, "\nNotes:")
		for _, e := range errs {
			fmt.Fprintln(w, "  "+e)
		}
	}
}

// cellStr formats a cell: medians, or with ranges the min–max of each.
func (s *suiteRun) cellStr(sc scenario, srv serverSpec, ranges bool) string {
	c := s.cells[cellKey{sc.key, srv.name}]
	if c == nil {
		return "-"
	}
	if c.ok == 0 {
		return fmt.Sprintf("failed (%d of %d runs)", len(c.Errors), len(c.Results))
	}
	r := func(st stat, f func(float64) string) string {
		if !ranges || st.min == st.max {
			return f(st.med)
		}
		return f(st.min) + "–" + f(st.max)
	}
	var parts []string
	if sc.idle {
		v := r(c.idleRSS, func(x float64) string { return bytesStr(x) })
		if c.idlePSS.n > 0 {
			v += " (PSS " + r(c.idlePSS, func(x float64) string { return bytesStr(x) }) + ")"
		}
		parts = append(parts, v)
	} else {
		p := "p50 " + r(c.p50, msStr) + " · p99 " + r(c.p99, msStr)
		if sc.baseline != "" && !ranges && srv.weblogd {
			if b := s.cells[cellKey{sc.baseline, srv.name}]; b != nil && b.p99.n > 0 && b.p99.med > 0 {
				p += fmt.Sprintf(" (%+.0f%% vs %s)", 100*(c.p99.med-b.p99.med)/b.p99.med, sc.baseline)
			}
		}
		parts = append(parts, p)
		if sc.burst > 0 {
			parts = append(parts, r(c.ingest, thousands)+" lines/s")
		}
		parts = append(parts, r(c.delivered, pct))
		if c.cpu.n > 0 {
			parts = append(parts, "CPU "+r(c.cpu, pct))
		}
		if c.rss.n > 0 {
			parts = append(parts, r(c.rss, bytesStr))
		}
	}
	out := strings.Join(parts, " · ")
	if c.ok < len(c.Results) {
		out += fmt.Sprintf(" (%d of %d runs)", c.ok, len(c.Results))
	}
	return out
}

func idleStr(rss float64, pss *float64) string {
	s := bytesStr(rss)
	if pss != nil {
		s += " (PSS " + bytesStr(*pss) + ")"
	}
	return s
}

// pct formats a fraction as a percentage with as many decimals as it
// needs to show it is not whole.
func pct(f float64) string {
	switch p := 100 * f; {
	case p == 100 || p == 0:
		return fmt.Sprintf("%.0f%%", p)
	case p >= 99.95 && p < 100:
		return fmt.Sprintf("%.2f%%", math.Floor(p*100)/100)
	case p >= 10:
		return fmt.Sprintf("%.1f%%", p)
	default:
		return fmt.Sprintf("%.2f%%", p)
	}
}

func bytesStr(b float64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.2f GiB", b/(1<<30))
	case b >= 10<<20:
		return fmt.Sprintf("%.0f MiB", b/(1<<20))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", b/(1<<20))
	case b >= 10<<10 || b <= -10<<10:
		return fmt.Sprintf("%.0f KiB", b/(1<<10))
	}
	return fmt.Sprintf("%.1f KiB", b/(1<<10))
}

// thousands formats n with commas: 1,234,567.
func thousands(n float64) string {
	s := strconv.FormatInt(int64(math.Round(n)), 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
