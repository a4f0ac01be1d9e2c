// Package geoip names the country of a client address from a
// MaxMind-format database (GeoLite2-Country, GeoIP2-City, DB-IP's free
// lite databases, ...).
package geoip

// DB is an open database. It is safe for concurrent use.
type DB struct{}

// Open opens the database at path; the error says why it cannot be read.
func Open(path string) (*DB, error) { return &DB{}, nil }

// Country returns the ISO 3166-1 alpha-2 code of host's country ("DE"),
// or "" when host is not an address or the database does not know it.
func (d *DB) Country(host string) string { return "" }

// Close releases the database.
func (d *DB) Close() error { return nil }
