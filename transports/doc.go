// Package transports owns what every transport shares: the wire encodings
// of records and gap markers (XML and JSON, see docs/protocol.md), each batch
// encoded at most once per format whatever the number of subscribers, the
// filter, the options common to all connections, and what bounds them all
// together: the Limiter (subscribers in all and per client address), the
// Drain (every write deadline at shutdown), and the counters with the
// typed reasons why a stream ended or was refused. With authentication,
// a Grant (in a request's context, or from a raw client's AUTH line) adds
// a token's fixed filter to whatever a client asks for (ParseRequest ANDs
// it in), and a TokenLimiter bounds the subscribers per token.
//
// The subpackages (tcpxml, httpchunk, sse, ws) each turn a subscription
// into bytes on one kind of connection; they import this package and never
// each other. The HTTP streams (/hits, /events) write from the request's
// goroutine (Pump). Raw TCP and WebSocket connections, which their
// transports own, keep no goroutine while idle: a Writer queues a write
// on its WriterPool only when the hub has something for them, and they
// wait in a Poller (one epoll set) until the client sends something.
//
// The encoders are pure functions of their arguments and safe for
// concurrent use: the records they read are immutable once in the ring.
// Limiter, Drain and Counters are safe for concurrent use: a server has
// one Limiter and one Drain for all its transports, and Counters for each.
package transports
