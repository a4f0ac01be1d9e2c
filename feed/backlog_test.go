package feed_test

import (
	"fmt"
	"testing"

	"github.com/weblogd/weblogd/feed"
)

// A stream's backlog=N is the newest N records in the ring when it
// starts, those /api/hits shows, whether the hub has flushed them to the
// live subscribers yet or not: nothing older, and none of them again as
// live records. Records arrive in bursts, so a stream often starts
// while the end of a burst waits for its flush.
func TestStreamBacklogIsTheNewestInTheRing(t *testing.T) {
	log := tempLog(t)
	srv := startServer(t, feed.Config{Logs: []string{log}})
	kinds := []string{kindNDJSON, kindXML, kindSSE, kindWS}
	iterations := 100
	var last uint64
	for i := range iterations {
		kind := kinds[i%len(kinds)]
		lines := make([]string, 5)
		for j := range lines {
			lines[j] = accessLine("203.0.113.9", "GET", fmt.Sprintf("/%d/%d", i, j), 200, "backlog")
		}
		writeLines(t, log, lines...)
		last += uint64(len(lines))
		waitUntil(t, func() bool {
			hits := apiHits(t, srv, "limit=1")
			return len(hits) == 1 && hits[0].Seq == last
		})
		s := dialLive(t, srv, kind, "backlog=2", nil)
		got, err := readSeqs(s, 2)
		if err != nil {
			t.Fatalf("iteration %d, %s: %v", i, kind, err)
		}
		if want := []uint64{last - 1, last}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("iteration %d, %s?backlog=2 with %d in the ring: history %v, want %v", i, kind, last, got, want)
		}
		writeLines(t, log, accessLine("203.0.113.9", "GET", "/live", 200, "backlog"))
		last++
		if it := s.mustNext(t); it.Gap || it.Seq != last {
			t.Fatalf("iteration %d, %s: first live item %+v, want seq %d", i, kind, it, last)
		}
		s.close()
	}
}
