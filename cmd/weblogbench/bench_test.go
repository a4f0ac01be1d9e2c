package main

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLoad builds weblogd and the tool and runs a short load over every
// transport at once: 20 subscribers of each get every line exactly once, in
// order, and the report has the latency and the server's CPU and memory.
// It checks the tool's accounting, not weblogd's speed.
func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two binaries and runs a 2 s load")
	}
	dir := t.TempDir()
	build := func(pkg, name string) string {
		out := filepath.Join(dir, name)
		if b, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, b)
		}
		return out
	}
	weblogd := build("github.com/weblogd/weblogd/cmd/weblogd", "weblogd")
	bench := build("github.com/weblogd/weblogd/cmd/weblogbench", "weblogbench")

	report := filepath.Join(dir, "report.json")
	cmd := exec.Command(bench, "--server-cmd", strings.Replace(defaultServerCmd, "weblogd", weblogd, 1),
		"--transport", "mixed", "--subs", "100", "--rate", "200", "--duration", "2s",
		"--connect-timeout", "20s", "--json", report, "--quiet")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("weblogbench: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	t.Logf("in %v:\n%s", time.Since(start).Round(time.Millisecond), stdout.String())

	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var r result
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("the JSON report: %v\n%s", err, b)
	}
	if r.LinesWritten != 400 {
		t.Errorf("lines written = %d, want 400", r.LinesWritten)
	}
	if r.DeliveredMin != 1 || r.SubsComplete != 100 || r.Deliveries != 100*r.LinesWritten {
		t.Errorf("delivered min %v, %d of 100 subscribers complete, %d deliveries: want every line to every subscriber",
			r.DeliveredMin, r.SubsComplete, r.Deliveries)
	}
	if r.Lost != 0 || r.Duplicated != 0 || r.Reordered != 0 || r.Gaps != 0 || r.Unexpected != 0 || r.EndedEarly != 0 {
		t.Errorf("lost %d, duplicated %d, reordered %d, gaps %d, unexpected %d, ended early %d: want all 0",
			r.Lost, r.Duplicated, r.Reordered, r.Gaps, r.Unexpected, r.EndedEarly)
	}
	if len(r.PerTransport) != 5 {
		t.Errorf("per transport: %+v, want the five transports", r.PerTransport)
	}
	for _, tr := range r.PerTransport {
		if tr.Subs != 20 || tr.DeliveredMin != 1 {
			t.Errorf("%s: %d subscribers, delivered min %v: want 20, 1", tr.Transport, tr.Subs, tr.DeliveredMin)
		}
	}
	if r.Latency.Count != uint64(r.Deliveries) || !(r.Latency.P99Ms > 0) || r.Latency.MaxMs < r.Latency.P99Ms {
		t.Errorf("latency %+v: want one sample per delivery, p99 > 0, max ≥ p99", r.Latency)
	}
	if r.CPUSeconds == nil || *r.CPUSeconds < 0 {
		t.Errorf("cpu seconds %v: want present", r.CPUSeconds)
	}
	if r.PeakRSSBytes == nil || *r.PeakRSSBytes <= 0 {
		t.Errorf("peak RSS %v: want present and positive", r.PeakRSSBytes)
	}

	// --ingest: the same lines through POST /ingest, from one client; the
	// tool checks the server's count, and every subscriber gets them all.
	cmd = exec.Command(bench, "--ingest", "--server-cmd", strings.Replace(defaultServerCmd, "weblogd", weblogd, 1),
		"--transport", "tcp,hits", "--subs", "4", "--rate", "200", "--duration", "1s",
		"--connect-timeout", "20s", "--json", report, "--quiet")
	stdout.Reset()
	stderr.Reset()
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("weblogbench --ingest: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	if b, err = os.ReadFile(report); err != nil {
		t.Fatal(err)
	}
	r = result{}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("the JSON report: %v\n%s", err, b)
	}
	if r.LinesWritten != 200 || r.SubsComplete != 4 || r.Lost != 0 || !strings.Contains(r.Server, "--ingest-token-file") {
		t.Errorf("--ingest: %d lines, %d of 4 subscribers complete, %d lost, server %q: want 200, 4, 0, with an ingest token file",
			r.LinesWritten, r.SubsComplete, r.Lost, r.Server)
	}

	// The floor: a writer process of the tool's own, read by the tool.
	cmd = exec.Command(bench, "--floor", "--subs", "50", "--rate", "100", "--duration", "1s", "--json", report)
	stdout.Reset()
	stderr.Reset()
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("weblogbench --floor: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	t.Logf("%s", stdout.String())
	if b, err = os.ReadFile(report); err != nil {
		t.Fatal(err)
	}
	var f floorResult
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("the floor's JSON report: %v\n%s", err, b)
	}
	if f.Conns != 50 || f.Bytes != 5*wsRecordBytes+wsMessageBytes || f.TickMs != 50 {
		t.Errorf("floor %+v: want 50 connections, messages of 5 records, a 50 ms tick", f)
	}
	if f.Writes < 50 || f.Writes%50 != 0 || !(f.CPU > 0) || !(f.ReaderCPU > 0) || !(f.Seconds >= 1) {
		t.Errorf("floor %+v: want whole ticks of 50 writes, CPU on both sides, a second", f)
	}
	// Five lines a message, evenly over the tick before it: the last
	// waited 45 ms before its write, so p99 is at least that.
	if !(f.P50Ms >= 25 && f.P99Ms >= 45 && f.P99Ms < 1000) {
		t.Errorf("floor %+v: want its lines' p50 ≥ 25 ms and p99 ≥ 45 ms (a 50 ms tick)", f)
	}
}

// The floor's message is weblogd's for a tick's lines.
func TestFloorBytes(t *testing.T) {
	if got, want := floorBytes(1000, 50*time.Millisecond), 50*wsRecordBytes+wsMessageBytes; got != want {
		t.Errorf("floorBytes(1000, 50ms)=%d, want %d", got, want)
	}
}

func TestFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--transport", "carrier-pigeon"},
		{"--subs", "0"},
		{"--subs", "20001"},
		{"--duration", "11m"},
		{"--rate", "0"},
		{"--target", "192.0.2.1:8080", "--log", "/tmp/x.log", "--transport", "ws"},
		{"--target", "example.com:8080", "--log", "/tmp/x.log", "--transport", "ws"},
		{"--target", "127.0.0.1:8080", "--transport", "ws"},
		{"--target", "127.0.0.1:8080", "--log", "/tmp/x.log", "--transport", "tcp"},
		{"--server-cmd", "weblogd --http 127.0.0.1:{http}"},
		{"--server-cmd", "weblogd --log {log} --tcp 127.0.0.1:{tcp}", "--transport", "ws"},
		{"--transport", "ws,carrier-pigeon"},
		{"--transport", "mixed4", "--server-cmd", "weblogd --log {log} --http 127.0.0.1:{http}"},
		{"--subs", "0"},
		{"--subs", "0", "--idle-subs", "10", "--stalled", "1"},
		{"--burst", "-1"},
		{"--ingest", "--target", "127.0.0.1:8080", "--log", "/tmp/x.log", "--transport", "hits"},
		{"--burst", "10000001"},
		{"--eio", "5"},
		{"--sio-namespace", "abc"},
		{"--stalled", "20000"},
		{"--suite", "bogus"},
		{"--suite", "standard", "--subs", "5"},
		{"--suite", "standard", "--runs", "0"},
		{"--suite", "standard", "--peer", "websocketd"},
		{"--suite", "standard", "--peer", "websocketd=tail -F {log}"},
		{"--suite", "standard", "--peer", "x:tcp=srv {log} {http}"},
		{"--suite", "standard", "--peer", "weblogd=srv {log} {http}"},
		{"--floor", "--subs", "0"},
		{"--floor", "--idle-subs", "10"},
		{"--floor", "--burst", "1000"},
		{"--floor", "--floor-tick", "0"},
	} {
		if code := run(args, io.Discard, io.Discard); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
	for _, args := range [][]string{
		{"--target", "[::1]:8080", "--log", "/tmp/x.log", "--transport", "sse"},
		{"--transport", "tcp,ws", "--stalled", "1"},
		{"--transport", "mixed4", "--burst", "1000"},
		{"--subs", "0", "--idle-subs", "10", "--transport", "ws"},
		{"--transport", "ws-lines", "--server-cmd", "websocketd --port={http} tail -n0 -F {log}"},
		{"--transport", "socketio", "--eio", "4", "--sio-namespace", "/x", "--server-cmd", "frontail -p {http} {log}"},
	} {
		if _, err := parseFlags(args, io.Discard); err != nil {
			t.Errorf("%q: %v", args, err)
		}
	}
}

func TestScan(t *testing.T) {
	s := newSub(0, "ws", 10, &histogram{})
	now := time.Now().UnixNano()
	msg := `{"type":"hits","hits":[{"path":"/bench/w/1"},{"path":"/bench/0/` + itoa(now-1000) +
		`"},{"path":"/bench/2/` + itoa(now-2000) + `"},{"path":"/bench/1/` + itoa(now) +
		`"},{"path":"/bench/2/` + itoa(now) + `"},{"path":"/bench/99/1"}]}`
	s.scan([]byte(msg), now)
	if !s.warm.Load() || s.delivered.Load() != 3 || s.dups != 1 || s.reordered != 1 || s.unexpected != 1 {
		t.Errorf("warm %v, delivered %d, dups %d, reordered %d, unexpected %d: want true, 3, 1, 1, 1",
			s.warm.Load(), s.delivered.Load(), s.dups, s.reordered, s.unexpected)
	}
}

func TestHistogram(t *testing.T) {
	for _, ns := range []int64{0, 1, 15, 16, 17, 1000, 123456, 1e9, 1e12} {
		i := bucketOf(ns)
		if up := bucketUpper(i); up < ns || (i > 0 && bucketUpper(i-1) >= ns) {
			t.Errorf("%d ns: bucket %d holds up to %d, the one before up to %d", ns, i, up, bucketUpper(i-1))
		}
	}
	var h histogram
	for i := range 1000 {
		h.add(i, time.Duration(i+1)*time.Millisecond)
	}
	ps, n := h.percentiles(0.5, 0.99)
	if n != 1000 {
		t.Fatalf("count %d, want 1000", n)
	}
	for k, want := range []time.Duration{500 * time.Millisecond, 990 * time.Millisecond} {
		if got := time.Duration(ps[k]); got < want || got > want+want/16 {
			t.Errorf("percentile %d = %v, want %v to %v", k, got, want, want+want/16)
		}
	}
}

// TestSuiteScenarios checks that every scenario of the suite makes valid
// options for weblogd and for peers of each WebSocket kind.
func TestSuiteScenarios(t *testing.T) {
	o, err := parseFlags([]string{"--suite", "standard", "--runs", "1",
		"--peer", "websocketd=/tmp/peers/websocketd/websocketd --port={http} --address=127.0.0.1 tail -n0 -F {log}",
		"--peer", "frontail=frontail -h 127.0.0.1 -p {http} -n 0 {log}",
		"--peer", "other:ws:/stream=srv --listen 127.0.0.1:{http} {log}"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"websocketd": "ws-lines", "frontail": "socketio", "other": "ws"}
	for _, p := range o.peers {
		if p.kind != want[p.name] {
			t.Errorf("peer %s: kind %s, want %s", p.name, p.kind, want[p.name])
		}
	}
	servers := []serverSpec{{name: "weblogd", cmd: o.serverCmd, kind: "ws", weblogd: true}}
	for _, p := range o.peers {
		servers = append(servers, serverSpec{name: p.name, cmd: p.cmd, kind: p.kind, path: p.path})
	}
	for _, sc := range standardSuite {
		for _, srv := range servers {
			if sc.weblogdOnly && !srv.weblogd {
				continue
			}
			ro, err := sc.options(o, srv)
			if err != nil {
				t.Errorf("%s on %s: %v", sc.key, srv.name, err)
				continue
			}
			if ro.subs+ro.stalled > maxSuiteSubs {
				t.Errorf("%s: %d subscribers, more than maxSuiteSubs", sc.key, ro.subs+ro.stalled)
			}
			if !srv.weblogd && ro.transport != srv.kind {
				t.Errorf("%s on %s: transport %s, want %s", sc.key, srv.name, ro.transport, srv.kind)
			}
		}
	}
	if got := selectRows(standardSuite, "stalled"); len(got) != 2 || got[0].key != "100x1000" {
		t.Errorf("--rows stalled: %v, want the row and its baseline", got)
	}
}

// The targets compare weblogd with the peers, not with another build of
// weblogd given as a peer of kind ws; with no peer the comparison is unknown.
func TestSuiteTargets(t *testing.T) {
	servers := []serverSpec{{name: "weblogd", kind: "ws", weblogd: true}, {name: "before", kind: "ws"},
		{name: "websocketd", kind: "ws-lines"}, {name: "frontail", kind: "socketio"}}
	s := &suiteRun{servers: servers, cells: map[cellKey]*cell{}}
	put := func(key, srv string, p50, p99 float64) *cell {
		c := &cell{ok: 1, p50: stat{med: p50, n: 1}, p99: stat{med: p99, n: 1}}
		s.cells[cellKey{key, srv}] = c
		return c
	}
	row := func(key string) scenario {
		for _, sc := range standardSuite {
			if sc.key == key {
				return sc
			}
		}
		t.Fatalf("no row %s", key)
		return scenario{}
	}
	one := row("1x100")
	put("1x100", "before", 20, 0.1) // far better p99, but not a peer
	put("1x100", "websocketd", 0.3, 3.7)
	put("1x100", "frontail", 0.6, 5.2)
	for _, tc := range []struct {
		p50, p99  float64
		ok, known bool
	}{{0.3, 3.5, true, true}, {0.3, 3.8, false, true}, {0.6, 1, false, true}} {
		c := put("1x100", "weblogd", tc.p50, tc.p99)
		if ok, known := one.check(c, s); ok != tc.ok || known != tc.known {
			t.Errorf("1x100 p50 %v p99 %v: met %v (known %v), want %v (%v)", tc.p50, tc.p99, ok, known, tc.ok, tc.known)
		}
	}
	alone := &suiteRun{servers: servers[:2], cells: map[cellKey]*cell{}}
	alone.cells[cellKey{"100x100", "before"}] = &cell{ok: 1, p99: stat{med: 50, n: 1}}
	if _, known := row("100x100").check(&cell{ok: 1, p99: stat{med: 3, n: 1}}, alone); known {
		t.Error("100x100 without peers: want the target unknown")
	}
	for _, sc := range standardSuite {
		if strings.HasPrefix(sc.key, "tick0") {
			t.Errorf("row %s: --tick 0 rows are gone (the default is the row)", sc.key)
		}
	}
}
