package stats_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/weblogd/weblogd/record"
	"github.com/weblogd/weblogd/stats"
)

func TestAddWhileQuery(t *testing.T) {
	rs := readLog(t, apacheLog)
	clk := newClock(newest(rs).Add(30 * time.Second))
	s := stats.New(stats.Config{Now: clk.Now})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := g; i < len(rs); i += 4 {
				s.Add(rs[i])
			}
		}(g)
	}
	stop := make(chan struct{})
	qdone := make(chan struct{})
	go func() {
		defer close(qdone)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := s.Query(stats.Query{Window: 24 * time.Hour, Match: func(r *record.Record) bool { return r.Status == 200 }}); err != nil {
				t.Error(err)
				return
			}
			if _, err := s.Query(stats.Query{Window: 24 * time.Hour}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	wg.Wait()
	close(stop)
	<-qdone
	res, err := s.Query(stats.Query{Window: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	end := clk.Now()
	want := brute(rs, end.Truncate(time.Minute).Add(time.Minute-24*time.Hour), end, nil)
	check(t, "concurrent", res, want, false)
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not end with its context")
	}
}

// A Query holds the statistics while its Match runs; Add must not wait
// for it.
func TestAddNeverWaitsForQuery(t *testing.T) {
	rs := readLog(t, apacheLog)
	clk := newClock(newest(rs).Add(30 * time.Second))
	s := stats.New(stats.Config{Now: clk.Now})
	s.Add(rs[len(rs)-1])
	added := make(chan struct{})
	entered := make(chan struct{})
	var once sync.Once
	qdone := make(chan error)
	go func() {
		_, err := s.Query(stats.Query{Match: func(*record.Record) bool {
			once.Do(func() { close(entered) })
			<-added
			return true
		}})
		qdone <- err
	}()
	<-entered
	go func() {
		for _, r := range rs[len(rs)-1001 : len(rs)-1] {
			s.Add(r)
		}
		close(added)
	}()
	select {
	case <-added:
	case <-time.After(10 * time.Second):
		t.Fatal("Add waited for a Query")
	}
	if err := <-qdone; err != nil {
		t.Fatal(err)
	}
	res, err := s.Query(stats.Query{Window: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	end := clk.Now()
	want := brute(rs[len(rs)-1001:], end.Truncate(time.Minute).Add(time.Minute-24*time.Hour), end, nil)
	if want.requests != 1001 || res.Requests != want.requests {
		t.Errorf("%d requests after adding during a query, want %d", res.Requests, want.requests)
	}
}
