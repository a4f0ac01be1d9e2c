package feed

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/weblogd/weblogd/transports"
)

// maxSettingsBody bounds a PUT /admin/settings body: two durations.
const maxSettingsBody = 4 << 10

// maxTick bounds the tick an operator may set: beyond a few seconds the
// feed is no longer live, and a typo ("50s" for "50ms") should be refused.
const maxTick = 10 * time.Second

// adminSubscriber is one entry of GET /admin/subscribers.
type adminSubscriber struct {
	ID        uint64    `json:"id"`
	Address   string    `json:"address"`
	Transport string    `json:"transport"`
	Token     string    `json:"token,omitempty"`
	Filter    string    `json:"filter"`
	Queue     int       `json:"queue"`
	Dropped   uint64    `json:"dropped"`
	Since     time.Time `json:"connected_since"`
}

// adminSubscribers answers GET /admin/subscribers: every live subscriber,
// oldest first.
func (s *Server) adminSubscribers(w http.ResponseWriter, r *http.Request) {
	out := []adminSubscriber{}
	for _, si := range s.hub.List() {
		a := adminSubscriber{ID: si.ID, Transport: "in-process", Queue: si.Queued, Dropped: si.Dropped, Since: si.Since}
		if p, ok := si.Meta.(*transports.Peer); ok {
			a.Address, a.Transport, a.Token, a.Filter = p.Addr, p.Transport, p.Token, p.Filter
		}
		out = append(out, a)
	}
	writeJSON(w, http.StatusOK, out)
}

// adminDisconnect answers DELETE /admin/subscribers/{id}: the subscriber
// is ended as at shutdown, with its transport's goodbye; 204, or 404 for
// an id that is not connected.
func (s *Server) adminDisconnect(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil {
		transports.BadRequest(w, fmt.Errorf("bad subscriber id %q", r.PathValue("id")))
		return
	}
	if !s.hub.Disconnect(id) {
		http.Error(w, "no such subscriber", http.StatusNotFound)
		return
	}
	s.log.Info("subscriber disconnected by an admin", "id", id)
	w.WriteHeader(http.StatusNoContent)
}

// settings is the body of GET and PUT /admin/settings: Go durations
// ("50ms", "30s"); in a PUT, a field left out is left alone.
type settings struct {
	Tick        *string `json:"tick,omitempty"`
	SlowTimeout *string `json:"slow_timeout,omitempty"`
}

func (s *Server) currentSettings() settings {
	tick, slow := s.hub.Tick().String(), s.hub.SlowTimeout().String()
	return settings{Tick: &tick, SlowTimeout: &slow}
}

// adminSettings answers GET /admin/settings.
func (s *Server) adminSettings(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.currentSettings())
}

// adminPutSettings answers PUT /admin/settings: the tick (0 flushes at
// once, at most maxTick) and the slow-subscriber timeout (0 never
// disconnects), in force from the next flush. Both are checked before
// either is set.
func (s *Server) adminPutSettings(w http.ResponseWriter, r *http.Request) {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxSettingsBody))
	dec.DisallowUnknownFields()
	var in settings
	if err := dec.Decode(&in); err != nil {
		transports.BadRequest(w, fmt.Errorf("want a JSON object with tick and/or slow_timeout: %v", err))
		return
	}
	parse := func(name string, v *string, limit time.Duration) (time.Duration, bool, error) {
		if v == nil {
			return 0, false, nil
		}
		d, err := time.ParseDuration(*v)
		switch {
		case err != nil:
			return 0, false, fmt.Errorf("bad %s %q: want a duration such as 50ms or 30s", name, *v)
		case d < 0:
			return 0, false, fmt.Errorf("bad %s %q: must not be negative", name, *v)
		case limit > 0 && d > limit:
			return 0, false, fmt.Errorf("bad %s %q: at most %v", name, *v, limit)
		}
		return d, true, nil
	}
	tick, setTick, err1 := parse("tick", in.Tick, maxTick)
	slow, setSlow, err2 := parse("slow_timeout", in.SlowTimeout, 0)
	if err := errors.Join(err1, err2); err != nil {
		transports.BadRequest(w, err)
		return
	}
	if setTick {
		s.hub.SetTick(tick)
	}
	if setSlow {
		s.hub.SetSlowTimeout(slow)
	}
	cur := s.currentSettings()
	s.log.Info("settings changed by an admin", "tick", *cur.Tick, "slow_timeout", *cur.SlowTimeout)
	writeJSON(w, http.StatusOK, cur)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
