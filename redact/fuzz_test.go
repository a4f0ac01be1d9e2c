package redact_test

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/weblogd/weblogd/fleet"
	"github.com/weblogd/weblogd/format"
	"github.com/weblogd/weblogd/record"
	"github.com/weblogd/weblogd/redact"
	"github.com/weblogd/weblogd/transports"
)

// What FuzzRedact plants.
const (
	plantIPv4 = iota
	plantIPv6
	plantIPv6Expanded
	plantIPv6Encoded // colons %-encoded, as in a query string
	plantMapped      // ::ffff:a.b.c.d
	plantParam       // token=<secret>
	plantQuery       // ?q=<secret>
	plantKinds
)

// Where FuzzRedact plants it: a slot of a log line (which the parser puts
// in whatever field it lands in), or a field of a record set directly.
var lineSlots = []string{"vhost", "host", "ident", "user", "method", "path", "proto", "referer", "agent", "extra", "unparsed"}

var recordFields = []func(r *record.Record, text string){
	func(r *record.Record, text string) { r.VHost = text },
	func(r *record.Record, text string) { r.Host = text },
	func(r *record.Record, text string) { r.Ident = text },
	func(r *record.Record, text string) { r.User = text },
	func(r *record.Record, text string) { r.Method = text },
	func(r *record.Record, text string) { r.Path = text },
	func(r *record.Record, text string) { r.Proto = text },
	func(r *record.Record, text string) { r.Request = text },
	func(r *record.Record, text string) { r.Referer = text },
	func(r *record.Record, text string) { r.Agent = text },
	func(r *record.Record, text string) { r.Extra = text },
	func(r *record.Record, text string) { r.Line = text },
	// A line of another format than Common or Combined.
	func(r *record.Record, text string) { r.Line = `{"remote_addr":"` + text + `","status":200}` },
	// A value of Fields: under a name of its own, one that holds
	// addresses, and one that holds a user name.
	func(r *record.Record, text string) { addPair(r, "request_id", text) },
	func(r *record.Record, text string) { addPair(r, "http_x_forwarded_for", text) },
	func(r *record.Record, text string) { addPair(r, "ClientUsername", text) },
}

// addPair adds a pair to r's Fields, after one that stays.
func addPair(r *record.Record, name, value string) {
	r.Fields = append(r.Fields, record.Pair{Name: "ssl_protocol", Value: "TLSv1.3"}, record.Pair{Name: name, Value: value})
}

// plantedLine is a Combined line with text in the slot named.
func plantedLine(slot, text string) string {
	v := map[string]string{"host": "client.example", "ident": "-", "user": "-", "method": "GET", "path": "/p",
		"proto": "HTTP/1.1", "referer": "-", "agent": "agent/1.0", "extra": "x"}
	switch slot {
	case "unparsed":
		return "junk " + text + " junk"
	case "vhost":
		return text + " " + plantedLine("host", "client.example")
	case "path":
		v["path"] = "/p/" + text
	default:
		v[slot] = text
	}
	return v["host"] + " " + v["ident"] + " " + v["user"] + ` [21/Nov/2026:10:00:00 +0100] "` + v["method"] + " " + v["path"] + " " +
		v["proto"] + `" 200 1 "` + v["referer"] + `" "` + v["agent"] + `" ` + v["extra"]
}

// secretOf makes a secret that cannot be anything else in a record:
// letters and digits after "Zq".
func secretOf(s string) string {
	b := []byte("Zq")
	for i := 0; i < len(s) && len(b) < 18; i++ {
		const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
		b = append(b, alnum[int(s[i])%len(alnum)])
	}
	for len(b) < 8 {
		b = append(b, '7')
	}
	return string(b)
}

// addrOf makes an address of kind from b whose masked form differs from
// it: IPv4 with a host byte that is not 0, IPv6 with host bits beyond the
// /48 and a first group that is not 0.
func addrOf(kind int, b []byte) netip.Addr {
	var a [16]byte
	copy(a[:], b)
	if kind == plantIPv4 || kind == plantMapped {
		a[3] |= 1
		return netip.AddrFrom4([4]byte(a[:4]))
	}
	a[0] |= 0x20
	a[15] |= 1
	return netip.AddrFrom16(a)
}

// leaks reports where in out the planted address or secret survives: any
// substring that reads as the address (whatever its form), or the secret.
func leaks(out string, addr netip.Addr, secret string) string {
	if secret != "" {
		if i := strings.Index(out, secret); i >= 0 {
			return "the secret " + secret
		}
		return ""
	}
	const addrChars = "0123456789abcdefABCDEF:."
	for i := 0; i < len(out); i++ {
		if !strings.ContainsRune(addrChars, rune(out[i])) {
			continue
		}
		for j := i + 2; j <= len(out) && j-i <= 45 && strings.ContainsRune(addrChars, rune(out[j-1])); j++ {
			if a, err := netip.ParseAddr(out[i:j]); err == nil && a.Unmap() == addr.Unmap() {
				return "the address " + addr.String() + " as " + out[i:j]
			}
		}
	}
	return ""
}

// FuzzRedact plants an address, a secret parameter or a query string in a
// random field, glued to random text, and checks that with the option that
// hides it on, nothing of it survives any encoder: XML, JSON, the NATS
// wire form, or the record's fields as they are.
func FuzzRedact(f *testing.F) {
	addr4 := []byte{198, 51, 100, 77}
	addr6 := []byte{0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 5}
	for _, c := range []struct {
		slot, opts, kind uint8
		before, after    string
		addr             []byte
	}{
		// The leaks the redaction was found with.
		{8, 7, plantIPv4, "Mozilla/5.0 (compatible; bot/1.0; +http://bot.example/?token=SECRETA1) via ", "", addr4},
		{8, 7, plantParam, "Mozilla/5.0 (compatible; bot/1.0; +http://bot.example/?", ") via 198.51.100.77", addr4},
		{8, 7, plantQuery, "Mozilla/5.0 (compatible; bot/1.0; +http://bot.example/", ") via 198.51.100.77", addr4},
		{9, 1, plantIPv4, `"X-Real-IP:`, `"`, addr4},
		{9, 1, plantIPv4, "host:", "", addr4},
		{9, 1, plantIPv4, `"addr":`, "", addr4},
		{9, 1, plantIPv6, "host:", "", addr6},
		{9, 1, plantIPv6, "cafe", "", addr6},
		{9, 1, plantIPv6, "", "beef", addr6},
		{9, 1, plantIPv6, "[", "]:443", addr6},
		{5, 1, plantIPv6Encoded, "?ip=", "", addr6},
		{8, 3, plantIPv6Expanded, "https://r.example/?from=", "", addr6},
		{1, 1, plantMapped, "", "", addr4},
		{9, 1, plantIPv4, "1.", ".5", addr4},
		{4, 4, plantParam, "", "", addr4},
		{0, 1, plantIPv4, "", ":443", addr4},
		{13, 4, plantParam, "#", "", addr4},
		{6, 2, plantQuery, "HTTP/1.1", "", addr4},
	} {
		f.Add(c.slot, c.opts, c.kind, c.before, c.after, c.addr, "SECRETA1")
	}
	f.Fuzz(func(t *testing.T, slot, opts, kind uint8, before, after string, ab []byte, sec string) {
		if strings.ContainsAny(before+after, "\n") {
			return // a line has no newline: the tailer cut it there
		}
		if strings.Contains(before[max(len(before)-3, 0):], "\\") {
			return // an escape ("\t", "\x17") would make what follows another text
		}
		k := int(kind) % plantKinds
		o := redact.Options{Query: opts&2 != 0, User: false}
		if opts&1 != 0 {
			o.Host = redact.HostPrefix
			if opts&8 != 0 {
				o.Host, o.HashKey = redact.HostHash, []byte("0123456789abcdef")
			}
		}
		if opts&4 != 0 {
			o.Params = redact.DefaultParams
		}
		var (
			text, secret string
			addr         netip.Addr
		)
		switch k {
		case plantParam:
			o.Params = redact.DefaultParams
			secret = secretOf(sec)
			text = "token=" + secret
			if before != "" && isNameByte(before[len(before)-1]) {
				return // "xtoken=" is another parameter
			}
		case plantQuery:
			o.Query = true
			secret = secretOf(sec)
			text = "?q=" + secret
		default:
			if o.Host == redact.HostKeep {
				o.Host = redact.HostPrefix
			}
			addr = addrOf(k, ab)
			switch k {
			case plantIPv4:
				text = addr.String()
				// Digits glued on make another number ("5198.51.100.77").
				if before != "" && isDigit(before[len(before)-1]) || after != "" && isDigit(after[0]) {
					return
				}
			case plantIPv6:
				text = addr.String()
			case plantIPv6Expanded:
				text = strings.ToUpper(addr.StringExpanded())
			case plantIPv6Encoded:
				text = strings.ReplaceAll(addr.String(), ":", "%3A")
			case plantMapped:
				text = netip.AddrFrom16(addr.As16()).String()
			}
		}
		red, err := redact.New(o)
		if err != nil {
			t.Fatal(err)
		}
		planted := before + text + after
		var rec record.Record
		if n := int(slot) % (len(lineSlots) + len(recordFields)); n < len(lineSlots) {
			rec = format.Parse(plantedLine(lineSlots[n], planted))
		} else {
			rec = format.Parse(plantedLine("agent", "agent/1.0"))
			recordFields[n-len(lineSlots)](&rec, planted)
		}
		rec.Seq, rec.Source = 1, "access.log"
		red.Record(&rec)
		fields := strings.Join([]string{rec.VHost, rec.Host, rec.Ident, rec.User, rec.Method, rec.Path, rec.Proto,
			rec.Request, rec.Referer, rec.Agent, rec.Extra, rec.Line, fmt.Sprint(rec.Fields)}, "\x00")
		for _, out := range []struct{ name, text string }{
			{"fields", fields},
			{"XML", string(transports.AppendXML(nil, &rec))},
			{"JSON", string(transports.AppendJSON(nil, &rec))},
			{"NATS", string(fleet.AppendBatch(nil, "web-1", rec.Source, []*record.Record{&rec}))},
		} {
			if what := leaks(out.text, addr, secret); what != "" {
				t.Fatalf("%+v with %q planted: %s survives in %s: %q", o, planted, what, out.name, out.text)
			}
		}
	})
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c) || strings.IndexByte("_-.%[]", c) >= 0
}
