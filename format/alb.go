package format

import (
	"strconv"
	"strings"
	"time"

	"github.com/weblogd/weblogd/record"
)

// alb reads the access log of an AWS Application Load Balancer, one line
// per request, fields separated by spaces, text fields quoted:
//
//	https 2024-01-02T22:23:00.186641Z app/my-lb/50dc6c495c0c9188 192.0.2.39:2817 10.0.0.1:80 0.086 0.048 0.037 200 200 0 57
//	"GET https://www.example.com:443/index.html HTTP/1.1" "curl/8.5.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2
//	arn:aws:elasticloadbalancing:...:targetgroup/web/73e2d6bc24d8a067 "Root=1-58337281-1d84f3d73c47ec4e58577259"
//	"www.example.com" "arn:aws:acm:...:certificate/1234" 1 2024-01-02T22:22:48.364000Z "authenticate,forward" "-" "-"
//	"10.0.0.1:80" "200" "-" "-" TID_1234
//
// (one line in the log). duration is the sum of the three processing
// times, and upstream_duration the target's; a -1 among them (no target
// reached) leaves them unset. The request's target is absolute: its path
// is kept, and its host is the virtual host when domain_name (the TLS
// server name) is "-". Every other field goes to Fields under the name
// AWS gives it; fields that newer load balancers add at the end, under
// their position ("field_31").
type alb struct{ fields fields }

func newALB() Parser      { return &alb{} }
func (*alb) Name() string { return "alb" }

// albNames are the fields of an ALB line, in order.
var albNames = [...]string{
	"type", "time", "elb", "client:port", "target:port",
	"request_processing_time", "target_processing_time", "response_processing_time",
	"elb_status_code", "target_status_code", "received_bytes", "sent_bytes",
	"request", "user_agent", "ssl_cipher", "ssl_protocol", "target_group_arn", "trace_id",
	"domain_name", "chosen_cert_arn", "matched_rule_priority", "request_creation_time",
	"actions_executed", "redirect_url", "error_reason", "target:port_list",
	"target_status_code_list", "classification", "classification_reason", "conn_trace_id",
}

// albRequired is how many fields a line must have, up to user_agent; a
// line with fewer is not an ALB line.
const albRequired = 14

func (p *alb) Parse(r *record.Record, line string) (bool, int) {
	s := strings.TrimSuffix(line, "\r")
	p.fields.reset()
	var times [3]time.Duration
	timesSet := true
	var urlHost string
	i, k := 0, 0
	for ; i < len(s); k++ {
		if k > 0 {
			if s[i] != ' ' {
				return false, i
			}
			i++
		}
		at := i
		var v string
		quoted := i < len(s) && s[i] == '"'
		if quoted {
			raw, next, closed := scanQuoted(s, i)
			if !closed {
				return false, at
			}
			v, i = unescape(raw), next
		} else {
			j := strings.IndexByte(s[i:], ' ')
			if j < 0 {
				j = len(s) - i
			}
			if j == 0 {
				return false, at
			}
			v, i = s[i:i+j], i+j
		}
		ok := true
		switch k {
		case 1:
			r.Time, ok = parseISOTime(v)
		case 3:
			r.Host, ok = splitHostPort(v)
		case 5, 6, 7:
			if v == "-1" {
				timesSet = false
			} else {
				times[k-5], ok = decimalDuration(v, time.Second)
			}
			if k != 6 {
				p.fields.add(albNames[k], v)
			}
		case 8:
			// "-" when the client sent no complete request.
			if v != "-" {
				ok = len(v) == 3
				if ok {
					r.Status, ok = atoi3(v)
					ok = ok && r.Status >= 100
				}
			}
		case 11:
			r.Bytes, ok = parseBytes(v)
		case 12:
			if m, target, proto, split := splitRequest(v); split {
				r.Method, r.Proto = m, proto
				r.Path, urlHost = splitAbsolute(target)
			} else {
				r.Request = v
			}
		case 13:
			if v != "-" {
				r.Agent = v
			}
		case 18:
			if v != "-" {
				r.VHost = v
			}
		default:
			if v == "-" || v == "" {
				break
			}
			var name string
			if k < len(albNames) {
				name = albNames[k]
			} else {
				name = "field_" + strconv.Itoa(k+1)
			}
			p.fields.add(name, v)
		}
		if !ok {
			return false, at
		}
	}
	if k < albRequired {
		return false, len(s)
	}
	if r.VHost == "" {
		r.VHost = urlHost
	}
	if timesSet {
		r.Duration = record.Took(times[0] + times[1] + times[2])
		r.UpstreamDuration = record.Took(times[1])
	}
	r.Fields = p.fields.done()
	return true, 0
}

// splitHostPort drops the port of "192.0.2.39:2817" or
// "[2001:db8::1]:2817".
func splitHostPort(v string) (string, bool) {
	if v == "-" {
		return "", true
	}
	if strings.HasPrefix(v, "[") {
		end := strings.IndexByte(v, ']')
		if end < 0 {
			return "", false
		}
		return v[1:end], true
	}
	c := strings.LastIndexByte(v, ':')
	if c <= 0 {
		return v, true
	}
	return v[:c], true
}

// splitAbsolute splits "https://www.example.com:443/index.html" into its
// path ("/index.html") and host ("www.example.com"). A target that is a
// path already is returned as it is.
func splitAbsolute(target string) (path, host string) {
	rest, ok := strings.CutPrefix(target, "https://")
	if !ok {
		rest, ok = strings.CutPrefix(target, "http://")
	}
	if !ok {
		return target, ""
	}
	slash := strings.IndexByte(rest, '/')
	if slash < 0 {
		host, path = rest, "/"
	} else {
		host, path = rest[:slash], rest[slash:]
	}
	host, _ = splitHostPort(host)
	return path, host
}
