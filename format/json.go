package format

import (
	"time"

	"github.com/weblogd/weblogd/record"
)

// jsonLog reads one JSON object per line whose keys are nginx variable
// names without the '$', as an nginx log_format with escape=json writes
// them:
//
//	log_format json escape=json '{"time_local":"$time_local","remote_addr":"$remote_addr",'
//	    '"request":"$request","status":$status,"request_time":$request_time}';
//
// Each key is read through the same table as a log_format's variables
// (nginxVars), so "status" fills the record's status whether it is
// written as a number or a string. A few other spellings people use are
// read as the variable they mean (jsonAliases). Other keys go to Fields
// under their name, their value as written (a number's digits, true,
// false; a string decoded); null values, nested objects and arrays, and
// empty keys are left out. A line without a status is not an access-log line and does
// not parse.
type jsonLog struct {
	sc     jsonScan
	fields fields
}

func newJSON() Parser         { return &jsonLog{} }
func (*jsonLog) Name() string { return "json" }

// jsonAliases maps keys that JSON access logs often use to the nginx
// variable they stand for.
var jsonAliases = map[string]string{
	"@timestamp":    "time_iso8601",
	"timestamp":     "time_iso8601",
	"time":          "time_iso8601",
	"remote_ip":     "remote_addr",
	"client_ip":     "remote_addr",
	"method":        "request_method",
	"http_referrer": "http_referer",
	"referer":       "http_referer",
	"referrer":      "http_referer",
	"user_agent":    "http_user_agent",
	"vhost":         "host",
}

func (p *jsonLog) Parse(r *record.Record, line string) (bool, int) {
	sc := &p.sc
	sc.reset(line)
	p.fields.reset()
	var claimed uint16
	var uri, args, argsKey string
	status := false
	for sc.next() {
		if sc.depth() > 0 || sc.kind == jsonObject || sc.kind == jsonArray || sc.kind == jsonNull || sc.key == "" {
			continue
		}
		key, v := sc.key, sc.value
		name := key
		if a, ok := jsonAliases[key]; ok {
			name = a
		}
		k := lookupVar(name).kind
		if k != kField {
			if need := fills(k); need&claimed != 0 {
				k = kField
			} else {
				claimed |= need
			}
		}
		if k != kField && v == "" {
			continue // nginx writes "" for a variable without a value
		}
		switch k {
		case kField, kPort, kIsArgs:
			p.fields.add(key, v)
			continue
		case kURI:
			uri = v
		case kArgs:
			args, argsKey = v, key
			continue
		case kTimeLocal, kTimeISO, kMsec:
			if v == "-" {
				continue
			}
			t, ok := jsonTime(k, sc.kind, v)
			if !ok {
				return false, sc.start
			}
			r.Time = t
			continue
		case kStatus:
			status = true
		}
		if sc.kind != jsonString && sc.kind != jsonNumber || !setValue(r, k, v) {
			return false, sc.start
		}
	}
	if ok, at := sc.end(); !ok {
		return false, at
	}
	if !status {
		return false, len(line)
	}
	switch {
	case args == "":
	case claimed&bURI != 0 && uri != "":
		r.Path = uri + "?" + args
	default:
		p.fields.add(argsKey, args)
	}
	r.Fields = p.fields.done()
	return true, 0
}

// jsonTime reads a time: as its variable writes it, or, whatever the key,
// a number of seconds since the epoch or an ISO 8601 time.
func jsonTime(k kind, jk jsonKind, v string) (time.Time, bool) {
	if jk == jsonNumber {
		return unixSeconds(v)
	}
	if t, ok := wholeTime(k, v); ok {
		return t, true
	}
	if t, ok := parseISOTime(v); ok {
		return t, true
	}
	if len(v) == 26 {
		return parseTimeLocal(v)
	}
	return time.Time{}, false
}
