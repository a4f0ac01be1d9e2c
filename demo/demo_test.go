package demo_test

import (
	"context"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weblogd/weblogd/demo"
	"github.com/weblogd/weblogd/format"
)

func TestLinesParse(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	statuses := map[int]int{}
	for i := 0; i < 1000; i++ {
		l := demo.Line(r, time.Date(2026, 11, 21, 10, 0, 0, 0, time.FixedZone("", 3600)))
		rec := format.Parse(l)
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
	f, err := demo.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- demo.Write(ctx, f, 200) }()
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
}

// A rate Write cannot keep is refused, not a panic or a ticker that never
// fires.
func TestWriteRefusesBadRates(t *testing.T) {
	for _, rate := range []float64{0, -3, math.NaN(), math.Inf(1), math.Inf(-1), 2e9, demo.MaxRate + 1} {
		if err := demo.CheckRate(rate); err == nil {
			t.Errorf("CheckRate(%v)=nil, want an error", rate)
		}
		if err := demo.Write(context.Background(), io.Discard, rate); err == nil {
			t.Errorf("Write with rate %v = nil error, want one", rate)
		}
	}
	for _, rate := range []float64{0.01, 5, demo.MaxRate} {
		if err := demo.CheckRate(rate); err != nil {
			t.Errorf("CheckRate(%v)=%v, want nil", rate, err)
		}
	}
}

func TestOpenInAMissingDirectory(t *testing.T) {
	if _, err := demo.Open(filepath.Join(t.TempDir(), "missing", "access.log")); err == nil {
		t.Fatal("Open in a missing directory = nil error, want one")
	}
}
