package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"time"
)

// DefaultSessionLifetime is how long a browser session lasts without use.
// An open dashboard renews it (it asks for api/status every 15 s), so a
// wall screen stays logged in; a closed laptop's cookie is worthless an
// hour later, and a revoked token ends its sessions at once anyway.
const DefaultSessionLifetime = time.Hour

// Sessions signs and checks the browser sessions: a cookie value that
// names a token without holding it, with an expiry, signed with HMAC-SHA256
// under a key drawn at random when the process starts. A restart therefore
// ends every session (the dashboard asks to log in again), and a session
// of a token removed from the file ends with it.
type Sessions struct {
	key      [32]byte
	lifetime time.Duration
}

// idLen is the length of a token's id inside a session: 128 bits cannot
// collide between the tokens of a file.
const idLen = 16

// macLen is the length of the signature: all of HMAC-SHA256.
const macLen = sha256.Size

// NewSessions returns sessions lasting lifetime (zero means
// DefaultSessionLifetime), under a fresh random key.
func NewSessions(lifetime time.Duration) *Sessions {
	if lifetime <= 0 {
		lifetime = DefaultSessionLifetime
	}
	s := &Sessions{lifetime: lifetime}
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

// Issue returns a session value for t, valid until now plus the lifetime,
// and that expiry.
func (s *Sessions) Issue(t *Token, now time.Time) (value string, expires time.Time) {
	expires = now.Add(s.lifetime).Truncate(time.Millisecond)
	payload := make([]byte, 8, 8+idLen+macLen)
	binary.BigEndian.PutUint64(payload, uint64(expires.UnixMilli()))
	id := s.id(t)
	payload = append(payload, id[:]...)
	return base64.RawURLEncoding.EncodeToString(append(payload, s.mac(payload)...)), expires
}

// Check returns the token a session value names, if the value is signed
// by this process, has not expired at now, and its token is still in f;
// and when it expires.
func (s *Sessions) Check(f *File, value string, now time.Time) (*Token, time.Time, bool) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(value) // Strict: no two spellings of one session
	if err != nil || len(b) != 8+idLen+macLen {
		return nil, time.Time{}, false
	}
	payload, sig := b[:8+idLen], b[8+idLen:]
	if !hmac.Equal(sig, s.mac(payload)) {
		return nil, time.Time{}, false
	}
	expires := time.UnixMilli(int64(binary.BigEndian.Uint64(payload)))
	if !now.Before(expires) {
		return nil, time.Time{}, false
	}
	var found *Token
	for _, t := range f.current().tokens {
		id := s.id(t)
		if subtle.ConstantTimeCompare(id[:], payload[8:]) == 1 {
			found = t
		}
	}
	return found, expires, found != nil
}
