package feed

import (
	"context"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// BenchmarkSyslogUDP sends nginx's syslog datagrams (the Apache test
// log's lines under an RFC 3164 header) over loopback to a UDP listener,
// as fast as one sender goes, and waits until each is a record in the
// ring or counted as dropped by the kernel. It reports messages a second
// into the ring and the share the kernel dropped; every datagram sent is
// one or the other (it fails otherwise): no loss goes unreported.
func BenchmarkSyslogUDP(b *testing.B) {
	s, l, lines := syslogBench(b)
	msgs := make([][]byte, len(lines))
	for i, m := range lines {
		msgs[i] = []byte(m)
	}
	c, err := net.Dial("udp", l.addr.String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		if _, err := c.Write(msgs[i%len(msgs)]); err != nil {
			b.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for l.messages.Load()+l.drops() < uint64(b.N) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	took := time.Since(start)
	b.StopTimer()
	got, dropped := l.messages.Load(), l.drops()
	if got+dropped != uint64(b.N) {
		b.Fatalf("sent %d, %d records and %d dropped by the kernel: %d lost unreported", b.N, got, dropped, uint64(b.N)-got-dropped)
	}
	if last := s.ring.Last(); last != got {
		b.Fatalf("%d messages but the ring's last seq is %d", got, last)
	}
	b.ReportMetric(float64(got)/took.Seconds(), "msgs/s")
	b.ReportMetric(float64(dropped)/float64(b.N)*100, "%dropped")
}

// BenchmarkSyslogTake is the work of one message after the socket: the
// header, the source, the record, the ring. Its inverse bounds what one
// listener takes a second.
func BenchmarkSyslogTake(b *testing.B) {
	_, l, msgs := syslogBench(b)
	var m syslogMessages
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		l.take(&m, msgs[i%len(msgs)], false)
	}
}

// syslogBench runs a server with one UDP syslog listener until b ends and
// returns it, the listener, and the Apache test log as nginx's RFC 3164
// messages.
func syslogBench(b *testing.B) (*Server, *syslogListener, []string) {
	data, err := os.ReadFile("../format/testdata/apache_combined_10k.log")
	if err != nil {
		b.Fatal(err)
	}
	var msgs []string
	for _, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		msgs = append(msgs, "<190>Dec  7 10:00:00 web1 nginx: "+l)
	}
	s, err := New(Config{Syslog: []string{"udp://127.0.0.1:0"}, HTTPAddr: NoListen, TCPAddr: NoListen, Ring: 100000})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	b.Cleanup(func() {
		cancel()
		<-done
	})
	<-s.Ready()
	return s, s.syslog[0], msgs
}
