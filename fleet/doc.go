// Package fleet owns weblogd's scale-out through NATS JetStream: the
// Publisher that sends a node's records to a stream, the Edge that takes
// the merged records of every publisher back out of it, and the wire form
// between them.
//
// # Wire form
//
// Each record is one JetStream message on the subject
// <prefix>.<node>.<source> (tokens sanitised, see Subject), whose body is
// the record's JSON form (transports.AppendJSON, node included) plus the
// raw line under "raw" for parsed records too, so that an edge can still
// filter on it. Decode turns a body back into a broadcast.Record. Every
// message carries a Nats-Msg-Id (see MsgID) built from node, source and a
// key that names the line (its file and offset, or its seq), so that a
// republish, after an outage or a restart, is dropped by the stream's
// duplicate window instead of stored twice.
//
// # Concurrency
//
// NewPublisher and NewEdge start nothing. Run starts the connection and
// the one goroutine that sends (Publisher) or fetches (Edge), and returns
// only when ctx is done and everything it started has stopped; the NATS
// client's own goroutines end with the connection, which Run closes.
// Publisher.Publish may be called from any goroutine, before or during
// Run; it never blocks: records wait in a bounded buffer (oldest dropped
// and counted when it is full) until NATS acknowledges them. The Edge
// calls its handler from Run's goroutine, one record at a time, in stream
// order.
package fleet
