package transports

import (
	"strconv"
	"time"

	"github.com/weblogd/weblogd/broadcast"
	"github.com/weblogd/weblogd/record"
)

// DefaultWriteTimeout bounds every write to a subscriber. A peer that
// accepts nothing for this long is stalled or gone; ten seconds rides out
// a congested link but frees the slot of a client that stopped reading.
const DefaultWriteTimeout = 10 * time.Second

// recordSizeHint is a typical encoded record (a combined line is 300–400
// bytes on the wire). Buffers start at this times the batch size, so that
// a batch is encoded in one allocation instead of a chain of regrowths.
const recordSizeHint = 400

func sized(recs []*record.Record) []byte {
	return make([]byte, 0, recordSizeHint*len(recs))
}

// memoKey names a wire encoding in broadcast.Batch.Memo.
type memoKey int

const (
	xmlLinesKey memoKey = iota
	jsonLinesKey
	sseKey
	wsKey
)

// XMLLines returns the batch as <hit> elements, one per line, encoded
// once per batch however many subscribers write it. The result is shared:
// do not modify it.
func XMLLines(b *broadcast.Batch) []byte {
	return b.Memo(xmlLinesKey, func(b *broadcast.Batch) any {
		return AppendXMLLines(sized(b.Records), b.Records)
	}).([]byte)
}

// JSONLines returns the batch as JSON records, one per line (ndjson),
// encoded once per batch. The result is shared: do not modify it.
func JSONLines(b *broadcast.Batch) []byte {
	return b.Memo(jsonLinesKey, func(b *broadcast.Batch) any {
		return AppendJSONLines(sized(b.Records), b.Records)
	}).([]byte)
}

// AppendXMLLines appends each record as a <hit> line.
func AppendXMLLines(dst []byte, recs []*record.Record) []byte {
	for _, r := range recs {
		dst = AppendXML(dst, r)
		dst = append(dst, '\n')
	}
	return dst
}

// AppendJSONLines appends each record as a JSON line.
func AppendJSONLines(dst []byte, recs []*record.Record) []byte {
	for _, r := range recs {
		dst = AppendJSON(dst, r)
		dst = append(dst, '\n')
	}
	return dst
}

// SSE returns the batch as Server-Sent Events, one "hit" event per record
// with its seq as the event id, encoded once per batch. Do not modify it.
func SSE(b *broadcast.Batch) []byte {
	return b.Memo(sseKey, func(b *broadcast.Batch) any {
		return AppendSSE(sized(b.Records), b.Records)
	}).([]byte)
}

// AppendSSE appends each record as an SSE "hit" event.
func AppendSSE(dst []byte, recs []*record.Record) []byte {
	for _, r := range recs {
		dst = append(dst, "id: "...)
		dst = strconv.AppendUint(dst, r.Seq, 10)
		dst = append(dst, "\nevent: hit\ndata: "...)
		dst = AppendJSON(dst, r) // JSON has no raw newline, so one data line
		dst = append(dst, "\n\n"...)
	}
	return dst
}

// AppendSSEGap appends a gap as an SSE "gap" event. It carries no id: a
// client that reconnects resumes after the last record it really got,
// and so may still find the missed records in the ring.
func AppendSSEGap(dst []byte, g broadcast.Gap) []byte {
	dst = append(dst, "event: gap\ndata: "...)
	dst = AppendJSONGap(dst, g.From, g.To)
	return append(dst, "\n\n"...)
}

// WSMessage returns the batch as one WebSocket text message body,
// {"type":"hits","hits":[...]}, encoded once per batch. Do not modify it.
func WSMessage(b *broadcast.Batch) []byte {
	return b.Memo(wsKey, func(b *broadcast.Batch) any {
		return AppendWSMessage(sized(b.Records), b.Records)
	}).([]byte)
}

// AppendWSMessage appends records as one {"type":"hits"} message.
func AppendWSMessage(dst []byte, recs []*record.Record) []byte {
	dst = append(dst, `{"type":"hits","hits":[`...)
	for i, r := range recs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendJSON(dst, r)
	}
	return append(dst, "]}"...)
}
