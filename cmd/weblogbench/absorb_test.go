package main

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// record is a weblogd JSON record of a tool line, as the ws stream sends
// it, with its marker filled in.
func record(b []byte, seq, t int64) []byte {
	b = append(b, `{"seq":`...)
	b = strconv.AppendInt(b, seq+1000, 10)
	b = append(b, `,"source":"access.log","time":"2026-11-21T10:00:00+00:00","host":"203.0.113.9","ident":"-","user":"-","method":"GET","path":"/bench/`...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, '/')
	b = strconv.AppendInt(b, t, 10)
	return append(b, `","proto":"HTTP/1.1","status":200,"bytes":2326,"referer":"https://www.example.com/","agent":"Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"}`...)
}

// BenchmarkAbsorb measures what the tool spends to take in one delivery:
// a server in the process sends batches of 50 records (weblogd's batch at
// 1,000 lines/s and the default tick) to 100 subscribers over loopback,
// through the tool's own read loops. Its ns/delivery includes the sending
// side; the CPU profile tells them apart:
//
//	go test -run='^$' -bench=Absorb -cpu 1 -cpuprofile /tmp/absorb.pb ./cmd/weblogbench/
func BenchmarkAbsorb(b *testing.B) {
	for _, kind := range []string{"ws", "tcp"} {
		b.Run(kind, func(b *testing.B) { benchAbsorb(b, kind, 100, 50) })
	}
}

func benchAbsorb(b *testing.B, kind string, nsubs, batch int) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	var (
		mu      sync.Mutex
		wsConns []*websocket.Conn
		tcp     []net.Conn
		joined  = make(chan struct{}, nsubs)
	)
	if kind == "ws" {
		up := websocket.Upgrader{}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := up.Upgrade(w, r, nil)
			if err != nil {
				return
			}
			mu.Lock()
			wsConns = append(wsConns, c)
			mu.Unlock()
			joined <- struct{}{}
		})}
		go srv.Serve(l)
		defer srv.Close()
	} else {
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				mu.Lock()
				tcp = append(tcp, c)
				mu.Unlock()
				joined <- struct{}{}
			}
		}()
	}
	planned := int64(b.N) * int64(batch)
	h := &histogram{}
	ep := endpoints{tcp: l.Addr().String(), http: l.Addr().String(), bufSize: 64 << 10}
	deadline := time.Now().Add(10 * time.Minute)
	subs := make([]*sub, nsubs)
	for i := range subs {
		subs[i] = newSub(i, kind, planned, h)
	}
	conns, err := dialAll(context.Background(), subs, ep, deadline, false)
	if err != nil {
		b.Fatal(err)
	}
	for range nsubs {
		<-joined
	}
	var wg sync.WaitGroup
	for i, s := range subs {
		wg.Go(func() { conns[i].loop(s) })
	}
	defer func() {
		for _, c := range conns {
			c.c.Close()
		}
		wg.Wait()
	}()

	var msg []byte
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		msg = msg[:0]
		now := time.Now().UnixNano()
		if kind == "ws" {
			msg = append(msg, `{"type":"hits","hits":[`...)
		}
		for k := range batch {
			seq := int64(n*batch + k)
			if kind == "ws" {
				if k > 0 {
					msg = append(msg, ',')
				}
				msg = record(msg, seq, now)
			} else {
				msg = append(msg, `<hit seq="1" path="/bench/`...)
				msg = strconv.AppendInt(msg, seq, 10)
				msg = append(msg, '/')
				msg = strconv.AppendInt(msg, now, 10)
				msg = append(msg, `" source="access.log" time="2026-11-21T10:00:00+00:00" host="203.0.113.9" method="GET" proto="HTTP/1.1" status="200" bytes="2326" referer="https://www.example.com/" agent="Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"/>`+"\n"...)
			}
		}
		if kind == "ws" {
			msg = append(msg, "]}"...)
			pm, err := websocket.NewPreparedMessage(websocket.TextMessage, msg)
			if err != nil {
				b.Fatal(err)
			}
			for _, c := range wsConns {
				if err := c.WritePreparedMessage(pm); err != nil {
					b.Fatal(err)
				}
			}
		} else {
			for _, c := range tcp {
				if _, err := c.Write(msg); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	want := planned * int64(nsubs)
	for {
		var got int64
		for _, s := range subs {
			got += s.delivered.Load()
		}
		if got >= want {
			break
		}
		time.Sleep(100 * time.Microsecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(want), "ns/delivery")
}

// BenchmarkScan is the per-record cost of finding and accounting for the
// marker in a weblogd ws batch of 50 records.
func BenchmarkScan(b *testing.B) {
	now := time.Now().UnixNano()
	msg := []byte(`{"type":"hits","hits":[`)
	for k := range 50 {
		if k > 0 {
			msg = append(msg, ',')
		}
		msg = record(msg, int64(k), now)
	}
	msg = append(msg, "]}"...)
	s := newSub(0, "ws", 50, &histogram{})
	b.ResetTimer()
	for range b.N {
		clear(s.seen)
		s.scan(msg, now)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*50), "ns/record")
}
