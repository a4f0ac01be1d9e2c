package format

import (
	"errors"
	"fmt"
	"strings"
)

// compileApache compiles an Apache LogFormat string into a Parser, which
// is safe to share between sources. It takes the string as users paste
// it: the format alone, or quoted as in httpd.conf (with \" inside),
// with or without the LogFormat directive and a nickname after it.
func compileApache(spec string) (Parser, error) {
	src, nick, err := apacheSource(spec)
	if err != nil {
		return nil, err
	}
	b := &builder{}
	b.p.name = "apache"
	if nick != "" {
		b.p.name = "apache " + nick
	}
	f := string(src.text)
	for i := 0; i < len(f); {
		c := f[i]
		if c == '\\' && i+1 < len(f) {
			// mod_log_config's escapes in the literal text.
			switch f[i+1] {
			case 'n':
				b.literal("\n")
			case 't':
				b.literal("\t")
			case '\\', '"':
				b.literal(f[i+1 : i+2])
			default:
				b.literal(f[i : i+2])
			}
			i += 2
			continue
		}
		if c != '%' {
			b.literal(f[i : i+1])
			i++
			continue
		}
		start := i
		i++
		if i < len(f) && f[i] == '%' {
			b.literal("%")
			i++
			continue
		}
		var arg string
		hasArg := false
	directive:
		for {
			if i >= len(f) {
				return nil, fmt.Errorf("column %d: unfinished Apache directive %s", src.col(start), f[start:])
			}
			switch c := f[i]; {
			case c == '!' || c == ',' || '0' <= c && c <= '9' || c == '<' || c == '>':
				// A status condition (%400,501{User-Agent}i, %!200{Referer}i)
				// or which request of a redirect: the value's shape is the same.
				i++
			case c == '{':
				j := strings.IndexByte(f[i:], '}')
				if j < 0 {
					return nil, fmt.Errorf("column %d: unterminated %%{", src.col(start))
				}
				arg, hasArg = f[i+1:i+j], true
				i += j + 1
			default:
				break directive
			}
		}
		letter := f[i : i+1]
		if f[i] == '^' {
			if i+3 > len(f) || (f[i+1:i+3] != "ti" && f[i+1:i+3] != "to") {
				return nil, fmt.Errorf("column %d: unknown Apache directive %s", src.col(start), f[start:min(i+3, len(f))])
			}
			letter = f[i : i+3]
		}
		i += len(letter)
		label := f[start:i]
		col := src.col(start)
		if err := apacheDirective(b, letter, arg, hasArg, label, col); err != nil {
			return nil, err
		}
	}
	if len(b.p.slots) == 0 {
		if len(src.text) == 0 {
			return nil, errors.New("empty format")
		}
		return nil, errors.New("no directive at all")
	}
	return b.done(), nil
}

// apacheDirective adds the slot of one directive to b.
func apacheDirective(b *builder, letter, arg string, hasArg bool, label string, col int) error {
	sl := slot{label: label, col: col, esc: escBackslash}
	needArg := func(what string) error {
		if !hasArg || arg == "" {
			return fmt.Errorf("column %d: %s needs %s: %%{...}%s", col, label, what, letter)
		}
		sl.kind, sl.name = kField, arg
		return nil
	}
	unknown := func() error {
		return fmt.Errorf("column %d: unknown Apache directive %s", col, label)
	}
	var err error
	switch letter {
	case "a":
		switch arg {
		case "":
			sl.kind, sl.name, sl.class = kHost, "remote_addr", cHost
		case "c":
			sl.name, sl.class = "peer_addr", cHost
		default:
			return unknown()
		}
	case "A":
		sl.name, sl.class = "local_addr", cHost
	case "b":
		sl.kind, sl.name, sl.class = kBytes, "bytes", cNumber
	case "B":
		sl.kind, sl.name, sl.class = kBytes, "body_bytes", cDigits
	case "C":
		err = needArg("a cookie name")
	case "D":
		sl.kind, sl.name, sl.class = kMicros, "duration_us", cDigits
	case "e":
		err = needArg("a variable name")
	case "f":
		sl.name = "filename"
	case "h":
		switch arg {
		case "":
			sl.kind, sl.name, sl.class = kHost, "remote_host", cHost
		case "c":
			sl.name, sl.class = "peer_host", cHost
		default:
			return unknown()
		}
	case "H":
		sl.kind, sl.name, sl.class = kProto, "protocol", cTarget
	case "i":
		if err = needArg("a header name"); err == nil {
			switch strings.ToLower(arg) {
			case "referer":
				sl.kind = kReferer
			case "user-agent":
				sl.kind = kAgent
			}
		}
	case "I":
		sl.name, sl.class = "bytes_received", cDigits
	case "k":
		sl.name, sl.class = "keepalive", cDigits
	case "l":
		sl.kind, sl.name, sl.class = kIdent, "ident", cTarget
	case "L":
		sl.name, sl.class = "log_id", cWord
		if arg == "c" {
			sl.name = "connection_log_id"
		}
	case "m":
		sl.kind, sl.name, sl.class = kMethod, "method", cWord
	case "n":
		err = needArg("a note name")
	case "o":
		err = needArg("a header name")
	case "O":
		sl.kind, sl.name, sl.class = kBytes, "bytes_sent", cDigits
	case "p":
		switch arg {
		case "", "canonical":
			sl.kind, sl.name, sl.class = kPort, "port", cDigits
		case "local":
			sl.name, sl.class = "local_port", cDigits
		case "remote":
			sl.name, sl.class = "remote_port", cDigits
		default:
			return unknown()
		}
	case "P":
		switch arg {
		case "", "pid":
			sl.name, sl.class = "pid", cDigits
		case "tid", "hextid":
			sl.name, sl.class = "tid", cWord
		default:
			return unknown()
		}
	case "q":
		sl.kind, sl.name, sl.class = kQuery, "query_string", cTarget
	case "r":
		sl.kind, sl.name = kRequest, "request"
	case "R":
		sl.name = "handler"
	case "s":
		sl.kind, sl.name, sl.class = kStatus, "status", cDigits
	case "S":
		sl.name, sl.class = "bytes_transferred", cDigits
	case "t":
		return apacheTime(b, sl, arg)
	case "T":
		sl.class = cDigits
		switch arg {
		case "", "s":
			sl.kind, sl.name = kSeconds, "duration_s"
		case "ms":
			sl.kind, sl.name = kMillis, "duration_ms"
		case "us":
			sl.kind, sl.name = kMicros, "duration_us"
		default:
			return unknown()
		}
	case "u":
		sl.kind, sl.name, sl.class = kUser, "user", cTarget
	case "U":
		sl.kind, sl.name, sl.class = kURI, "url_path", cPath
	case "v":
		sl.kind, sl.name, sl.class = kVHost, "server_name", cHost
	case "V":
		sl.kind, sl.name, sl.class = kVHost, "server_name_used", cHost
	case "X":
		sl.name, sl.width = "connection_status", 1
	case "x", "c", "^ti", "^to":
		// mod_ssl's %{SSL_PROTOCOL}x and %{...}c; request and response
		// trailers.
		err = needArg("a name")
	default:
		return unknown()
	}
	if err != nil {
		return err
	}
	return b.add(sl)
}

// apacheTime adds %t or %{format}t: the time the request began (or with
// end:, ended), in CLF, in seconds, milli- or microseconds since the
// epoch, a fraction of a second, or in strftime's pieces.
func apacheTime(b *builder, sl slot, arg string) error {
	arg = strings.TrimPrefix(strings.TrimPrefix(arg, "begin:"), "end:")
	sl.name = "time"
	switch arg {
	case "":
		sl.kind, sl.width = kTimeCLF, timeLen
	case "sec":
		sl.kind, sl.class = kMsec, cDigits
	case "msec":
		sl.kind, sl.class = kEpochMS, cDigits
	case "usec":
		sl.kind, sl.class = kEpochUS, cDigits
	case "msec_frac":
		sl.kind, sl.width = kFracMS, 3
	case "usec_frac":
		sl.kind, sl.width = kFracUS, 6
	default:
		return b.strftime(arg, sl.col, sl.label)
	}
	return b.add(sl)
}

// apacheSource takes a pasted LogFormat apart: the format's text, with
// httpd.conf's quotes and \" taken off when it is quoted, and the
// nickname after it, if any.
func apacheSource(spec string) (src *source, nick string, err error) {
	src = &source{spec: spec}
	i := 0
	skip := func() {
		for i < len(spec) && isSpace(spec[i]) {
			i++
		}
	}
	skip()
	if len(spec)-i > len("LogFormat") && strings.EqualFold(spec[i:i+len("LogFormat")], "LogFormat") &&
		isSpace(spec[i+len("LogFormat")]) {
		i += len("LogFormat")
		skip()
	}
	if i == len(spec) {
		return nil, "", errors.New("empty format")
	}
	q := spec[i]
	if q != '"' && q != '\'' {
		end := len(strings.TrimRight(spec, " \t\r\n"))
		for ; i < end; i++ {
			src.add(spec[i], i)
		}
		return src, "", nil
	}
	open := i
	for i++; ; i++ {
		if i >= len(spec) {
			return nil, "", fmt.Errorf("column %d: unbalanced quote", column(spec, open))
		}
		c := spec[i]
		if c == q {
			break
		}
		if c == '\\' && i+1 < len(spec) && spec[i+1] == q {
			// httpd.conf's \" inside the quotes: the format's quote.
			src.add(q, i)
			i++
			continue
		}
		src.add(c, i)
	}
	i++
	rest := strings.TrimSpace(spec[i:])
	if rest != "" && (strings.ContainsAny(rest, " \t\"'") || i < len(spec) && !isSpace(spec[i])) {
		return nil, "", fmt.Errorf("column %d: text after the format", column(spec, i))
	}
	return src, rest, nil
}
