package format

import (
	"time"

	"github.com/weblogd/weblogd/record"
)

// caddy reads Caddy's JSON access log, one object per request:
//
//	{"level":"info","ts":1646861401.5241024,"logger":"http.log.access","msg":"handled request",
//	 "request":{"remote_ip":"127.0.0.1","remote_port":"41342","client_ip":"127.0.0.1","proto":"HTTP/2.0",
//	  "method":"GET","host":"example.com","uri":"/","headers":{"User-Agent":["curl/7.82.0"]},
//	  "tls":{"resumed":false,"version":772,"cipher_suite":4865,"proto":"h2","server_name":"example.com"}},
//	 "bytes_read":0,"user_id":"","duration":0.000929675,"size":10900,"status":200,"resp_headers":{...}}
//
// Request and response headers other than User-Agent and Referer are
// not kept: they are many, and most repeat on every line. A few values
// that tell requests apart go to Fields (the names below). Other lines of
// Caddy's log (its runtime messages, when both go to one output) have
// no request and status, and do not parse.
type caddy struct {
	sc     jsonScan
	fields fields
}

func newCaddy() Parser      { return &caddy{} }
func (*caddy) Name() string { return "caddy" }

// The values kept in Fields, under their dotted names.
const (
	caddyLogger      = "logger"              // which site's log, when there are several
	caddyBytesRead   = "bytes_read"          // the request body's size
	caddyRemoteIP    = "request.remote_ip"   // the peer, when a trusted proxy named another client_ip
	caddyTLSVersion  = "request.tls.version" // as Go numbers it: 772 is TLS 1.3
	caddyTLSCipher   = "request.tls.cipher_suite"
	caddyTLSProto    = "request.tls.proto" // ALPN: h2, http/1.1
	caddyTLSServerNm = "request.tls.server_name"
)

func (p *caddy) Parse(r *record.Record, line string) (bool, int) {
	sc := &p.sc
	sc.reset(line)
	p.fields.reset()
	var remoteIP, clientIP string
	var request, status bool
	for sc.next() {
		switch sc.depth() {
		case 0:
			switch sc.key {
			case "ts":
				t, ok := caddyTime(sc)
				if !ok {
					return false, sc.start
				}
				r.Time = t
			case "logger":
				if sc.kind == jsonString {
					p.fields.add(caddyLogger, sc.value)
				}
			case "request":
				if sc.kind != jsonObject {
					return false, sc.start
				}
				request = true
				sc.enter()
			case "bytes_read":
				p.fields.add(caddyBytesRead, sc.value)
			case "user_id":
				if sc.kind == jsonString {
					r.User = sc.value
				}
			case "duration":
				d, ok := caddyDuration(sc)
				if !ok {
					return false, sc.start
				}
				r.Duration = record.Took(d)
			case "size":
				n, ok := parseBytes(sc.value)
				if sc.kind != jsonNumber || !ok {
					return false, sc.start
				}
				r.Bytes = n
			case "status":
				n, ok := parseBytes(sc.value)
				if sc.kind != jsonNumber || !ok || n < 100 || n > 999 {
					return false, sc.start
				}
				r.Status, status = int(n), true
			}
		case 1: // request.*
			if sc.kind != jsonString {
				if sc.key == "headers" || sc.key == "tls" {
					sc.enter()
				}
				continue
			}
			switch sc.key {
			case "remote_ip":
				remoteIP = sc.value
			case "client_ip":
				clientIP = sc.value
			case "proto":
				r.Proto = sc.value
			case "method":
				r.Method = sc.value
			case "host":
				r.VHost = sc.value
			case "uri":
				r.Path = sc.value
			}
		case 2: // request.headers.*, request.tls.*
			if sc.parent() == "headers" {
				if sc.kind == jsonArray && (sc.key == "User-Agent" || sc.key == "Referer") {
					sc.enter()
				}
				continue
			}
			var name string
			switch sc.key {
			case "version":
				name = caddyTLSVersion
			case "cipher_suite":
				name = caddyTLSCipher
			case "proto":
				name = caddyTLSProto
			case "server_name":
				name = caddyTLSServerNm
			default:
				continue
			}
			if sc.kind == jsonString || sc.kind == jsonNumber {
				p.fields.add(name, sc.value)
			}
		case 3: // the values of a header: one each, joined as HTTP joins them
			if sc.kind != jsonString {
				continue
			}
			if sc.parent() == "User-Agent" {
				r.Agent = joinHeader(r.Agent, sc.value)
			} else {
				r.Referer = joinHeader(r.Referer, sc.value)
			}
		}
	}
	if ok, at := sc.end(); !ok {
		return false, at
	}
	if !request || !status {
		return false, len(line)
	}
	r.Host = remoteIP
	if clientIP != "" {
		r.Host = clientIP
		if remoteIP != "" && remoteIP != clientIP {
			p.fields.add(caddyRemoteIP, remoteIP)
		}
	}
	r.Fields = p.fields.done()
	return true, 0
}

// joinHeader adds one more value of a header field.
func joinHeader(have, v string) string {
	if have == "" {
		return v
	}
	return have + ", " + v
}

// caddyTime reads ts: seconds since the epoch by default, or what the
// encoder's time_format makes of it: other units of the epoch, told
// apart by their size, or a formatted time.
func caddyTime(sc *jsonScan) (time.Time, bool) {
	switch sc.kind {
	case jsonNumber:
		whole, _, _, ok := splitDecimal(sc.value)
		if !ok {
			return unixSeconds(sc.value)
		}
		// Seconds stay below 1e11 until the year 5138.
		switch {
		case whole >= 1e17:
			return time.Unix(0, whole).UTC(), true
		case whole >= 1e14:
			d, ok := decimalDuration(sc.value, time.Microsecond)
			return time.Unix(0, int64(d)).UTC(), ok
		case whole >= 1e11:
			d, ok := decimalDuration(sc.value, time.Millisecond)
			return time.Unix(0, int64(d)).UTC(), ok
		}
		return unixSeconds(sc.value)
	case jsonString:
		for _, layout := range caddyTimeLayouts {
			if t, err := time.Parse(layout, sc.value); err == nil {
				return t, true
			}
		}
	}
	return time.Time{}, false
}

// caddyTimeLayouts are the formatted times of Caddy's time_format
// (fractional seconds are read whether a layout names them or not).
// wall has no zone: it is read as UTC.
var caddyTimeLayouts = []string{
	time.RFC3339,                 // rfc3339, rfc3339_nano
	"2006-01-02T15:04:05Z0700",   // iso8601
	"2006/01/02 15:04:05",        // wall, wall_milli, wall_nano
	"02/Jan/2006:15:04:05 -0700", // common_log
}

// caddyDuration reads duration: seconds by default, or a Go duration
// string ("1.5ms") with duration_format string.
func caddyDuration(sc *jsonScan) (time.Duration, bool) {
	switch sc.kind {
	case jsonNumber:
		return decimalDuration(sc.value, time.Second)
	case jsonString:
		d, err := time.ParseDuration(sc.value)
		return d, err == nil && d >= 0
	}
	return 0, false
}
