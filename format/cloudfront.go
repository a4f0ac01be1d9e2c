package format

import (
	"strings"
	"time"
)

// cloudFront is the W3C dialect of CloudFront's standard logs: fields
// separated by tabs, the time taken in seconds, and values URL-encoded.
// The user agent is encoded twice ("Mozilla/5.0%2520(X11)") and is
// decoded twice; the referer and the other text fields once. The path
// and query stay as the client sent them, as in every other format.
// x-host-header, the Host the client asked for, gives the virtual host;
// cs(Host), the distribution's own name, when the line has no
// x-host-header.
var cloudFront = &w3cDialect{
	name: "cloudfront",
	sep:  '\t',
	defaults: "date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) " +
		"cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol " +
		"cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type " +
		"cs-protocol-version fle-status fle-encrypted-fields c-port time-to-first-byte " +
		"x-edge-detailed-result-type sc-content-type sc-content-len sc-range-start sc-range-end",
	duration: time.Second,
	vhosts:   []string{"x-host-header", "cs(Host)"},
	decode: func(c *w3cColumn, v string) string {
		switch c.role {
		case roleAgent:
			return urlDecode(urlDecode(v))
		case roleVHost:
			return v
		}
		return urlDecode(v)
	},
}

func newCloudFront() Parser { return newW3CDialect(cloudFront) }

// urlDecode decodes %XX escapes; a '%' not followed by two hex digits
// stays as it is. Without escapes, v is returned as it is.
func urlDecode(v string) string {
	k := strings.IndexByte(v, '%')
	if k < 0 {
		return v
	}
	b := make([]byte, k, len(v))
	copy(b, v[:k])
	for i := k; i < len(v); i++ {
		if v[i] == '%' && i+2 < len(v) {
			hi, ok1 := unhex(v[i+1])
			lo, ok2 := unhex(v[i+2])
			if ok1 && ok2 {
				b = append(b, hi<<4|lo)
				i += 2
				continue
			}
		}
		b = append(b, v[i])
	}
	return string(b)
}
