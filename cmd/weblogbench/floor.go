package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"
)

// The floor: what writing alone costs on this machine. No server: a child
// process of the tool, pinned like a server, writes a message of the same
// size to each of N loopback connections once per tick, as weblogd does
// once its flushes are a tick apart, while the tool reads them on its own
// CPU. Its CPU is the least any server could spend to send a row's
// messages here, whatever it does besides; a server's figure is best read
// against it.

// floorWriterArg is the hidden first argument that makes the tool the
// floor's writer.
const floorWriterArg = "floor-writer"

// wsRecordBytes is one of the tool's lines as weblogd's JSON record
// (measured: 50 of them as /api/hits returns them are 16,393 bytes), and
// wsMessageBytes about what a WebSocket message adds around its records
// ({"type":"hits","hits":[...]} and the frame header).
const (
	wsRecordBytes  = 328
	wsMessageBytes = 30
)

// floorBytes is the size of the WebSocket message weblogd writes to each
// subscriber per tick at rate lines/s.
func floorBytes(rate float64, tick time.Duration) int {
	return max(1, int(rate*tick.Seconds()+0.5))*wsRecordBytes + wsMessageBytes
}

// floorResult is one floor run.
type floorResult struct {
	Conns   int     `json:"conns"`
	Bytes   int     `json:"bytes"`
	TickMs  float64 `json:"tick_ms"`
	Writes  int64   `json:"writes"`
	Seconds float64 `json:"seconds"`
	// CPU is the writer's CPU time ÷ the wall time, in cores.
	CPU float64 `json:"writer_cpu_core_fraction"`
	// Overran is how many ticks began a whole tick late: the writes
	// before them took longer than a tick.
	Overran int `json:"ticks_late"`
	// ReaderCPU is the tool's CPU over the same time, in cores.
	ReaderCPU float64 `json:"reader_cpu_core_fraction"`
	// P50Ms and P99Ms are the latency of the message's lines, had they
	// been written evenly over the tick before it: what a line would wait
	// at one write per connection per tick if the server cost nothing
	// but its writes.
	P50Ms float64 `json:"p50_ms"`
	P99Ms float64 `json:"p99_ms"`
}

// usPerWrite is the writer's CPU time per write, in microseconds.
func (r *floorResult) usPerWrite() float64 {
	return r.CPU * r.Seconds * 1e6 / float64(max(1, r.Writes))
}

// measureFloor runs the floor's writer for conns connections of size
// bytes, pinned to pinServer (unless negative), and reads on this
// process's CPU.
func measureFloor(ctx context.Context, conns, size int, tick time.Duration, d time.Duration, pinServer int, slack time.Duration) (*floorResult, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("floor: %w", err)
	}
	defer l.Close()
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("floor: %w", err)
	}
	argv := []string{self, floorWriterArg, "-addr", l.Addr().String(), "-conns", strconv.Itoa(conns),
		"-bytes", strconv.Itoa(size), "-tick", tick.String(), "-duration", d.String()}
	if pinServer >= 0 {
		argv = append([]string{"taskset", "-c", strconv.Itoa(pinServer)}, argv...)
	}
	ctx, cancel := context.WithTimeout(ctx, d+time.Minute) // a hard bound on the whole run
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...) // #nosec G204 -- this program itself, with numbers
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("floor: %w", err)
	}
	var stderr limitedBuffer
	cmd.Stderr = &stderr
	if err := startWithSlack(cmd, slack); err != nil {
		return nil, fmt.Errorf("floor: start the writer: %w", err)
	}
	// Read every connection until the writer closes it; on the way out
	// the writer is gone (it ended, or it is killed), so the readers are.
	var wg sync.WaitGroup
	defer wg.Wait()
	waited := false
	defer func() {
		if !waited {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	// Each message starts with the time its tick was due; it stands for
	// lines spread evenly over the tick before (floorBytes).
	lines := max(1, (size-wsMessageBytes)/wsRecordBytes)
	lat := new(histogram)
	for i := range conns {
		c, err := l.Accept()
		if err != nil {
			return nil, fmt.Errorf("floor: accept the writer's connections: %w (%s)", err, stderr.String())
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			c.SetReadDeadline(time.Now().Add(d + time.Minute))
			b := make([]byte, size)
			for {
				if _, err := io.ReadFull(c, b); err != nil {
					return
				}
				sent := time.Duration(time.Now().UnixNano() - int64(binary.LittleEndian.Uint64(b))) // #nosec G115 -- a time of this machine
				for j := range lines {
					lat.count(i, int64(sent+tick*time.Duration(2*j+1)/time.Duration(2*lines)))
				}
				lat.noteMax(int64(sent + tick))
			}
		}()
	}
	sc := bufio.NewScanner(out)
	var cpu0 float64
	var r *floorResult
	for sc.Scan() {
		switch line := sc.Bytes(); {
		case string(line) == "start":
			cpu0 = selfCPU()
		default:
			r = new(floorResult)
			if err := json.Unmarshal(line, r); err != nil {
				return nil, fmt.Errorf("floor: the writer said %q", line)
			}
			r.ReaderCPU = (selfCPU() - cpu0) / r.Seconds
		}
	}
	err = cmd.Wait()
	waited = true
	if err != nil || r == nil {
		return nil, fmt.Errorf("floor: the writer failed: %v: %s", err, stderr.String())
	}
	wg.Wait() // the writer closed every connection: the readers are done
	ps, _ := lat.percentiles(0.50, 0.99)
	r.P50Ms, r.P99Ms = float64(ps[0])/1e6, float64(ps[1])/1e6
	return r, nil
}

// floorWriter is the floor's writer process: it dials the tool, says
// "start", writes, then prints its result as JSON and closes.
func floorWriter(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(floorWriterArg, flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "", "the tool's address")
	conns := fs.Int("conns", 1, "connections")
	size := fs.Int("bytes", 1, "bytes a write")
	tick := fs.Duration("tick", 50*time.Millisecond, "each connection is written once a tick")
	d := fs.Duration("duration", 10*time.Second, "how long")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if checkLoopback(*addr) != nil || *conns < 1 || *conns > maxSubs || *size < 8 || *size > 1<<20 ||
		*tick <= 0 || *d <= 0 || *d > maxDuration*time.Second {
		fmt.Fprintln(stderr, "weblogbench floor-writer: bad arguments")
		return 2
	}
	cs := make([]net.Conn, *conns)
	for i := range cs {
		c, err := net.Dial("tcp", *addr)
		if err != nil {
			fmt.Fprintf(stderr, "weblogbench floor-writer: %v\n", err)
			return 1
		}
		defer c.Close()
		c.SetWriteDeadline(time.Now().Add(*d + time.Minute))
		cs[i] = c
	}
	msg := make([]byte, *size)
	fmt.Fprintln(stdout, "start")
	cpu0 := selfCPU()
	t0 := time.Now()
	r := floorResult{Conns: *conns, Bytes: *size, TickMs: float64(*tick) / 1e6}
	for k := 1; time.Since(t0) < *d; k++ {
		due := t0.Add(time.Duration(k) * *tick)
		if late := time.Since(due); late < 0 {
			time.Sleep(-late)
		} else if late > *tick {
			r.Overran++ // the previous tick's writes ran into this one
		}
		binary.LittleEndian.PutUint64(msg, uint64(due.UnixNano())) // #nosec G115 -- a time after 1970
		for _, c := range cs {
			if _, err := c.Write(msg); err != nil {
				fmt.Fprintf(stderr, "weblogbench floor-writer: %v\n", err)
				return 1
			}
			r.Writes++
		}
	}
	r.Seconds = time.Since(t0).Seconds()
	r.CPU = (selfCPU() - cpu0) / r.Seconds
	b, _ := json.Marshal(r)
	fmt.Fprintf(stdout, "%s\n", b)
	return 0
}

// limitedBuffer keeps the first 4 KiB written to it: a child's stderr.
type limitedBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := 4<<10 - len(b.buf); room > 0 {
		b.buf = append(b.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// runFloor is --floor: one floor run, printed.
func runFloor(ctx context.Context, o *options, stdout, stderr io.Writer) int {
	r, err := measureFloor(ctx, o.subs, floorBytes(o.rate, o.floorTick), o.floorTick, o.duration, o.pinServer, o.timerSlack)
	if err != nil {
		fmt.Fprintf(stderr, "weblogbench: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "floor: %s\n", r)
	if o.jsonPath != "" {
		if err := writeJSON(o.jsonPath, r); err != nil {
			fmt.Fprintf(stderr, "weblogbench: %v\n", err)
			return 1
		}
	}
	return 0
}

func (r *floorResult) String() string {
	return fmt.Sprintf("%s connections × %s bytes every %v: writer %s of a core (%.1f µs a write), reader %s; %d of %d ticks began a tick late; its lines p50 %s, p99 %s",
		thousands(float64(r.Conns)), thousands(float64(r.Bytes)), time.Duration(r.TickMs*1e6), pct(r.CPU), r.usPerWrite(),
		pct(r.ReaderCPU), r.Overran, int(r.Seconds*1e3/r.TickMs+0.5), msStr(r.P50Ms), msStr(r.P99Ms))
}
