package transports

import (
	"time"

	"github.com/weblogd/weblogd/broadcast"
)

// DefaultWriteTimeout bounds every write to a subscriber. A peer that
// accepts nothing for this long is stalled or gone; ten seconds rides out
// a congested link but frees the slot of a client that stopped reading.
const DefaultWriteTimeout = 10 * time.Second

// memoKey names a wire encoding in broadcast.Batch.Memo.
type memoKey int

const (
	xmlLinesKey memoKey = iota
	jsonLinesKey
)

// XMLLines returns the batch as <hit/> elements, one per line, encoded
// once per batch however many subscribers write it. The result is shared:
// do not modify it.
func XMLLines(b *broadcast.Batch) []byte {
	return b.Memo(xmlLinesKey, func(b *broadcast.Batch) any {
		return AppendXMLLines(nil, b.Records)
	}).([]byte)
}

// JSONLines returns the batch as JSON records, one per line (ndjson),
// encoded once per batch. The result is shared: do not modify it.
func JSONLines(b *broadcast.Batch) []byte {
	return b.Memo(jsonLinesKey, func(b *broadcast.Batch) any {
		return AppendJSONLines(nil, b.Records)
	}).([]byte)
}

// AppendXMLLines appends each record as a <hit/> line.
func AppendXMLLines(dst []byte, recs []*broadcast.Record) []byte {
	for _, r := range recs {
		dst = AppendXML(dst, r)
		dst = append(dst, '\n')
	}
	return dst
}

// AppendJSONLines appends each record as a JSON line.
func AppendJSONLines(dst []byte, recs []*broadcast.Record) []byte {
	for _, r := range recs {
		dst = AppendJSON(dst, r)
		dst = append(dst, '\n')
	}
	return dst
}
