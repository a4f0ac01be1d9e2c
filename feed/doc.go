// Package feed is weblogd's front door and its embedding API: a Server
// follows access logs, turns each line into a record (the Common/Combined
// Log Format parser lives here), and serves them over every transport.
//
//	srv, err := feed.New(feed.Config{Logs: []string{"/var/log/nginx/access.log"}})
//	...
//	err = srv.Run(ctx) // until ctx is cancelled; then every stream ends properly
//
// New validates and starts nothing. Run starts every goroutine of the
// server and returns only after all of them have returned. Handler is the
// whole HTTP surface, for mounting on the embedder's own mux; Subscribe
// takes records in-process. The package installs no signal handler, never
// exits the process and registers nothing globally.
package feed
