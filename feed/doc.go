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
//
// Security is configured here and enforced at the edges: with a
// TokenFile, requireToken (auth.go) stands in front of every HTTP route
// but the probes and the login page, and puts the token's
// transports.Grant in the request's context, where the transports read its
// fixed filter; the raw port asks for AUTH itself (tcpxml). A stream keeps
// its Grant (transports.Peer), and the credential watcher of Run
// (revoke.go), the only reader of the token files, ends the streams whose
// token was removed or whose browser session ended. Redaction
// (Config.Redact) is applied where a line becomes a record, before the
// ring, so no transport ever holds an unmasked record. The admin API
// (admin.go, AdminTokenFile) lists and ends subscribers through the hub
// and changes its tick and slow timeout while it runs.
//
// Every record that enters the ring, whatever its way in, is also given
// to the statistics (package stats; keep in stats.go) once it has its
// seq; at start, each log's lines of Config.History are read into them
// first (readPast, with tailer.Since). GET /api/stats (api_stats.go)
// queries them, and the duration histogram (durations.go) is fed beside
// them.
package feed
