package feed

import (
	"sync"
	"time"

	"github.com/weblogd/weblogd/format"
)

// streamTake is the stand-in for the registry of named stream sources:
// a reader per name, lines taken one at a time. takeLine is the one
// place /ingest hands a line over.
type streamTake struct {
	mu      sync.Mutex
	readers map[string]*format.Reader
}

// takeLine takes one line of the named source into the ring (and to
// NATS with Publish) before it returns.
func (s *Server) takeLine(name, line string, truncated bool) {
	st := &s.streamTake
	st.mu.Lock()
	defer st.mu.Unlock()
	rd := st.readers[name]
	if rd == nil {
		if st.readers == nil {
			st.readers = map[string]*format.Reader{}
		}
		rd = s.src.format.NewReader(format.ReaderConfig{MaxLine: s.cfg.MaxLineBytes, Logger: s.log.With("source", name)})
		st.readers[name] = rd
	}
	rec := rd.Read(line, truncated, time.Now())
	if rec == nil {
		return
	}
	s.redactor.Record(rec)
	rec.Source = name
	s.hub.Publish(rec)
	if s.pub != nil {
		s.pub.Publish(rec, "")
	}
}
