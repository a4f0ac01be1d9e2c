// Package auth owns weblogd's credentials: the bearer tokens of a token
// file (each optionally limited to a fixed filter), re-read when the file
// changes, and the short-lived signed sessions a browser gets for its
// cookie after logging in with a token, each kept by the server from login
// to logout or expiry.
//
// Secrets are never compared as they are: a token is hashed (SHA-256) as
// it is read and as it is presented, and the fixed-length hashes are
// compared with crypto/subtle against every token of the file, so the time
// a check takes says nothing about which token, or which part of one, was
// close. Nothing here logs or returns a token.
//
// Concurrency: a File and Sessions are safe for concurrent use, and start
// no goroutine. A File reads its file only in Load and Reload, never in a
// check: its owner calls Reload from a goroutine of its own (feed's
// credential watcher), so that no request ever waits on the file.
package auth
