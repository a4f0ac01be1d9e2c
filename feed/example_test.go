package feed_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/weblogd/weblogd/broadcast"
	"github.com/weblogd/weblogd/feed"
)

// Run a server inside your own program and take its records in-process.
func ExampleServer_Subscribe() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	log := filepath.Join(dir, "access.log")
	os.WriteFile(log, nil, 0o644)

	srv, err := feed.New(feed.Config{
		Logs:     []string{log},
		HTTPAddr: feed.NoListen, // no listeners: in-process only
		TCPAddr:  feed.NoListen,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error)
	go func() { done <- srv.Run(ctx) }()

	sub, err := srv.Subscribe(ctx, broadcast.SubscribeOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	f, _ := os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`203.0.113.9 - - [21/Nov/2026:10:00:00 +0100] "GET /index.html HTTP/1.1" 200 2326 "-" "curl/8.5.0"` + "\n")
	f.Close()

	<-sub.Ready()
	for _, it := range sub.Take() {
		for _, r := range it.Batch.Records {
			fmt.Println(r.Seq, r.Source, r.Host, r.Method, r.Path, r.Status, r.Time.Format("15:04 -0700"))
		}
	}
	sub.Close()
	cancel()
	fmt.Println("run:", <-done)
	// Output:
	// 1 access.log 203.0.113.9 GET /index.html 200 10:00 +0100
	// run: <nil>
}

// Mount the whole HTTP surface on your own mux, under a prefix.
func ExampleServer_Handler() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	srv, err := feed.New(feed.Config{
		Logs:     []string{filepath.Join(dir, "access.log")},
		HTTPAddr: feed.NoListen,
		TCPAddr:  feed.NoListen,
		BasePath: "/weblog/",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	mux := http.NewServeMux()
	mux.Handle("/weblog/", srv.Handler())
	ts := httptest.NewServer(mux)
	defer ts.Close()

	resp, err := http.Get(ts.URL + "/weblog/healthz")
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Print(resp.Status, " ", string(body))
	// Output: 200 OK ok
}
