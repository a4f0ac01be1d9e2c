package demo_test

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weblogd/weblogd/demo"
	"github.com/weblogd/weblogd/feed"
)

func TestLinesParse(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	statuses := map[int]int{}
	for i := 0; i < 1000; i++ {
		l := demo.Line(r, time.Date(2026, 11, 21, 10, 0, 0, 0, time.FixedZone("", 3600)))
		rec := feed.Parse(l)
		if !rec.Parsed {
			t.Fatalf("demo line does not parse: %q", l)
		}
		statuses[rec.Status/100]++
	}
	for _, class := range []int{2, 3, 4, 5} {
		if statuses[class] == 0 {
			t.Errorf("no %dxx status in 1000 demo lines: %v", class, statuses)
		}
	}
}

func TestWriteAppendsAtRate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- demo.Write(ctx, path, 200) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if strings.Count(string(b), "\n") >= 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("fewer than 10 lines written in 10s at 200/s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Write()=%v", err)
	}
	if err := demo.Write(context.Background(), path, 0); err == nil {
		t.Fatal("Write with rate 0 = nil error, want one")
	}
}
