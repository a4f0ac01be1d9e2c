// Package fleet owns weblogd's scale-out through NATS JetStream: the
// Publisher that sends a node's records to a stream, the Edge that takes
// the merged records of every publisher back out of it, the wire form
// between them, and how both authenticate (Auth).
//
// # Wire form
//
// Each record is one JetStream message on the subject
// <prefix>.<node>.<source> (tokens sanitised, see Subject), whose body is
// the record's JSON form (transports.AppendJSON, node included) plus the
// raw line under "raw" for parsed records too, so that an edge can still
// filter on it. Decode turns a body back into a record.Record. Every
// message carries a Nats-Msg-Id (see MsgID) built from node, source and a
// key that names the line (its file and offset, or its seq), so that a
// republish, after an outage or a restart, is dropped by the stream's
// duplicate window instead of stored twice.
//
// # Delivery
//
// A Publisher keeps each record until the stream acknowledges it: in a
// bounded buffer in memory and, with PublisherConfig.BufferFile, in a
// file too (see disk.go), so that neither an outage nor a restart loses a
// record. It keeps up to Window publishes in flight and, after any
// failure, sends again from the oldest unacknowledged record, in order,
// with the same ids (see Publisher for why that keeps the order). An Edge
// takes records through a durable pull consumer, one per edge by default
// (DefaultDurable), and hands them on in stream order, each once.
//
// # Concurrency
//
// NewPublisher and NewEdge start nothing (NewPublisher opens its buffer
// file, which Close closes). Run starts the connection and the one
// goroutine that sends (Publisher) or fetches (Edge), and returns only
// when ctx is done and everything it started has stopped; the NATS
// client's own goroutines end with the connection, which Run closes.
// Publisher.Publish and PublishWait may be called from any goroutine,
// before, during or after Run; records wait in the buffer until NATS
// acknowledges them. While the buffer is full, Publish drops its record
// (counted) and PublishWait waits for room or its ctx. The Edge calls its handler from Run's goroutine, one record at a
// time, in stream order. Stats, NotReady and Sync may be called from any
// goroutine.
package fleet
