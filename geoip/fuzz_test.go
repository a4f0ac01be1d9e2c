package geoip_test

import (
	"net/netip"
	"testing"
)

// FuzzCountry: any host gets an answer without panic; an answer is a
// code of the database, and only a host that is an address has one.
func FuzzCountry(f *testing.F) {
	for _, h := range []string{"192.0.2.1", "2001:db8::1", "::ffff:192.0.2.10", "[2001:db8:1::1]:443",
		"203.0.113.9:51234", "fe80::1%eth0", "example.com", "-", "", "192.0.2.1, 10.0.0.1"} {
		f.Add(h)
	}
	db := open(f)
	codes := map[string]bool{"": true}
	for _, n := range networks {
		codes[n.Country] = true
		codes[n.Registered] = true
	}
	f.Fuzz(func(t *testing.T, host string) {
		c := db.Country(host)
		if !codes[c] {
			t.Fatalf("Country(%q) = %q, not a code of the database", host, c)
		}
		if c != "" {
			if _, err := netip.ParseAddr(host); err != nil {
				if _, err := netip.ParseAddrPort(host); err != nil && host[0] != '[' {
					t.Fatalf("Country(%q) = %q for what is not an address", host, c)
				}
			}
		}
	})
}
