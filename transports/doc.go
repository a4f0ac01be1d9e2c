// Package transports owns what every transport shares: the wire encodings
// of records and gap markers (XML and JSON, see PROTOCOL.md), each batch
// encoded at most once per format whatever the number of subscribers, and
// the options common to all connections. The filter joins them later.
//
// The subpackages (tcpxml, httpchunk, sse, ws) each turn a subscription
// into bytes on one kind of connection; they import this package and never
// each other.
//
// The encoders are pure functions of their arguments and safe for
// concurrent use: the records they read are immutable once in the ring.
package transports
