package geoip_test

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/weblogd/weblogd/geoip"
	"github.com/weblogd/weblogd/geoip/geoiptest"
)

var networks = []geoiptest.Network{
	{CIDR: "192.0.2.0/24", Country: "DE", Registered: "DE"},
	{CIDR: "198.51.100.0/25", Country: "FR"},
	{CIDR: "198.51.100.128/25", Registered: "US"}, // anycast: no country of its own
	{CIDR: "203.0.113.0/24", Country: "JP", Registered: "US"},
	{CIDR: "2001:db8::/48", Country: "NL"},
	{CIDR: "2001:db8:1::/48", Country: "BR"},
	{CIDR: "10.0.0.0/8"}, // a record with neither
}

func open(t testing.TB) *geoip.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.mmdb")
	if err := geoiptest.Write(path, networks...); err != nil {
		t.Fatal(err)
	}
	db, err := geoip.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestCountry(t *testing.T) {
	db := open(t)
	if got := db.Type(); got != "Test-City" {
		t.Errorf("Type() = %q", got)
	}
	for _, c := range []struct{ host, want string }{
		{"192.0.2.1", "DE"},
		{"192.0.2.255", "DE"},
		{"198.51.100.7", "FR"},
		{"198.51.100.200", "US"}, // registered country when there is no country
		{"203.0.113.9", "JP"},    // country wins over registered country
		{"2001:db8::1", "NL"},
		{"2001:db8:0:ffff::1", "NL"},
		{"2001:DB8:1::abcd", "BR"},
		{"::ffff:192.0.2.10", "DE"},   // IPv4-mapped
		{"::ffff:c000:020a", "DE"},    // the same, in hex
		{"[2001:db8::1]", "NL"},       // bracketed
		{"[2001:db8:1::1]:443", "BR"}, // with a port
		{"203.0.113.9:51234", "JP"},
		{"fe80::1%eth0", ""},        // link-local, with a zone: not in the database
		{"2001:db8::1%eth0", "NL"},  // the zone does not matter
		{"10.1.2.3", ""},            // a record without countries
		{"192.0.3.1", ""},           // next to a network
		{"8.8.8.8", ""},             // not in the database
		{"2001:db8:2::1", ""},       // not in the database
		{"", ""},                    // no client
		{"-", ""},                   // a missing client as logs write it
		{"example.com", ""},         // a host name is not resolved
		{"192.0.2", ""},             // garbage
		{"192.0.2.1.5", ""},         // garbage
		{"[192.0.2.1", ""},          // garbage
		{"::ffff:192.0.2.300", ""},  // garbage
		{"192.0.2.1 ", ""},          // a trailing space
		{"unknown", ""},             // nginx's $remote_addr behind some proxies
		{"192.0.2.1, 10.0.0.1", ""}, // an X-Forwarded-For list is not one client
	} {
		// Twice: the second answer may come from the cache.
		for range 2 {
			if got := db.Country(c.host); got != c.want {
				t.Errorf("Country(%q) = %q, want %q", c.host, got, c.want)
			}
		}
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	notDB := filepath.Join(dir, "not.mmdb")
	if err := os.WriteFile(notDB, []byte(strings.Repeat("this is not a database\n", 100)), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.mmdb")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// A database cut short, as a download that stopped would leave it.
	whole := filepath.Join(dir, "whole.mmdb")
	if err := geoiptest.Write(whole, networks...); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(whole)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(dir, "cut.mmdb")
	if err := os.WriteFile(cut, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, why string }{
		{filepath.Join(dir, "missing.mmdb"), "no such file"},
		{dir, "is a directory"},
		{notDB, "invalid MaxMind DB"},
		{empty, "empty"},
		{cut, "invalid MaxMind DB"},
	} {
		db, err := geoip.Open(c.path)
		if err == nil {
			db.Close()
			t.Errorf("Open(%s): no error", c.path)
			continue
		}
		msg := err.Error()
		if strings.Count(msg, c.path) != 1 || !strings.Contains(msg, c.why) {
			t.Errorf("Open(%s) = %q: want the path once and %q", c.path, msg, c.why)
		}
		t.Logf("%s", msg)
	}
}

// Records of another shape than the country databases' give no country,
// and an IPv4-only database answers no IPv6 address.
func TestOddDatabases(t *testing.T) {
	w, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType: "Odd", IPVersion: 4, RecordSize: 24, IncludeReservedNetworks: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	for cidr, rec := range map[string]mmdbtype.DataType{
		"192.0.2.0/24":    mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.Uint32(276)}},
		"198.51.100.0/24": mmdbtype.Map{"country": mmdbtype.String("DE")},
		"203.0.113.0/24":  mmdbtype.String("DE"),
		"10.0.0.0/8":      mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.Uint32(1)}, "registered_country": mmdbtype.Map{"iso_code": mmdbtype.String("CH")}},
	} {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Insert(n, rec); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "odd.mmdb")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	db, err := geoip.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for host, want := range map[string]string{
		"192.0.2.1":       "",
		"198.51.100.1":    "",
		"203.0.113.1":     "",
		"10.0.0.1":        "CH",
		"2001:db8::1":     "",
		"::ffff:10.0.0.1": "CH",
	} {
		if got := db.Country(host); got != want {
			t.Errorf("Country(%q) = %q, want %q", host, got, want)
		}
	}
}

func TestConcurrent(t *testing.T) {
	db := open(t)
	hosts := map[string]string{"192.0.2.1": "DE", "2001:db8::1": "NL", "198.51.100.200": "US", "8.8.8.8": ""}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 500 {
				for h, want := range hosts {
					if got := db.Country(h); got != want {
						t.Errorf("Country(%q) = %q, want %q", h, got, want)
						return
					}
				}
			}
		})
	}
	wg.Wait()
}

func TestCountryNoAlloc(t *testing.T) {
	db := open(t)
	for _, h := range []string{"192.0.2.1", "2001:db8::1", "8.8.8.8"} {
		db.Country(h)
		if n := testing.AllocsPerRun(100, func() { db.Country(h) }); n != 0 {
			t.Errorf("Country(%q) allocates %v times", h, n)
		}
	}
}
