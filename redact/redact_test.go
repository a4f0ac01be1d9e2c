package redact_test

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/weblogd/weblogd/format"
	"github.com/weblogd/weblogd/record"
	"github.com/weblogd/weblogd/redact"
)

func TestParseOptions(t *testing.T) {
	for _, c := range []struct {
		words []string
		want  redact.Options
	}{
		{nil, redact.Options{}},
		{[]string{"host"}, redact.Options{Host: redact.HostPrefix}},
		{[]string{"host=prefix,query,user"}, redact.Options{Host: redact.HostPrefix, Query: true, User: true}},
		{[]string{"host=hash"}, redact.Options{Host: redact.HostHash}},
		{[]string{"params"}, redact.Options{Params: redact.DefaultParams}},
		{[]string{"params=token,key,password"}, redact.Options{Params: []string{"token", "key", "password"}}},
		// The environment's comma list: a bare word continues params.
		{[]string{"params=token", "key", "user"}, redact.Options{Params: []string{"token", "key"}, User: true}},
	} {
		got, err := redact.ParseOptions(c.words)
		if err != nil || got.Host != c.want.Host || got.Query != c.want.Query || got.User != c.want.User || !slices.Equal(got.Params, c.want.Params) {
			t.Errorf("ParseOptions(%q)=%+v, %v; want %+v", c.words, got, err, c.want)
		}
	}
	for _, bad := range [][]string{{"host=/16"}, {"ip"}, {"query=1"}, {"params="}, {""}, {"user=x"}} {
		if _, err := redact.ParseOptions(bad); err == nil {
			t.Errorf("ParseOptions(%q): nil error", bad)
		}
	}
	if _, err := redact.New(redact.Options{Host: redact.HostHash, HashKey: []byte("short")}); err == nil {
		t.Error("host=hash with a short key: nil error")
	}
}

func TestRecord(t *testing.T) {
	prefix := redact.Options{Host: redact.HostPrefix}
	for _, c := range []struct {
		name, line string
		o          redact.Options
		check      func(r record.Record) string // "" when right
	}{
		{"ipv4", `203.0.113.9 - - [21/Nov/2026:10:00:00 +0100] "GET / HTTP/1.1" 200 1 "-" "a"`, prefix,
			func(r record.Record) string {
				return want(r.Host == "203.0.113.0" && strings.HasPrefix(r.Line, "203.0.113.0 - - [21/Nov"), r)
			}},
		{"ipv6", `2001:db8:1:2:3::9 - - [21/Nov/2026:10:00:00 +0100] "GET / HTTP/1.1" 200 1`, prefix,
			func(r record.Record) string {
				return want(r.Host == "2001:db8:1::" && !strings.Contains(r.Line, "2:3::9"), r)
			}},
		{"mapped and xff", `::ffff:198.51.100.7, 10.1.2.3 - - [21/Nov/2026:10:00:00 +0100] "GET / HTTP/1.1" 200 1`, prefix,
			func(r record.Record) string { return want(r.Host == "198.51.100.0, 10.1.2.0", r) }},
		{"xff before the client", `"198.51.100.7, 10.1.2.3" 203.0.113.9 - - [21/Nov/2026:10:00:00 +0100] "GET / HTTP/1.1" 200 1`, prefix,
			func(r record.Record) string {
				return want(r.Host == "203.0.113.0" && len(r.Fields) == 1 && r.Fields[0].Value == "198.51.100.0, 10.1.2.0" &&
					!strings.Contains(r.Line, "198.51.100.7"), r)
			}},
		{"host name", `client.example.com - - [21/Nov/2026:10:00:00 +0100] "GET / HTTP/1.1" 200 1`, prefix,
			func(r record.Record) string {
				return want(r.Host == redact.Mask && !strings.Contains(r.Line, "client.example"), r)
			}},
		{"vhost kept, address in the agent", `shop.example:443 203.0.113.9 - - [21/Nov/2026:10:00:00 +0100] "GET / HTTP/1.1" 200 1 "-" "probe from 192.0.2.1:8080"`, prefix,
			func(r record.Record) string {
				return want(r.VHost == "shop.example:443" && strings.HasPrefix(r.Line, "shop.example:443 203.0.113.0 ") &&
					strings.Contains(r.Line, "192.0.2.0:8080") && !strings.Contains(r.Line, "192.0.2.1"), r)
			}},
		{"times and versions left alone", `203.0.113.9 - - [21/Nov/2026:10:00:00 +0100] "GET / HTTP/1.1" 200 1 "-" "Chrome/120.0.6099.109"`, prefix,
			func(r record.Record) string {
				return want(strings.Contains(r.Line, "[21/Nov/2026:10:00:00 +0100]") && strings.Contains(r.Line, "Chrome/120.0.6099.109"), r)
			}},
		{"params", `1.2.3.4 - - [21/Nov/2026:10:00:00 +0100] "GET /a?Token=t1&x=1;pass%77ord=p2 HTTP/1.1" 200 1 "http://r/?key=k3" "a"`,
			redact.Options{Params: []string{"token", "password", "key"}},
			func(r record.Record) string {
				return want(r.Path == "/a?Token=redacted&x=1;pass%77ord=redacted" && r.Referer == "http://r/?key=redacted" &&
					!strings.Contains(r.Line, "t1") && !strings.Contains(r.Line, "p2") && !strings.Contains(r.Line, "k3") && r.Host == "1.2.3.4", r)
			}},
		{"query", `1.2.3.4 - - [21/Nov/2026:10:00:00 +0100] "GET /a?b=c HTTP/1.1" 200 1 "http://r/p?q=1" "a"`, redact.Options{Query: true},
			func(r record.Record) string {
				return want(r.Path == "/a" && r.Referer == "http://r/p" && !strings.Contains(r.Line, "?"), r)
			}},
		{"odd request line", `1.2.3.4 - - [21/Nov/2026:10:00:00 +0100] "\x16\x03 ?token=zz 5.6.7.8" 400 0`, redact.Options{Host: redact.HostPrefix, Query: true},
			func(r record.Record) string {
				return want(!strings.Contains(r.Request, "zz") && !strings.Contains(r.Request, "5.6.7.8"), r)
			}},
		{"user", `1.2.3.4 ident frank [21/Nov/2026:10:00:00 +0100] "GET / HTTP/1.1" 200 1`, redact.Options{User: true},
			func(r record.Record) string {
				return want(r.User == "-" && r.Ident == "-" && r.Line == `1.2.3.4 - - [21/Nov/2026:10:00:00 +0100] "GET / HTTP/1.1" 200 1`, r)
			}},
		{"unparsed", `junk 203.0.113.9 /x?token=zz`, redact.Options{Host: redact.HostPrefix, Params: []string{"token"}},
			func(r record.Record) string { return want(r.Line == "junk 203.0.113.0 /x?token=redacted", r) }},
		{"unparsed with user", `junk frank 203.0.113.9`, redact.Options{User: true},
			func(r record.Record) string { return want(r.Line == redact.Withheld, r) }},
		{"hash", `203.0.113.9 - - [21/Nov/2026:10:00:00 +0100] "GET / HTTP/1.1" 200 1`,
			redact.Options{Host: redact.HostHash, HashKey: []byte("0123456789abcdef")},
			func(r record.Record) string {
				return want(strings.HasPrefix(r.Host, "h-") && len(r.Host) == 18 && strings.HasPrefix(r.Line, r.Host+" - - ["), r)
			}},
	} {
		red, err := redact.New(c.o)
		if err != nil {
			t.Fatal(err)
		}
		r := format.Parse(c.line)
		red.Record(&r)
		if msg := c.check(r); msg != "" {
			t.Errorf("%s: %s", c.name, msg)
		}
	}
}

// A keyed hash: the same client, the same value; another key, another.
func TestHashIsKeyed(t *testing.T) {
	line := `203.0.113.9 - - [21/Nov/2026:10:00:00 +0100] "GET / HTTP/1.1" 200 1`
	hash := func(key string) string {
		red, _ := redact.New(redact.Options{Host: redact.HostHash, HashKey: []byte(key)})
		r := format.Parse(line)
		red.Record(&r)
		return r.Host
	}
	if a, b, c := hash("0123456789abcdef"), hash("0123456789abcdef"), hash("fedcba9876543210"); a != b || a == c {
		t.Errorf("hashes %s %s %s: want the same with one key, another with another", a, b, c)
	}
}

func want(ok bool, r record.Record) string {
	if ok {
		return ""
	}
	return "got host=" + r.Host + " ident=" + r.Ident + " user=" + r.User + " path=" + r.Path + " referer=" + r.Referer +
		" request=" + r.Request + " line=" + r.Line
}

// Text masks an address wherever it stands, glued to words or not, and a
// secret parameter wherever it is written; what only looks alike is left.
func TestText(t *testing.T) {
	host := redact.Options{Host: redact.HostPrefix}
	all := redact.Options{Host: redact.HostPrefix, Query: true, Params: redact.DefaultParams}
	params := redact.Options{Params: redact.DefaultParams}
	for _, c := range []struct {
		o        redact.Options
		in, want string
	}{
		{host, `"X-Real-IP:198.51.100.78"`, `"X-Real-IP:198.51.100.0"`},
		{host, `host:198.51.100.79`, `host:198.51.100.0`},
		{host, `"addr":198.51.100.83`, `"addr":198.51.100.0`},
		{host, `abc198.51.100.1`, `abc198.51.100.0`},
		{host, `from 198.51.100.7.`, `from 198.51.100.0.`},
		{host, `198.51.100.7:8080`, `198.51.100.0:8080`},
		{host, `198.051.100.007`, `198.51.100.0`},
		{host, `1.198.51.100.7`, `1.198.51.0.0`},
		{host, `host:2001:db8:1:2::5`, `host:2001:db8:1::`},
		{host, `[2001:db8:1:2::5]:443`, `[2001:db8:1::]:443`},
		{host, `cafe2001:db8:1:2::5`, `cafe2001:db8:1::`},
		{host, `::ffff:198.51.100.7`, `198.51.100.0`},
		{host, `ip=2001%3Adb8%3A1%3A2%3A%3A5`, `ip=2001:db8:1::`},
		{host, `fe80::1%eth0`, `fe80::%eth0`},
		{host, `[::1]:80`, `[::]:80`},
		// Not addresses.
		{host, `[21/Nov/2026:10:00:00 +0100]`, `[21/Nov/2026:10:00:00 +0100]`},
		{host, `Chrome/120.0.6099.109 Safari/537.36 v1.2.3`, `Chrome/120.0.6099.109 Safari/537.36 v1.2.3`},
		{host, `std::string Foo::Bar aa:bb:cc:dd:ee:ff`, `std::string Foo::Bar aa:bb:cc:dd:ee:ff`},
		{host, `5198.51.100.77 198.51.100.256`, `5198.51.100.77 198.51.100.256`},
		// The user agent of the report, with everything on.
		{all, `Mozilla/5.0 (compatible; bot/1.0; +http://bot.example/?token=SECRETA1) via 198.51.100.77`,
			`Mozilla/5.0 (compatible; bot/1.0; +http://bot.example/ via 198.51.100.0`},
		{params, `Mozilla/5.0 (compatible; bot/1.0; +http://bot.example/?token=SECRETA1) via x`,
			`Mozilla/5.0 (compatible; bot/1.0; +http://bot.example/?token=redacted) via x`},
		{params, `/cb#access_token=zz1&state=ok`, `/cb#access_token=redacted&state=ok`},
		{params, `bot token=zz2 sid=zz3;x=1`, `bot token=redacted sid=redacted;x=1`},
		{params, `/a?mytoken=keep&token=&key=zz4`, `/a?mytoken=keep&token=&key=redacted`},
	} {
		red, err := redact.New(c.o)
		if err != nil {
			t.Fatal(err)
		}
		if got := red.Text(c.in); got != c.want {
			t.Errorf("Text(%q)=%q, want %q", c.in, got, c.want)
		}
	}
}

// Every field read from a line is masked: the agent, the method and the
// protocol as much as the path.
func TestRecordEveryField(t *testing.T) {
	red, err := redact.New(redact.Options{Host: redact.HostPrefix, Query: true, Params: redact.DefaultParams})
	if err != nil {
		t.Fatal(err)
	}
	line := `198.51.100.1 - - [21/Nov/2026:10:00:00 +0100] "GET /a?token=SECRETA2 HTTP/1.1" 200 1 "https://r.example/?sid=SECRETA3" ` +
		`"Mozilla/5.0 (compatible; bot/1.0; +http://bot.example/?token=SECRETA1) via 198.51.100.77" "X-Real-IP:198.51.100.78" host:198.51.100.79 "addr":198.51.100.83`
	r := format.Parse(line)
	if !r.Parsed {
		t.Fatalf("Parse(%q) did not parse", line)
	}
	r.VHost, r.Method, r.Proto = "198.51.100.84:443", "GET?token=SECRETA4", "HTTP/1.1?key=SECRETA5"
	red.Record(&r)
	all := strings.Join([]string{r.VHost, r.Host, r.Ident, r.User, r.Method, r.Path, r.Proto, r.Request, r.Referer, r.Agent, r.Extra, r.Line}, "|")
	for _, leak := range []string{"SECRETA", ".77", ".78", ".79", ".83", ".84", "198.51.100.1 ", "?"} {
		if strings.Contains(all, leak) {
			t.Errorf("%q survives: %s", leak, all)
		}
	}
}

// A record masked twice (by a publisher, then by an edge with the same
// options) is masked as once: a hashed client is not hashed again.
func TestRecordTwice(t *testing.T) {
	line := `203.0.113.9 - - [21/Nov/2026:10:00:00 +0100] "GET /a?token=x HTTP/1.1" 200 1 "-" "via 198.51.100.7"`
	for _, o := range []redact.Options{
		{Host: redact.HostHash, HashKey: []byte("0123456789abcdef"), Params: redact.DefaultParams},
		{Host: redact.HostPrefix, Query: true},
	} {
		red, err := redact.New(o)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range []record.Record{format.Parse(line), jsonRecord("-")} {
			once := r
			red.Record(&once)
			twice := once
			red.Record(&twice)
			if !reflect.DeepEqual(twice, once) {
				t.Errorf("masked again:\n%+v\nonce:\n%+v", twice, once)
			}
		}
	}
}

// jsonRecord is a record as a JSON format's parser gives it: the fields
// it knows, the others under Fields, and the line, which is not Common
// or Combined.
func jsonRecord(user string) record.Record {
	return record.Record{
		Parsed: true, Host: "203.0.113.9", Ident: "", User: user, Method: "GET", Path: "/a?token=zz1", Proto: "HTTP/1.1", Status: 200,
		Line: `{"remote_addr":"203.0.113.9","remote_user":"` + user + `","request":"GET /a?token=zz1 HTTP/1.1","time":"[07/Dec/2026:10:00:00 +0000]",` +
			`"http_x_forwarded_for":"198.51.100.7, 10.0.0.1","ssl_protocol":"TLSv1.3","note":"see /b?token=zz2"}`,
		Fields: []record.Pair{
			{Name: "http_x_forwarded_for", Value: "198.51.100.7, 10.0.0.1"},
			{Name: "ssl_protocol", Value: "TLSv1.3"},
			{Name: "note", Value: "see /b?token=zz2 from 192.0.2.44"},
			{Name: "ClientAddr", Value: "[2001:db8:1:2::5]:443"},
			{Name: "c-ip", Value: "client.example"},
			{Name: "ClientUsername", Value: "frank"},
			{Name: "note", Value: "given twice"},
		},
	}
}

// The raw line of a record of another format than Common or Combined is
// masked as text (no prefix to rebuild), or withheld with user on when it
// names a user; Fields are masked by their names.
func TestRecordOtherFormats(t *testing.T) {
	key := []byte("0123456789abcdef")
	for _, c := range []struct {
		name  string
		r     record.Record
		o     redact.Options
		check func(r record.Record) string
	}{
		{"host prefix", jsonRecord(""), redact.Options{Host: redact.HostPrefix},
			func(r record.Record) string {
				return want(r.Host == "203.0.113.0" && strings.HasPrefix(r.Line, `{"remote_addr":"203.0.113.0","remote_user":"",`) &&
					strings.Contains(r.Line, `"198.51.100.0, 10.0.0.0"`) && strings.Contains(r.Line, "token=zz1") &&
					fmt.Sprint(r.Fields) == "[{http_x_forwarded_for 198.51.100.0, 10.0.0.0} {ssl_protocol TLSv1.3} {note see /b?token=zz2 from 192.0.2.0} "+
						"{ClientAddr [2001:db8:1::]:443} {c-ip redacted} {ClientUsername frank} {note given twice}]", r)
			}},
		{"host hash", jsonRecord(""), redact.Options{Host: redact.HostHash, HashKey: key},
			func(r record.Record) string {
				h := r.Host
				return want(strings.HasPrefix(h, "h-") && strings.HasPrefix(r.Line, `{"remote_addr":"`+h+`"`) &&
					r.Fields[0].Value == strings.Join([]string{hostHash(t, key, "198.51.100.7"), hostHash(t, key, "10.0.0.1")}, ", ") &&
					strings.HasPrefix(r.Fields[4].Value, "h-") && !strings.Contains(r.Line, "198.51.100.7"), r)
			}},
		{"params and query", jsonRecord(""), redact.Options{Query: true, Params: redact.DefaultParams},
			func(r record.Record) string {
				return want(!strings.Contains(r.Line, "zz1") && !strings.Contains(r.Line, "zz2") && r.Path == "/a" &&
					r.Fields[2].Value == "see /b from 192.0.2.44" && r.Fields[0].Value == "198.51.100.7, 10.0.0.1", r)
			}},
		{"user, the line names one", jsonRecord("frank"), redact.Options{User: true},
			func(r record.Record) string {
				return want(r.User == "-" && r.Line == redact.Withheld && r.Fields[5].Value == "-" && r.Fields[2].Value == "see /b?token=zz2 from 192.0.2.44", r)
			}},
		{"user, the line names none", jsonRecord("-"), redact.Options{User: true, Host: redact.HostPrefix},
			func(r record.Record) string {
				return want(strings.HasPrefix(r.Line, `{"remote_addr":"203.0.113.0","remote_user":"-",`) && r.Fields[5].Value == "-", r)
			}},
		{"time first: not Common", func() record.Record {
			r := format.Parse(`203.0.113.9 frank - [07/Dec/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1`)
			r.Line = `[07/Dec/2026:10:00:00 +0000] 203.0.113.9 frank "GET / HTTP/1.1" 200 1`
			return r
		}(), redact.Options{Host: redact.HostPrefix, User: true},
			func(r record.Record) string { return want(r.Line == redact.Withheld, r) }},
		{"time first, no user", func() record.Record {
			r := format.Parse(`203.0.113.9 - - [07/Dec/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1`)
			r.Line = `[07/Dec/2026:10:00:00 +0000] 203.0.113.9 - "GET / HTTP/1.1" 200 1`
			return r
		}(), redact.Options{Host: redact.HostPrefix, User: true},
			func(r record.Record) string {
				return want(r.Line == `[07/Dec/2026:10:00:00 +0000] 203.0.113.0 - "GET / HTTP/1.1" 200 1`, r)
			}},
	} {
		red, err := redact.New(c.o)
		if err != nil {
			t.Fatal(err)
		}
		r := c.r
		fields := slices.Clone(r.Fields)
		red.Record(&r)
		if msg := c.check(r); msg != "" {
			t.Errorf("%s: %s fields=%v", c.name, msg, r.Fields)
		}
		if !reflect.DeepEqual(c.r.Fields, fields) {
			t.Errorf("%s: the parser's Fields were changed in place: %v", c.name, c.r.Fields)
		}
	}
}

// hostHash is what host=hash makes of one address.
func hostHash(t *testing.T, key []byte, addr string) string {
	red, err := redact.New(redact.Options{Host: redact.HostHash, HashKey: key})
	if err != nil {
		t.Fatal(err)
	}
	r := record.Record{Parsed: true, Host: addr}
	red.Record(&r)
	return r.Host
}

func TestAddressName(t *testing.T) {
	for _, name := range []string{
		"remote_addr", "realip_remote_addr", "binary_remote_addr", "proxy_protocol_addr", "http_x_forwarded_for",
		"x_forwarded_for", "X-Forwarded-For", "cs(X-Forwarded-For)", "x-forwarded-for", "ClientAddr", "ClientHost",
		"c-ip", "client_ip", "http_x_real_ip", "http_cf_connecting_ip", "true_client_ip", "remoteIP", "ClientIP",
		"IPAddress", "request.remote_ip", "RemoteHost", "forwarded", "http_forwarded", "upstream_addr", "s-ip",
	} {
		if !redact.AddressName(name) {
			t.Errorf("AddressName(%q)=false, want true", name)
		}
	}
	for _, name := range []string{
		"", "ssl_protocol", "request_id", "RouterName", "host", "http_host", "RequestHost", "x_forwarded_host",
		"ship", "zip", "gzip_ratio", "address_book_id", "remote_port", "ClientPort", "ip_version", "tooltip",
	} {
		if redact.AddressName(name) {
			t.Errorf("AddressName(%q)=true, want false", name)
		}
	}
	for name, want := range map[string]bool{
		"remote_user": true, "ClientUsername": true, "cs-username": true, "user_name": true, "user": true,
		"http_user_agent": false, "user_id": false, "request_id": false, "": false,
	} {
		if got := redact.UserName(name); got != want {
			t.Errorf("UserName(%q)=%v, want %v", name, got, want)
		}
	}
}
