package format

import (
	"time"

	"github.com/weblogd/weblogd/record"
)

// traefikJSON reads Traefik's JSON access log, one flat object per
// request whose keys are Traefik's field names:
//
//	{"ClientAddr":"192.0.2.7:52144","ClientHost":"192.0.2.7","ClientPort":"52144","ClientUsername":"-",
//	 "DownstreamContentSize":2326,"DownstreamStatus":200,"Duration":3164727,"OriginContentSize":2326,
//	 "OriginDuration":2906103,"OriginStatus":200,"Overhead":258624,"RequestAddr":"example.com",
//	 "RequestContentSize":0,"RequestCount":42,"RequestHost":"example.com","RequestMethod":"GET",
//	 "RequestPath":"/api","RequestPort":"-","RequestProtocol":"HTTP/1.1","RequestScheme":"http",
//	 "RetryAttempts":0,"RouterName":"web@docker","ServiceAddr":"10.0.0.5:8080","ServiceName":"web@docker",
//	 "ServiceURL":"http://10.0.0.5:8080","StartLocal":"2024-01-02T13:55:36.123456789+01:00",
//	 "StartUTC":"2024-01-02T12:55:36.123456789Z","entryPointName":"web","level":"info","msg":"",
//	 "request_User-Agent":"curl/8.5.0","time":"2024-01-02T13:55:36+01:00"}
//
// Every key that is not a record field goes to Fields, as written,
// except level, msg and time, which the logger adds to every line. A
// line without DownstreamStatus or OriginStatus is not an access entry
// and does not parse.
type traefikJSON struct {
	sc     jsonScan
	fields fields
}

func newTraefikJSON() Parser      { return &traefikJSON{} }
func (*traefikJSON) Name() string { return "traefik-json" }

func (p *traefikJSON) Parse(r *record.Record, line string) (bool, int) {
	sc := &p.sc
	sc.reset(line)
	p.fields.reset()
	var startLocal, startUTC, logTime string
	var downstream, origin string
	for sc.next() {
		if sc.key == "" {
			// A value without a name cannot be a field.
			continue
		}
		if sc.kind == jsonObject || sc.kind == jsonArray {
			// Traefik writes none; keep one that a newer version adds.
			p.fields.add(sc.key, sc.raw())
			continue
		}
		v := sc.value
		var ok = true
		switch sc.key {
		case "ClientHost":
			r.Host = v
		case "ClientUsername":
			if v != "-" {
				r.User = v
			}
		case "RequestMethod":
			r.Method = v
		case "RequestPath":
			r.Path = v
		case "RequestProtocol":
			r.Proto = v
		case "RequestHost":
			r.VHost = v
		case "DownstreamStatus":
			downstream = v
		case "OriginStatus":
			origin = v
			p.fields.add(sc.key, v)
		case "DownstreamContentSize":
			r.Bytes, ok = parseBytes(v)
		case "Duration":
			var d time.Duration
			d, ok = decimalDuration(v, time.Nanosecond)
			r.Duration = record.Took(d)
		case "OriginDuration":
			var d time.Duration
			d, ok = decimalDuration(v, time.Nanosecond)
			r.UpstreamDuration = record.Took(d)
		case "StartLocal":
			startLocal = v
		case "StartUTC":
			startUTC = v
		case "request_User-Agent":
			r.Agent = v
		case "request_Referer":
			r.Referer = v
		case "time":
			logTime = v
		case "level", "msg":
		default:
			if v != "-" { // Traefik's none ("RequestPort":"-")
				p.fields.add(sc.key, v)
			}
		}
		if !ok {
			return false, sc.start
		}
	}
	if ok, at := sc.end(); !ok {
		return false, at
	}
	status := downstream
	if status == "" {
		status = origin
	}
	n, ok := parseBytes(status)
	if !ok || n < 100 || n > 999 {
		return false, len(line)
	}
	r.Status = int(n)
	// StartLocal keeps the server's offset; time is only to the second.
	for _, s := range [...]string{startLocal, startUTC, logTime} {
		if s == "" {
			continue
		}
		if t, ok := parseISOTime(s); ok {
			r.Time = t
			break
		}
	}
	r.Fields = p.fields.done()
	return true, 0
}
