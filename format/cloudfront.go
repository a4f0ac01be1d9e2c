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
			return urlDecodeTwice(v)
		case roleVHost:
			return v
		}
		return urlDecode(v)
	},
}

func newCloudFront() Parser { return newW3CDialect(cloudFront) }

// urlDecode decodes %XX escapes; a '%' not followed by two hex digits
// stays as it is. Without escapes, v is returned as it is; with them, it
// costs one allocation (values up to 512 bytes are decoded on the stack).
func urlDecode(v string) string {
	if strings.IndexByte(v, '%') < 0 {
		return v
	}
	var stack [512]byte
	return string(appendURLDecoded(stack[:0], v))
}

// urlDecodeTwice is urlDecode(urlDecode(v)) in one allocation.
func urlDecodeTwice(v string) string {
	if strings.IndexByte(v, '%') < 0 {
		return v
	}
	var stack [512]byte
	once := appendURLDecoded(stack[:0], v)
	// Decoding never lengthens, so the second pass writes over the first
	// behind where it reads.
	return string(appendURLDecoded(once[:0], once))
}

func appendURLDecoded[S string | []byte](b []byte, v S) []byte {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '%' && i+2 < len(v) {
			hi, ok1 := unhex(v[i+1])
			lo, ok2 := unhex(v[i+2])
			if ok1 && ok2 {
				c = hi<<4 | lo
				i += 2
			}
		}
		b = append(b, c)
	}
	return b
}
