// Package demo writes realistic access-log traffic, so that a newcomer sees
// weblogd move before pointing it at a real server, and so that tests and
// load runs have lines that look like production: Combined Log Format with
// a plausible mix of clients, paths, statuses and agents.
package demo

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"time"
)

var (
	paths = []string{
		"/", "/", "/", "/index.html", "/about", "/blog/", "/blog/2026/11/live-logs",
		"/static/app.css", "/static/app.js", "/static/logo.svg", "/favicon.ico",
		"/api/v1/items?page=2", "/api/v1/items/42", "/search?q=weblogd", "/login",
		"/wp-login.php", "/.env", "/robots.txt", "/feed.xml", "/images/hero.jpg",
	}
	methods = []string{"GET", "GET", "GET", "GET", "GET", "GET", "POST", "HEAD", "PUT", "DELETE"}
	agents  = []string{
		"Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
		"curl/8.5.0", "Go-http-client/1.1", "Googlebot/2.1 (+http://www.google.com/bot.html)",
	}
	referers = []string{"-", "-", "-", "https://www.example.com/", "https://news.example.org/item?id=1", "https://www.google.com/"}
	clients  = []string{
		"203.0.113.9", "203.0.113.77", "198.51.100.23", "192.0.2.14", "198.51.100.200",
		"2001:db8::1", "2001:db8:85a3::8a2e:370:7334", "203.0.113.150",
	}
)

// Line returns one Combined Log Format line for time t, drawn from r.
func Line(r *rand.Rand, t time.Time) string {
	status := 200
	switch n := r.IntN(100); {
	case n < 8:
		status = 304
	case n < 12:
		status = 301
	case n < 20:
		status = 404
	case n < 22:
		status = 500
	case n < 23:
		status = 503
	}
	path := paths[r.IntN(len(paths))]
	size := "-"
	if status != 304 {
		size = fmt.Sprint(200 + r.IntN(60000))
	}
	return fmt.Sprintf(`%s - - [%s] "%s %s HTTP/1.1" %d %s "%s" "%s"`,
		clients[r.IntN(len(clients))], t.Format("02/Jan/2006:15:04:05 -0700"),
		methods[r.IntN(len(methods))], path, status, size,
		referers[r.IntN(len(referers))], agents[r.IntN(len(agents))])
}

// MaxRate is the highest rate Write takes: a line every 10 µs, about as
// often as a ticker can fire.
const MaxRate = 100_000

// CheckRate says what is wrong with rate for Write; nil when it is fine.
func CheckRate(rate float64) error {
	if !(rate > 0 && rate <= MaxRate) { // false for NaN too
		return fmt.Errorf("rate %v: want more than 0 and at most %d lines per second", rate, MaxRate)
	}
	return nil
}

// Open opens the file at path (created if needed) for Write to append to.
func Open(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644) // #nosec G302 -- an access log, readable like the web server's
	if err != nil {
		return nil, fmt.Errorf("open the demo log: %w", err)
	}
	return f, nil
}

// Write appends rate lines per second to w (a file from Open) until ctx
// is done. It writes each line with one write call, as web servers do.
func Write(ctx context.Context, w io.Writer, rate float64) error {
	if err := CheckRate(rate); err != nil {
		return fmt.Errorf("write demo traffic: %w", err)
	}
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1)) // #nosec G404 -- demo traffic, not a secret
	t := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			if _, err := io.WriteString(w, Line(r, now)+"\n"); err != nil {
				return fmt.Errorf("write demo traffic: %w", err)
			}
		}
	}
}
