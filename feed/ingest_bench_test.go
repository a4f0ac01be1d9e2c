package feed_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/weblogd/weblogd/feed"
)

// One client POSTs Combined lines to /ingest, 10,000 a request, as fast
// as the server takes them into the ring; lines/s is the figure.
func BenchmarkIngest(b *testing.B) {
	for _, kind := range []string{"text", "ndjson"} {
		b.Run(kind, func(b *testing.B) {
			srv, err := feed.New(feed.Config{HTTPAddr: "127.0.0.1:0", TCPAddr: feed.NoListen, Backfill: -1,
				IngestTokenFile: writeTokenFile(b, tokIngest)})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- srv.Run(ctx) }()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					b.Error(err)
				}
			}()
			<-srv.Ready()
			const perRequest = 10000
			var body bytes.Buffer
			ct := ""
			for i := range perRequest {
				line := strings.Replace(combined, "/index.html?q=1", fmt.Sprintf("/bench/%d", i), 1)
				if kind == "ndjson" {
					ct = "application/x-ndjson"
					fmt.Fprintf(&body, `{"date":1795251600.123456,"log":%q}`+"\n", line)
				} else {
					body.WriteString(line + "\n")
				}
			}
			u := "http://" + srv.HTTPAddr().String() + "/ingest?source=bench"
			client := &http.Client{}
			b.SetBytes(int64(body.Len() / perRequest))
			b.ResetTimer()
			start := time.Now()
			sent := 0
			for sent < b.N {
				req, _ := http.NewRequest(http.MethodPost, u, bytes.NewReader(body.Bytes()))
				req.Header.Set("Authorization", "Bearer "+tokIngest)
				if ct != "" {
					req.Header.Set("Content-Type", ct)
				}
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatal(resp.Status)
				}
				sent += perRequest
			}
			b.ReportMetric(float64(sent)/time.Since(start).Seconds(), "lines/s")
		})
	}
}
