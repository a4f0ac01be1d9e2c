// Package certs owns weblogd's TLS: the server certificate read from a pair
// of PEM files and read again when they change, so that a renewal needs no
// restart; the server tls.Config built on it, with modern defaults (TLS 1.2
// at least); and the listeners that put TLS on a port.
//
// A Pair checks its files during handshakes, at most once per
// CheckInterval, and keeps serving the certificate it has when a new pair
// fails to load (a certificate written before its key, a typo), logging
// why once per change of the files. It starts no goroutine.
//
// Listen wraps a listener so that Accept returns only connections whose TLS
// handshake succeeded within a deadline: a raw stream protocol (weblogd's
// raw XML port) then never holds a subscriber slot for a client that is not
// speaking TLS, and a client that is (someone typing at nc) is told so in
// plain text. FailFast wraps a listener so that a TLS connection whose write
// failed is not held open by crypto/tls's close_notify for 5 s more; the
// HTTP server uses it under net/http's own TLS. NoWait switches a TLS
// connection from either, once its handshake is done, to reads that never
// wait, so that it can wait for input with no goroutine (transports'
// Poller) like a plain one.
//
// Concurrency: a Pair is safe for concurrent use. A Listener owns one accept
// goroutine, started by the first Accept, and one goroutine per handshake
// under way; Close stops all of them and waits for them.
package certs
