// Package geoiptest writes small MaxMind-format databases for tests, so
// that tests of the country statistics need no downloaded database.
package geoiptest

import (
	"fmt"
	"net"
	"os"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// Network is one network of a test database and what its record says.
type Network struct {
	CIDR       string // "203.0.113.0/24", "2001:db8::/32"
	Country    string // country.iso_code; "" leaves it out
	Registered string // registered_country.iso_code; "" leaves it out
}

// Write writes an IPv6 database (which answers IPv4 too) of the shape of
// GeoLite2-City to path. Documentation and private ranges may be used.
func Write(path string, networks ...Network) error {
	w, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType:            "Test-City",
		Languages:               []string{"de", "en", "es", "fr", "ja", "pt-BR", "ru", "zh-CN"},
		RecordSize:              24,
		IncludeReservedNetworks: true,
	})
	if err != nil {
		return err
	}
	for _, n := range networks {
		_, ipnet, err := net.ParseCIDR(n.CIDR)
		if err != nil {
			return err
		}
		// Shaped as GeoLite2-City's records are, names in its eight
		// languages, so that decoding costs what it costs there.
		rec := mmdbtype.Map{
			"city":      mmdbtype.Map{"geoname_id": mmdbtype.Uint32(2950159), "names": names("Test City")},
			"continent": mmdbtype.Map{"code": mmdbtype.String("EU"), "geoname_id": mmdbtype.Uint32(6255148), "names": names("Europe")},
			"location": mmdbtype.Map{
				"accuracy_radius": mmdbtype.Uint16(100),
				"latitude":        mmdbtype.Float64(52.52),
				"longitude":       mmdbtype.Float64(13.40),
				"time_zone":       mmdbtype.String("Europe/Berlin"),
			},
			"postal":       mmdbtype.Map{"code": mmdbtype.String("10115")},
			"subdivisions": mmdbtype.Slice{mmdbtype.Map{"geoname_id": mmdbtype.Uint32(2950157), "iso_code": mmdbtype.String("BE"), "names": names("Test Land")}},
		}
		if n.Country != "" {
			rec["country"] = mmdbtype.Map{
				"geoname_id": mmdbtype.Uint32(2921044),
				"iso_code":   mmdbtype.String(n.Country),
				"names":      names("Country " + n.Country),
			}
		}
		if n.Registered != "" {
			rec["registered_country"] = mmdbtype.Map{
				"geoname_id": mmdbtype.Uint32(2921044),
				"iso_code":   mmdbtype.String(n.Registered),
				"names":      names("Country " + n.Registered),
			}
		}
		if err := w.Insert(ipnet, rec); err != nil {
			return fmt.Errorf("%s: %w", n.CIDR, err)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := w.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// names gives name in each language GeoLite2 names places in.
func names(name string) mmdbtype.Map {
	m := mmdbtype.Map{}
	for _, lang := range []string{"de", "en", "es", "fr", "ja", "pt-BR", "ru", "zh-CN"} {
		m[mmdbtype.String(lang)] = mmdbtype.String(name + " (" + lang + ")")
	}
	return m
}
