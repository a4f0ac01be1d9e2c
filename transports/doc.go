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
// goroutine (Pump, Flush).
//
// Raw TCP and WebSocket connections, plain or TLS, which their transports
// own, live one way, and keep no goroutine, timer or channel while idle:
//
//   - Waiting for input: the connection is in a Poller (poller.go; one
//     epoll set on Linux), with no goroutine. A TLS connection is switched
//     by Poller.Add to reads that never wait (certs.NoWait) and waits on the
//     descriptor of the TCP connection under it.
//   - Reading: when the peer sends something or goes, the Poller calls the
//     connection's ready function, which starts a short-lived reader:
//     Waiting.ReadAvailable reads everything there is (through crypto/tls
//     for TLS), hands it to the transport (commands, control frames), and
//     lets the connection wait again, or returns why it is over.
//   - Writing: the hub calls Writer.Notify; the write runs on the shared
//     WriterPool (writer.go), writes everything pending in one write with
//     a deadline (Deadline, under the Drain at shutdown), and ends. The
//     reader answers a command with Writer.Do, so that writes never
//     overlap.
//   - Heartbeat: the pool's one sweep has a Writer write a heartbeat when
//     its period is due (WebSocket pings; a silent peer is then ended).
//   - Goodbye: the last write says why the stream ended (a reason, then
//     the end of the document or a close frame); Writer's end closes the
//     connection and wakes it (Waiting.Wake), and its reader ends it:
//     Writer.Stop, Waiting.Remove, the subscription closed.
//
// The shared parts, by name:
//
//   - Poller: NewPoller, Add(conn, ready) (*Waiting, error), Close. Add
//     takes a plain TCP or Unix connection, a *tls.Conn from certs.Listener
//     or net/http's TLS over certs.FailFast, or a wrapper of either with a
//     NetConn method (feed's token slots); anything else (no descriptor,
//     such as net.Pipe) is ErrCannotWait, which weblogd's servers never
//     meet: the owner reads such a connection another way, or closes it.
//   - Waiting, one connection in a Poller: ReadAvailable(size, input)
//     reads until nothing is left, then WaitInput; WaitInput and
//     WaitHangup (after the end of the peer's input, for its hang-up only)
//     have ready called once; Wake calls it now, for a connection its owner
//     closed; Remove, once, when done. A TLS connection's first call is
//     ReadAvailable, since crypto/tls may hold input read with the
//     handshake.
//   - Writer: NewWriter(flush, end, heartbeat, pool), Start, Notify (the
//     subscription's Notify), Do (the reader's write), Stop.
//   - WriterPool: the goroutines that run the writes, and the heartbeat
//     sweep; its zero value is ready, Close once no Writer is left.
//
// The encoders are pure functions of their arguments and safe for
// concurrent use: the records they read are immutable once in the ring.
// Limiter, Drain and Counters are safe for concurrent use: a server has
// one Limiter and one Drain for all its transports, and Counters for each.
package transports
