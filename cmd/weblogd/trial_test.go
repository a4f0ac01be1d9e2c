package main_test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The fault trial: logs written at a steady rate while weblogd is rotated
// under, stopped with SIGTERM or killed with SIGKILL and started again, with
// one raw TCP client that resumes with SINCE after every restart. It counts
// the lines written, delivered, duplicated and lost, and checks the
// promises: nothing lost; nothing duplicated except after a SIGKILL
// (at-least-once); no seq ever names two different lines.
//
// WEBLOGD_TRIAL=DURATION runs each scenario that long instead of its short
// CI length; go test -run TestFaultTrial -v prints the figures.
func TestFaultTrial(t *testing.T) {
	length := 3 * time.Second
	if s := os.Getenv("WEBLOGD_TRIAL"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("WEBLOGD_TRIAL=%q: %v", s, err)
		}
		length = d
	}
	cases := []struct {
		name   string
		logs   int
		fault  string        // "rotate", "sigterm" or "sigkill"
		every  time.Duration // between faults
		dupsOK bool
	}{
		{"rotate under load", 1, "rotate", 700 * time.Millisecond, false},
		{"sigterm restarts, one log", 1, "sigterm", time.Second, false},
		{"sigterm restarts, three logs", 3, "sigterm", time.Second, false},
		{"sigkill restarts, one log", 1, "sigkill", time.Second, true},
		{"sigkill restarts, three logs", 3, "sigkill", time.Second, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := newTrial(t, c.logs)
			tr.run(c.fault, c.every, length)
			r := tr.result()
			t.Logf("%s: written %d, delivered %d, duplicated %d, lost %d, seqs reused %d, faults %d, gaps %d, resent %d",
				c.name, r.written, r.delivered, r.duplicated, r.lost, r.reused, tr.faults, tr.gaps, tr.resent)
			if r.lost != 0 {
				t.Errorf("%d lines lost, e.g. %v", r.lost, r.someLost)
			}
			if r.reused != 0 {
				t.Errorf("%d seqs named two different lines, e.g. %s", r.reused, r.someReuse)
			}
			if r.duplicated != 0 && !c.dupsOK {
				t.Errorf("%d lines delivered twice, e.g. %s", r.duplicated, strings.Join(tr.dups, "; "))
			}
		})
	}
}

// trialRate is lines per second per log: enough that every fault lands
// mid-burst, little enough for a loaded CI machine.
const trialRate = 1000

type trial struct {
	t     *testing.T
	dir   string
	logs  []string
	state string

	mu      sync.Mutex
	written []int // lines written per log
	w       []*os.File

	p      *proc // the server running now
	over   bool  // the last SIGTERM was sent
	faults int

	// What the client saw.
	seen   map[string]int    // line id -> times delivered
	bySeq  map[uint64]string // seq -> line id
	reuse  []string
	reused int
	resent int      // records received again with the same seq
	dups   []string // the first lines delivered twice
	last   uint64
	gaps   int
}

func newTrial(t *testing.T, n int) *trial {
	dir := t.TempDir()
	tr := &trial{t: t, dir: dir, state: filepath.Join(dir, "state.json"),
		written: make([]int, n), w: make([]*os.File, n),
		seen: map[string]int{}, bySeq: map[uint64]string{}}
	for i := range n {
		path := filepath.Join(dir, fmt.Sprintf("log%d.log", i))
		tr.logs = append(tr.logs, path)
		tr.reopen(i)
	}
	t.Cleanup(func() {
		for _, f := range tr.w {
			f.Close()
		}
	})
	return tr
}

// reopen opens log i for appending, as a web server does at start and on
// USR1.
func (tr *trial) reopen(i int) {
	if tr.w[i] != nil {
		tr.w[i].Close()
	}
	f, err := os.OpenFile(tr.logs[i], os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		tr.t.Fatal(err)
	}
	tr.w[i] = f
}

// write appends the next n lines to every log.
func (tr *trial) write(n int) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for i, f := range tr.w {
		var b strings.Builder
		for range n {
			tr.written[i]++
			fmt.Fprintf(&b, "127.0.0.1 - - [07/Dec/2026:10:00:00 +0000] \"GET /trial/%d/%d HTTP/1.1\" 200 12 \"-\" \"trial\"\n", i, tr.written[i])
		}
		if _, err := f.WriteString(b.String()); err != nil {
			tr.t.Error(err)
		}
	}
}

func (tr *trial) start() {
	args := []string{"--http", "127.0.0.1:0", "--tcp", "127.0.0.1:0", "--state", tr.state,
		"--backfill", "0", "--rotate-wait", "300ms", "--shutdown-timeout", "5s", "--slow-timeout", "0", "--queue", "100000"}
	for _, l := range tr.logs {
		args = append(args, "--log", l)
	}
	p := start(tr.t, nil, args...)
	tr.mu.Lock()
	tr.p = p
	tr.mu.Unlock()
}

func (tr *trial) current() (*proc, bool) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.p, tr.over
}

// run writes for length, with a fault every so often, then lets the client
// catch up.
func (tr *trial) run(fault string, every, length time.Duration) {
	tr.start()
	connected := make(chan struct{})
	done := make(chan struct{})
	go func() { // the client, reconnecting after every restart
		defer close(done)
		tr.follow(connected)
	}()
	select {
	case <-connected:
	case <-time.After(waitFor):
		tr.t.Fatal("the client did not connect")
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				tr.write(trialRate / 100)
			}
		}
	}()
	end := time.Now().Add(length)
	for time.Now().Add(every).Before(end) {
		time.Sleep(every)
		tr.fault(fault)
	}
	time.Sleep(time.Until(end))
	close(stop)
	wg.Wait()
	// Wait for the client to have every line, then end it with SIGTERM.
	deadline := time.Now().Add(waitFor)
	for time.Now().Before(deadline) && !tr.complete() {
		time.Sleep(50 * time.Millisecond)
	}
	tr.mu.Lock()
	tr.over = true
	p := tr.p
	tr.mu.Unlock()
	if code := p.signal(tr.t, syscall.SIGTERM); code != 0 {
		tr.t.Errorf("weblogd exited %d at the end", code)
	}
	select {
	case <-done:
	case <-time.After(waitFor):
		tr.t.Fatal("the client did not end after SIGTERM")
	}
}

func (tr *trial) fault(kind string) {
	tr.faults++
	switch kind {
	case "rotate":
		// Alternately rename (the writer keeps writing to the renamed file
		// for a while, as nginx does until USR1) and copytruncate (the
		// writer waits between copy and truncate: lines written there are
		// in neither file, for any reader).
		if tr.faults%2 == 1 {
			for _, l := range tr.logs {
				if err := os.Rename(l, fmt.Sprintf("%s.%d", l, tr.faults)); err != nil {
					tr.t.Fatal(err)
				}
			}
			time.Sleep(100 * time.Millisecond)
			tr.mu.Lock()
			for i := range tr.logs {
				tr.reopen(i)
			}
			tr.mu.Unlock()
			return
		}
		tr.mu.Lock()
		defer tr.mu.Unlock()
		for _, l := range tr.logs {
			data, err := os.ReadFile(l)
			if err != nil {
				tr.t.Fatal(err)
			}
			if err := os.WriteFile(fmt.Sprintf("%s.%d", l, tr.faults), data, 0o644); err != nil {
				tr.t.Fatal(err)
			}
			if err := os.Truncate(l, 0); err != nil {
				tr.t.Fatal(err)
			}
		}
	case "sigterm":
		p, _ := tr.current()
		if code := p.signal(tr.t, syscall.SIGTERM); code != 0 {
			tr.t.Fatalf("SIGTERM: exit %d\n%s", code, p.stderr)
		}
		tr.start()
	case "sigkill":
		p, _ := tr.current()
		p.signal(tr.t, syscall.SIGKILL)
		tr.start()
	}
}

var (
	trialHit = regexp.MustCompile(`^<hit seq="(\d+)".* path="/trial/(\d+/\d+)"`)
	trialGap = regexp.MustCompile(`^<gap from="(\d+)" to="(\d+)"/>`)
)

// follow reads the stream of each server in turn, resuming with SINCE the
// last seq it saw, until the last server ends its stream.
func (tr *trial) follow(connected chan<- struct{}) {
	for {
		p, _ := tr.current()
		c, err := net.Dial("tcp", p.tcp)
		if err != nil {
			if _, over := tr.current(); over {
				return
			}
			time.Sleep(20 * time.Millisecond)
			continue
		}
		tr.mu.Lock()
		fmt.Fprintf(c, "SINCE %d\n", tr.last)
		tr.mu.Unlock()
		r := bufio.NewReader(c)
		ended := false
		for {
			c.SetReadDeadline(time.Now().Add(2 * waitFor))
			l, err := r.ReadString('\n')
			if err != nil {
				break
			}
			switch {
			case strings.HasPrefix(l, "<hits>") && connected != nil:
				close(connected)
				connected = nil
			case strings.HasPrefix(l, "</hits>"):
				ended = true
			}
			tr.take(l)
		}
		c.Close()
		if _, over := tr.current(); over && ended {
			return
		}
		// Wait for the next server.
		for deadline := time.Now().Add(2 * waitFor); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if q, over := tr.current(); q != p || over {
				break
			}
		}
	}
}

func (tr *trial) take(l string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if trialGap.MatchString(l) {
		tr.gaps++
		return
	}
	m := trialHit.FindStringSubmatch(l)
	if m == nil {
		return
	}
	seq, _ := strconv.ParseUint(m[1], 10, 64)
	id := m[2]
	prev, ok := tr.bySeq[seq]
	if ok && prev == id {
		// The same record again: SINCE sends what the ring holds after
		// the seq asked for, and the new connection may have been pushed
		// some of it already. A client drops it by its seq.
		tr.resent++
		return
	}
	if !ok {
		tr.bySeq[seq] = id
	} else {
		tr.reused++
		if len(tr.reuse) < 5 {
			tr.reuse = append(tr.reuse, fmt.Sprintf("seq %d: %s then %s", seq, prev, id))
		}
	}
	if tr.seen[id] > 0 && len(tr.dups) < 5 {
		tr.dups = append(tr.dups, fmt.Sprintf("%s as seq %d after %d", id, seq, tr.last))
	}
	tr.seen[id]++
	tr.last = max(tr.last, seq)
}

func (tr *trial) complete() bool {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for i, n := range tr.written {
		for j := 1; j <= n; j++ {
			if tr.seen[fmt.Sprintf("%d/%d", i, j)] == 0 {
				return false
			}
		}
	}
	return true
}

type trialResult struct {
	written, delivered, duplicated, lost, reused int
	someLost                                     []string
	someReuse                                    string
}

func (tr *trial) result() trialResult {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	r := trialResult{reused: tr.reused, someReuse: strings.Join(tr.reuse, "; ")}
	for i, n := range tr.written {
		r.written += n
		for j := 1; j <= n; j++ {
			id := fmt.Sprintf("%d/%d", i, j)
			switch k := tr.seen[id]; k {
			case 0:
				r.lost++
				if len(r.someLost) < 5 {
					r.someLost = append(r.someLost, id)
				}
			default:
				r.delivered++
				r.duplicated += k - 1
			}
		}
	}
	return r
}
