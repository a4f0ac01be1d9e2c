package broadcast_test

import (
	"sync"
	"testing"
	"time"

	"github.com/weblogd/weblogd/broadcast"
	"github.com/weblogd/weblogd/record"
)

func seqs(recs []*record.Record) []uint64 {
	out := make([]uint64, len(recs))
	for i, r := range recs {
		out[i] = r.Seq
	}
	return out
}

func equal(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func span(from, to uint64) []uint64 {
	var out []uint64
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

func TestRing(t *testing.T) {
	t.Run("numbers from one and keeps the newest", func(t *testing.T) {
		r := broadcast.NewRing(4, 0)
		for i := 0; i < 6; i++ {
			if got, want := r.Append(&record.Record{}), uint64(i+1); got != want {
				t.Fatalf("Append()=%d, want %d", got, want)
			}
		}
		if first, last := r.Bounds(); first != 3 || last != 6 {
			t.Fatalf("Bounds()=%d,%d, want 3,6", first, last)
		}
		recs, first := r.After(0, 100, 0)
		if first != 3 || !equal(seqs(recs), span(3, 6)) {
			t.Fatalf("After(0)=%v first %d, want 3..6 first 3", seqs(recs), first)
		}
		recs, _ = r.After(4, 5, 0)
		if !equal(seqs(recs), []uint64{5}) {
			t.Fatalf("After(4, upTo 5)=%v, want [5]", seqs(recs))
		}
		recs, _ = r.After(3, 100, 2)
		if !equal(seqs(recs), []uint64{4, 5}) {
			t.Fatalf("After(3, max 2)=%v, want [4 5]", seqs(recs))
		}
		if recs, _ = r.After(6, 100, 0); len(recs) != 0 {
			t.Fatalf("After(6)=%v, want none", seqs(recs))
		}
	})
	t.Run("continues a numbering", func(t *testing.T) {
		r := broadcast.NewRing(3, 41)
		if first, last := r.Bounds(); first != 42 || last != 41 {
			t.Fatalf("empty Bounds()=%d,%d, want 42,41", first, last)
		}
		if got := r.Append(&record.Record{}); got != 42 {
			t.Fatalf("Append()=%d, want 42", got)
		}
	})
	t.Run("tail with and without a match", func(t *testing.T) {
		r := broadcast.NewRing(10, 0)
		for i := 0; i < 15; i++ {
			r.Append(&record.Record{Status: 200 + i%2*204})
		}
		if got := seqs(r.Tail(3, 100, nil)); !equal(got, []uint64{13, 14, 15}) {
			t.Fatalf("Tail(3)=%v, want [13 14 15]", got)
		}
		odd := func(r *record.Record) bool { return r.Status == 404 }
		if got := seqs(r.Tail(3, 14, odd)); !equal(got, []uint64{10, 12, 14}) {
			t.Fatalf("Tail(3, ≤14, 404s)=%v, want [10 12 14]", got)
		}
		if got := seqs(r.Tail(50, 100, nil)); !equal(got, span(6, 15)) {
			t.Fatalf("Tail(50)=%v, want 6..15", got)
		}
	})
	t.Run("concurrent appends get one gap-free numbering", func(t *testing.T) {
		r := broadcast.NewRing(1000, 0)
		var wg sync.WaitGroup
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 250; i++ {
					r.Append(&record.Record{})
				}
			}()
		}
		wg.Wait()
		recs, _ := r.After(0, 1000, 0)
		if !equal(seqs(recs), span(1, 1000)) {
			t.Fatalf("After(0) after 4×250 appends is not 1..1000")
		}
	})
	t.Run("gives out no seq above the limit", func(t *testing.T) {
		r := broadcast.NewRing(8, 10)
		r.SetLimit(12)
		r.Append(&record.Record{})
		r.Append(&record.Record{})
		third := make(chan uint64)
		go func() { third <- r.Append(&record.Record{}) }()
		select {
		case <-r.Short():
		case <-time.After(10 * time.Second):
			t.Fatal("an Append at the limit did not say so on Short")
		}
		select {
		case seq := <-third:
			t.Fatalf("Append gave out seq %d above the limit 12", seq)
		case <-time.After(20 * time.Millisecond):
		}
		if r.Last() != 12 {
			t.Fatalf("Last()=%d, want 12", r.Last())
		}
		r.SetLimit(20)
		if seq := <-third; seq != 13 {
			t.Fatalf("Append after the limit rose = %d, want 13", seq)
		}
	})
}

func BenchmarkRingAppend(b *testing.B) {
	r := broadcast.NewRing(broadcast.DefaultRingSize, 0)
	recs := make([]record.Record, 1024)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r.Append(&recs[i%len(recs)])
	}
}

func BenchmarkRingAfter100(b *testing.B) {
	r := broadcast.NewRing(broadcast.DefaultRingSize, 0)
	for i := 0; i < 20000; i++ {
		r.Append(&record.Record{})
	}
	b.ReportAllocs()
	for b.Loop() {
		r.After(19900, 20000, 0)
	}
}
