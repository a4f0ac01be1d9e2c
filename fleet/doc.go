// Package fleet owns weblogd's scale-out through NATS JetStream: the
// Publisher that sends a node's records to a stream, the Edge that takes
// the merged records of every publisher back out of it, the wire form
// between them, and how both authenticate (Auth).
//
// # Wire form
//
// Each JetStream message is a batch of records of one node and one source,
// on the subject <prefix>.<node>.<source> (tokens sanitised, see Subject),
// in a compact binary form that starts with its version (see wire.go;
// AppendBatch writes it, DecodeBatch reads it). An edge that meets a
// version it does not know skips the batch, counts its records and logs it
// once. Every message carries a Nats-Msg-Id (see BatchID) built from node,
// source, the key of its first record (the file and offset of its line,
// or its seq) and its number of records; a batch is made once and always
// sent again as the same batch, across a restart too (the buffer file
// keeps its bounds), so that a republish is dropped by the stream's
// duplicate window instead of stored twice.
//
// # Delivery
//
// A Publisher keeps each record until the stream acknowledges it: in a
// bounded buffer in memory and, with PublisherConfig.BufferFile, in a
// file too (see disk.go), so that neither an outage nor a restart loses a
// record. While the buffer is full, the lines of log files wait in their
// files (PublishWait) and only lines that cannot be read again are
// dropped (Publish). It keeps up to Window batches in flight and, after
// any failure, sends again from the oldest unacknowledged batch, in
// order, with the same ids (see Publisher for why that keeps the
// order). An Edge takes batches through a durable pull consumer, one per
// edge by default (DefaultDurable), and hands their records on in stream
// order, each once.
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
// (counted) and PublishWait waits for room or its ctx. The Edge calls its
// handler from Run's goroutine, one record at a time, in stream order.
// Stats, NotReady, Full and Sync may be called from any goroutine.
package fleet
