package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	// sampleEvery is how often the server tree's RSS is sampled for the peak.
	sampleEvery = 100 * time.Millisecond
	// warmEvery paces the warm-up lines written until every subscriber
	// has seen one.
	warmEvery = 100 * time.Millisecond
	// killWait is how long the server gets after SIGTERM before SIGKILL.
	killWait = 5 * time.Second
	// dialers bounds how many subscribers connect at once, so the
	// server's accept backlog is not overrun.
	dialers = 64
	// slack is added to the hard deadline for starting and stopping.
	slack = 30 * time.Second
	// burstDrain is added to the hard deadline of a burst, for its
	// deliveries.
	burstDrain = 2 * time.Minute
)

// server is what the run talks to: endpoints, the log to append to, and the
// process whose tree is measured (0 when unknown).
type server struct {
	ep     endpoints
	log    string
	pid    int
	name   string
	stop   func() // kills what the tool started; nil for a target
	output string // where the started server's output goes

	ingestToken string // with --ingest: the token of its ingest token file
}

func bench(ctx context.Context, o *options, stderr io.Writer) (*result, error) {
	// The hard overall deadline: the run stops by itself whatever happens.
	hard := time.Now().Add(o.connectTimeout + o.duration + o.grace + slack)
	if o.burst > 0 {
		hard = hard.Add(burstDrain)
	}
	ctx, cancel := context.WithDeadline(ctx, hard)
	defer cancel()
	progress := stderr
	if o.quiet {
		progress = io.Discard
	}

	srv, err := startServer(ctx, o)
	if err != nil {
		return nil, err
	}
	if srv.stop != nil {
		defer srv.stop()
	}
	srv.ep.bufSize = bufSizeFor(o.subs + o.stalled)
	srv.ep.sio = sioConfig{eio: o.eio, namespace: o.sioNamespace}
	if slices.Contains(o.kinds, "socketio") && srv.ep.sio.namespace == "" {
		ns, err := discoverNamespace(ctx, srv.ep.http)
		if err != nil {
			return nil, err
		}
		srv.ep.sio.namespace = ns
	}

	res := &result{Server: srv.name, Transport: o.transport, Subs: o.subs, Stalled: o.stalled,
		Rate: o.rate, DurationSeconds: o.duration.Seconds(), Machine: machine()}
	if o.burst > 0 {
		res.Rate, res.DurationSeconds, res.Burst = 0, 0, o.burst
	}

	// Peak RSS of the server's tree, sampled until the run ends.
	var peak atomic.Int64
	samplerDone := make(chan struct{})
	stopSampler := make(chan struct{})
	if srv.pid > 0 {
		go func() {
			defer close(samplerDone)
			t := time.NewTicker(sampleEvery)
			defer t.Stop()
			rs := &rssSampler{root: srv.pid}
			for {
				if r := rs.sample(); r > peak.Load() {
					peak.Store(r)
				}
				select {
				case <-stopSampler:
					return
				case <-t.C:
				}
			}
		}()
	} else {
		close(samplerDone)
	}
	samplerStopped := false
	stopSampling := func() {
		if !samplerStopped {
			samplerStopped = true
			close(stopSampler)
			<-samplerDone
		}
	}
	defer stopSampling()

	if o.idleSubs > 0 {
		idle, err := measureIdle(ctx, o, srv, hard)
		if err != nil {
			return nil, err
		}
		res.Idle = idle
		fmt.Fprintf(progress, "idle: %d subscribers, %.1f KiB each\n", idle.Subs, idle.BytesPerSub/1024)
	}
	if o.subs == 0 { // idle memory only
		stopSampling()
		if srv.pid > 0 {
			p := peak.Load()
			res.PeakRSSBytes = &p
		}
		return res, nil
	}

	// Subscribers.
	planned := o.planned()
	hist := &histogram{}
	subs := make([]*sub, o.subs)
	for i := range subs {
		subs[i] = newSub(i, o.kindOf(i), planned, hist)
	}
	conns, err := dialAll(ctx, subs, srv.ep, hard, false)
	if err != nil {
		return nil, err
	}
	var stopping atomic.Bool
	var wg sync.WaitGroup
	early := make([]bool, len(subs))
	for i, s := range subs {
		wg.Go(func() {
			conns[i].loop(s)
			early[i] = !stopping.Load()
		})
	}
	// Stalled subscribers: connected, never read, closed at the end.
	var stalledConns []*conn
	closeAll := func() {
		if stopping.Swap(true) {
			return
		}
		for _, c := range conns {
			c.c.Close()
		}
		for _, c := range stalledConns {
			c.c.Close()
		}
		wg.Wait()
	}
	defer closeAll()
	if o.stalled > 0 {
		ss := make([]*sub, o.stalled)
		for i := range ss {
			ss[i] = newSub(o.subs+i, o.kinds[0], 0, hist)
		}
		stalledConns, err = dialAll(ctx, ss, srv.ep, hard, true)
		if err != nil {
			return nil, fmt.Errorf("stalled subscribers: %w", err)
		}
	}
	stopPinger := sioPinger(append(slices.Clip(conns), stalledConns...))
	defer stopPinger()

	f, err := os.OpenFile(srv.log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644) // #nosec G302 -- a generated access log in a temporary directory
	if err != nil {
		return nil, fmt.Errorf("open the log: %w", err)
	}
	defer f.Close()
	w := &writer{f: f}
	var ingest *ingestStream
	if o.ingest {
		ingest = startIngest(ctx, srv)
		defer ingest.pw.Close()
		w.f = ingest
	}

	// Warm-up: a subscriber counts as connected once it has seen a line,
	// which proves the server registered it and follows the log, whatever
	// the server and transport (some send nothing until the first line).
	fmt.Fprintf(progress, "%d subscribers connected; waiting for each to see a first line\n", len(subs))
	warmDeadline := time.Now().Add(o.connectTimeout)
	for {
		if err := w.warm(); err != nil {
			return nil, err
		}
		cold := 0
		for _, s := range subs {
			if !s.warm.Load() {
				cold++
			}
		}
		if cold == 0 {
			break
		}
		if time.Now().After(warmDeadline) {
			return nil, fmt.Errorf("%d of %d subscribers saw no line within %v", cold, len(subs), o.connectTimeout)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("warm up: %w", context.Cause(ctx))
		case <-time.After(warmEvery):
		}
	}
	// Let the last warm-up lines drain, so they do not overlap the run.
	time.Sleep(warmEvery)

	cpu0 := -1.0
	if srv.pid > 0 {
		cpu0 = treeCPU(srv.pid)
	}
	self0 := selfCPU()
	delivered := func() int64 {
		var n int64
		for _, s := range subs {
			n += s.delivered.Load()
		}
		return n
	}

	// Progress, once a second, owned here.
	progDone := make(chan struct{})
	stopProg := make(chan struct{})
	go func() {
		defer close(progDone)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stopProg:
				return
			case <-t.C:
				fmt.Fprintf(progress, "written %d/%d, delivered %d/%d\n", w.written.Load(), planned, delivered(), w.written.Load()*int64(len(subs)))
			}
		}
	}()
	stopProgress := func() {
		select {
		case <-stopProg:
		default:
			close(stopProg)
			<-progDone
		}
	}
	defer stopProgress()

	start := time.Now()
	var werr error
	if o.burst > 0 {
		wctx, wcancel := context.WithTimeout(ctx, o.duration)
		werr = w.burst(wctx, o.burst)
		wcancel()
	} else {
		werr = w.run(ctx, o.rate, planned)
	}
	if ingest != nil && werr == nil {
		// The answer comes once every line is in the server's ring.
		werr = ingest.finish(w.lines)
	}
	res.WriteSeconds = time.Since(start).Seconds()
	res.LinesWritten = w.written.Load()
	if werr != nil {
		return nil, werr
	}
	want := res.LinesWritten * int64(len(subs))
	if o.burst > 0 {
		// Wait while deliveries progress: until everyone has everything,
		// or nothing arrived for the grace period.
		last, lastChange := delivered(), time.Now()
		for ctx.Err() == nil {
			d := delivered()
			if d >= want || time.Since(lastChange) > o.grace {
				break
			}
			if d != last {
				last, lastChange = d, time.Now()
			}
			time.Sleep(10 * time.Millisecond)
		}
	} else {
		graceEnd := time.Now().Add(o.grace)
		for delivered() < want && time.Now().Before(graceEnd) && ctx.Err() == nil {
			time.Sleep(20 * time.Millisecond)
		}
	}
	stopProgress()
	elapsed := time.Since(start).Seconds()
	self := selfCPU() - self0
	selfFrac := self / elapsed
	res.ToolCPUSeconds, res.ToolCPUCoreFraction = &self, &selfFrac
	if srv.pid > 0 {
		cpu := treeCPU(srv.pid) - cpu0
		res.CPUSeconds = &cpu
		frac := cpu / time.Since(start).Seconds()
		res.CPUCoreFraction = &frac
	}
	stopSampling()
	if srv.pid > 0 {
		p := peak.Load()
		res.PeakRSSBytes = &p
	}
	if o.burst > 0 && res.LinesWritten == o.burst {
		// Ingest: from the first write to the first delivery of the last
		// line; the server's path from the file to a subscriber, whatever
		// it dropped on the way (the loss is reported apart).
		var lastNs int64
		for _, s := range subs {
			if t := s.lastLine.Load(); t > 0 && (lastNs == 0 || t < lastNs) {
				lastNs = t
			}
		}
		if lastNs > 0 {
			secs := float64(lastNs-w.first.UnixNano()) / 1e9
			rate := float64(res.LinesWritten) / secs
			res.IngestSeconds, res.IngestLinesPerSecond = &secs, &rate
		}
	}
	stopPinger()
	closeAll()
	res.fill(subs, early, hist)
	return res, nil
}

// bufSizeFor is each subscriber's read buffer: big reads make the tool
// cheap per line, but ten thousand subscribers must fit in memory too.
func bufSizeFor(subs int) int {
	switch {
	case subs <= 1000:
		return 64 << 10
	case subs <= 5000:
		return 32 << 10
	}
	return 16 << 10
}

// startServer runs the command template, or checks the target.
func startServer(ctx context.Context, o *options) (*server, error) {
	if o.target != "" {
		srv := &server{ep: endpoints{http: o.target, tcp: o.targetTCP, wsPath: o.wsPath}, log: o.log,
			pid: o.targetPID, name: "target " + o.target}
		if o.targetPID > 0 {
			if _, ok := readStat(o.targetPID); !ok {
				return nil, fmt.Errorf("--target-pid %d: no such process", o.targetPID)
			}
		}
		return srv, nil
	}
	dir, err := os.MkdirTemp("", "weblogbench-")
	if err != nil {
		return nil, fmt.Errorf("make a temporary directory: %w", err)
	}
	srv := &server{log: filepath.Join(dir, "access.log"), output: filepath.Join(dir, "server.out"), ep: endpoints{wsPath: o.wsPath}}
	// The log exists (empty) before the server starts, so following it
	// starts at once and from its start.
	if err := os.WriteFile(srv.log, nil, 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("make the log: %w", err)
	}
	var ports []string
	repl := []string{"{log}", srv.log}
	serverCmd := o.serverCmd
	if o.ingest {
		tokens, tok, err := ingestTokens(dir)
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("make the ingest token file: %w", err)
		}
		srv.ingestToken = tok
		repl = append(repl, "{tokens}", tokens)
		if !strings.Contains(serverCmd, "{tokens}") {
			serverCmd += ingestFlag
		}
	}
	for _, ph := range []string{"{http}", "{tcp}"} {
		if !strings.Contains(serverCmd, ph) {
			continue
		}
		p, err := freePort()
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		ports = append(ports, p)
		repl = append(repl, ph, p)
		if ph == "{http}" {
			srv.ep.http = "127.0.0.1:" + p
		} else {
			srv.ep.tcp = "127.0.0.1:" + p
		}
	}
	r := strings.NewReplacer(repl...)
	var argv []string
	for _, f := range strings.Fields(serverCmd) {
		argv = append(argv, r.Replace(f))
	}
	if o.pinServer >= 0 {
		// taskset execs the server in its own process, so the pid and the
		// affinity (inherited by any children) are the server's.
		argv = append([]string{"taskset", "-c", strconv.Itoa(o.pinServer)}, argv...)
	}
	srv.name = strings.Join(strings.Fields(serverCmd), " ")
	out, err := os.Create(srv.output)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("make the server's output file: %w", err)
	}
	cmd := exec.Command(argv[0], argv[1:]...) // #nosec G204 -- the server command is the operator's own --server-cmd, run without a shell
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group: a terminal's Ctrl-C reaches only the tool,
	// which then stops the server's whole tree itself.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := startWithSlack(cmd, o.timerSlack); err != nil {
		out.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start the server (%s): %w; install it on PATH or give --server-cmd", argv[0], err)
	}
	srv.pid = cmd.Process.Pid
	exited := make(chan struct{})
	go func() { // owned by stop, which waits for it
		cmd.Wait()
		close(exited)
	}()
	srv.stop = func() {
		syscall.Kill(-srv.pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(killWait):
			syscall.Kill(-srv.pid, syscall.SIGKILL)
			<-exited
		}
		// Children that ignored SIGTERM but outlived their parent.
		syscall.Kill(-srv.pid, syscall.SIGKILL)
		out.Close()
		os.RemoveAll(dir)
	}
	// Ready when every port accepts connections.
	deadline := time.Now().Add(o.connectTimeout)
	for _, p := range ports {
		for {
			c, err := net.DialTimeout("tcp", "127.0.0.1:"+p, time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-exited:
				b, _ := os.ReadFile(srv.output)
				srv.stop()
				return nil, fmt.Errorf("the server exited at start: %s", tail(b, 20))
			case <-ctx.Done():
				srv.stop()
				return nil, fmt.Errorf("start the server: %w", context.Cause(ctx))
			case <-time.After(50 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				b, _ := os.ReadFile(srv.output)
				srv.stop()
				return nil, fmt.Errorf("the server did not listen on port %s within %v: %s", p, o.connectTimeout, tail(b, 20))
			}
		}
	}
	return srv, nil
}

// freePort asks the kernel for a free loopback port. Another program could
// take it before the server does; the start then fails and says so.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	_, p, _ := net.SplitHostPort(l.Addr().String())
	return p, nil
}

func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// dialAll connects every subscriber, a bounded number at a time; on any
// failure it closes those already open.
func dialAll(ctx context.Context, subs []*sub, ep endpoints, deadline time.Time, stalled bool) ([]*conn, error) {
	conns := make([]*conn, len(subs))
	errs := make([]error, len(subs))
	next := make(chan int)
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range min(dialers, len(subs)) {
		wg.Go(func() {
			for i := range next {
				conns[i], errs[i] = dial(ctx, subs[i], ep, deadline, stalled)
				if errs[i] != nil {
					cancel()
				}
			}
		})
	}
feed:
	for i := range subs {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	err := errors.Join(slices.DeleteFunc(errs, func(e error) bool { return e == nil || errors.Is(e, context.Canceled) })...)
	if err == nil && ctx.Err() != nil {
		err = context.Cause(ctx)
	}
	if err != nil {
		for _, c := range conns {
			if c != nil {
				c.c.Close()
			}
		}
		if n := strings.Count(err.Error(), "\n") + 1; n > 3 {
			first, _, _ := strings.Cut(err.Error(), "\n")
			return nil, fmt.Errorf("connect subscribers: %s (and %d more failures)", first, n-1)
		}
		return nil, fmt.Errorf("connect subscribers: %w", err)
	}
	return conns, nil
}
