// Package geoip names the country of a client address from a
// MaxMind-format database (GeoLite2-Country, GeoIP2-City, DB-IP's free
// lite databases, ...).
package geoip

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"strings"
	"sync"

	"github.com/oschwald/maxminddb-golang/v2"
)

// DB is an open database. It is safe for concurrent use.
//
// A lookup costs well under a microsecond (BenchmarkCountry), about what
// a cache of answers would cost to consult, so there is none.
type DB struct {
	r *maxminddb.Reader
}

// Open opens the database at path; the error names the file and says why
// it cannot be read.
func Open(path string) (*DB, error) {
	r, err := maxminddb.Open(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is said once, below
		}
		return nil, fmt.Errorf("geoip: %s: %w", path, err)
	}
	return &DB{r: r}, nil
}

// Type returns the database's type as its maker names it
// ("GeoLite2-Country", "DBIP-City-Lite").
func (d *DB) Type() string { return d.r.Metadata.DatabaseType }

// Country returns the ISO 3166-1 alpha-2 code of host's country ("DE"),
// or "" when host is not an address or the database does not know it.
// host is a client address as logged: IPv4, IPv6 (an IPv4-mapped one is
// looked up as IPv4), with or without brackets, port or zone. A record
// without a country gives the country the network is registered in.
func (d *DB) Country(host string) string {
	addr, ok := parse(host)
	if !ok {
		return ""
	}
	res := d.r.Lookup(addr)
	if !res.Found() {
		return ""
	}
	// Decoding into a pooled string keeps a lookup free of allocation.
	c := codes.Get().(*string)
	defer codes.Put(c)
	if *c = ""; res.DecodePath(c, "country", "iso_code") == nil && *c != "" {
		return *c
	}
	// A record without a country (an anycast network, a satellite
	// provider) names the country the network is registered in.
	if *c = ""; res.DecodePath(c, "registered_country", "iso_code") == nil {
		return *c
	}
	return ""
}

var codes = sync.Pool{New: func() any { return new(string) }}

// parse reads an address the way logs write clients. Host names are not
// resolved: that would cost a network round trip per record.
func parse(host string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(host); err == nil {
		return a.Unmap(), true
	}
	// "[2001:db8::1]", "[2001:db8::1]:443", "203.0.113.9:443"
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		if a, err := netip.ParseAddr(host[1 : len(host)-1]); err == nil {
			return a.Unmap(), true
		}
	}
	if ap, err := netip.ParseAddrPort(host); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

// Close releases the database. No Country call may run during or after it.
func (d *DB) Close() error { return d.r.Close() }
