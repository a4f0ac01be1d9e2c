package geoip_test

import (
	"path/filepath"
	"testing"

	"github.com/weblogd/weblogd/geoip"
	"github.com/weblogd/weblogd/geoip/geoiptest"
)

var benchHosts = []string{"192.0.2.1", "2001:db8::1", "203.0.113.77", "::ffff:198.51.100.3", "8.8.8.8"}

func BenchmarkCountry(b *testing.B) {
	db := benchDB(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		db.Country(benchHosts[i%len(benchHosts)])
		i++
	}
}

func benchDB(b *testing.B) *geoip.DB {
	path := filepath.Join(b.TempDir(), "bench.mmdb")
	if err := geoiptest.Write(path, networks...); err != nil {
		b.Fatal(err)
	}
	db, err := geoip.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}
