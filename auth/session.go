package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"sync"
	"time"
)

// DefaultSessionLifetime is how long a browser session lasts without use.
// An open dashboard renews it (it asks for api/status every 15 s), so a
// wall screen stays logged in; a closed laptop's cookie is worthless an
// hour later, and a revoked token ends its sessions at once anyway.
const DefaultSessionLifetime = time.Hour

// MaxSessions bounds the sessions kept at once. Only a right token can
// log in, so it is reached only by a script logging in over and over;
// then the session closest to its end is dropped for the new one. Each
// costs under a hundred bytes.
const MaxSessions = 10000

// Sessions signs and checks the browser sessions. A cookie value names a
// session and its token without holding the token: an expiry, the
// token's id, the session's id, signed with HMAC-SHA256 under a key drawn
// at random when the process starts. The server keeps every live session
// (its id and when it ends): logging out ends it for good, whatever
// cookies of it are left, and a session renewed by use keeps its id, so
// that the streams opened with it live as long as it does. A restart
// ends every session (the dashboard asks to log in again), and a session
// of a token removed from the file ends with it. It is safe for
// concurrent use.
type Sessions struct {
	key      [32]byte
	lifetime time.Duration

	mu    sync.Mutex
	live  map[SessionID]time.Time // when each ends: the expiry of its newest cookie
	ended bool                    // a session ended since the last Sweep
}

// SessionID names one session (from login to logout or expiry) in the
// server: idLen random bytes, never shown, and not a credential by itself.
type SessionID string

// Session is one session as a request presents it.
type Session struct {
	ID SessionID
	// Expires is when the cookie presented expires (the session itself
	// may have been renewed since).
	Expires time.Time
}

// idLen is the length of a token's id and of a session's id: 128 bits
// cannot collide.
const idLen = 16

// macLen is the length of the signature: all of HMAC-SHA256.
const macLen = sha256.Size

// payloadLen is a cookie's signed part: expiry, token id, session id.
const payloadLen = 8 + idLen + idLen

// NewSessions returns sessions lasting lifetime (zero means
// DefaultSessionLifetime), under a fresh random key.
func NewSessions(lifetime time.Duration) *Sessions {
	if lifetime <= 0 {
		lifetime = DefaultSessionLifetime
	}
	s := &Sessions{lifetime: lifetime, live: map[SessionID]time.Time{}}
	rand.Read(s.key[:]) // crypto/rand.Read never fails (Go 1.24+)
	return s
}

// Lifetime returns how long a session lasts.
func (s *Sessions) Lifetime() time.Duration { return s.lifetime }

// id is what a session says of its token: a keyed hash of the token's
// hash, so the cookie, even stolen, gives nothing to guess the token from.
func (s *Sessions) id(t *Token) [idLen]byte {
	m := hmac.New(sha256.New, s.key[:])
	m.Write([]byte("weblogd session token id\x00"))
	m.Write(t.hash[:])
	var id [idLen]byte
	copy(id[:], m.Sum(nil))
	return id
}

func (s *Sessions) mac(payload []byte) []byte {
	m := hmac.New(sha256.New, s.key[:])
	m.Write(payload)
	return m.Sum(nil)
}

// Issue starts a new session for t, lasting the lifetime from now, and
// returns its cookie value and the session.
func (s *Sessions) Issue(t *Token, now time.Time) (string, Session) {
	var b [idLen]byte
	rand.Read(b[:])
	sid := SessionID(b[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.live) >= MaxSessions {
		s.makeRoomLocked(now)
	}
	return s.issueLocked(t, sid, now)
}

// Renew returns a new cookie value for the live session of sess, lasting
// the lifetime from now; false if the session has ended meanwhile.
func (s *Sessions) Renew(t *Token, sess Session, now time.Time) (string, Session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if end, ok := s.live[sess.ID]; !ok || !now.Before(end) {
		return "", Session{}, false
	}
	v, renewed := s.issueLocked(t, sess.ID, now)
	return v, renewed, true
}

func (s *Sessions) issueLocked(t *Token, sid SessionID, now time.Time) (string, Session) {
	expires := now.Add(s.lifetime).Truncate(time.Millisecond)
	if end, ok := s.live[sid]; !ok || expires.After(end) {
		s.live[sid] = expires
	}
	payload := make([]byte, 8, payloadLen+macLen)
	binary.BigEndian.PutUint64(payload, uint64(expires.UnixMilli()))
	id := s.id(t)
	payload = append(payload, id[:]...)
	payload = append(payload, sid...)
	return base64.RawURLEncoding.EncodeToString(append(payload, s.mac(payload)...)), Session{ID: sid, Expires: expires}
}

// makeRoomLocked drops the expired sessions, and if none was, the one
// closest to its end.
func (s *Sessions) makeRoomLocked(now time.Time) {
	var first SessionID
	var firstEnd time.Time
	dropped := false
	for id, end := range s.live {
		if !now.Before(end) {
			delete(s.live, id)
			dropped = true
			continue
		}
		if firstEnd.IsZero() || end.Before(firstEnd) {
			first, firstEnd = id, end
		}
	}
	if !dropped && !firstEnd.IsZero() {
		delete(s.live, first)
	}
	s.ended = true
}

// parse returns the signed payload of a cookie value, or false if it is
// not one this process signed.
func (s *Sessions) parse(value string) ([]byte, bool) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(value) // Strict: no two spellings of one session
	if err != nil || len(b) != payloadLen+macLen {
		return nil, false
	}
	payload, sig := b[:payloadLen], b[payloadLen:]
	return payload, hmac.Equal(sig, s.mac(payload))
}

// Check returns the token a session value names, and the session, if the
// value is signed by this process, has not expired at now, its session
// has not ended (logged out), and its token is still in f.
func (s *Sessions) Check(f *File, value string, now time.Time) (*Token, Session, bool) {
	payload, ok := s.parse(value)
	if !ok {
		return nil, Session{}, false
	}
	sess := Session{ID: SessionID(payload[8+idLen:]), Expires: time.UnixMilli(int64(binary.BigEndian.Uint64(payload)))}
	if !now.Before(sess.Expires) || !s.Live(sess.ID, now) {
		return nil, Session{}, false
	}
	var found *Token
	for _, t := range f.current().tokens {
		id := s.id(t)
		if subtle.ConstantTimeCompare(id[:], payload[8:8+idLen]) == 1 {
			found = t
		}
	}
	return found, sess, found != nil
}

// Live reports whether the session id is live at now: logged in, not
// logged out, renewed within its lifetime.
func (s *Sessions) Live(id SessionID, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	end, ok := s.live[id]
	return ok && now.Before(end)
}

// End ends the session a cookie value names (logging out), for good:
// every cookie of it is refused from now on. It returns the session's id,
// or false if the value names no live session.
func (s *Sessions) End(value string) (SessionID, bool) {
	payload, ok := s.parse(value)
	if !ok {
		return "", false
	}
	id := SessionID(payload[8+idLen:])
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.live[id]; !ok {
		return "", false
	}
	delete(s.live, id)
	s.ended = true
	return id, true
}

// Sweep forgets the sessions that expired by now, and reports whether a
// session ended (expired, logged out or dropped) since the last Sweep.
func (s *Sessions) Sweep(now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, end := range s.live {
		if !now.Before(end) {
			delete(s.live, id)
			s.ended = true
		}
	}
	ended := s.ended
	s.ended = false
	return ended
}
