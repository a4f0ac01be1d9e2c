package format

import (
	"errors"
	"fmt"
	"strings"
)

// compileNginx compiles an nginx log_format string into a Parser, which
// is safe to share between sources. It takes the string as users paste
// it: the format alone ("$remote_addr - $remote_user [$time_local] ..."),
// the quoted pieces of nginx.conf ('$remote_addr - ' '"$request"'), or
// the whole directive (log_format main escape=json '...';).
func compileNginx(spec string) (Parser, error) {
	src, name, esc, err := nginxSource(spec)
	if err != nil {
		return nil, err
	}
	b := &builder{}
	b.p.name, b.p.esc = "nginx", esc
	if name != "" {
		b.p.name = "nginx " + name
	}
	f := src.text
	for i := 0; i < len(f); {
		if f[i] != '$' {
			b.literal(string(f[i : i+1]))
			i++
			continue
		}
		start := i
		i++
		var v string
		if i < len(f) && f[i] == '{' {
			j := i + 1
			for j < len(f) && isVarByte(f[j]) {
				j++
			}
			if j == len(f) || f[j] != '}' {
				return nil, fmt.Errorf("column %d: unterminated ${", src.col(start))
			}
			v, i = string(f[i+1:j]), j+1
		} else {
			j := i
			for j < len(f) && isVarByte(f[j]) {
				j++
			}
			v, i = string(f[i:j]), j
		}
		if v == "" {
			return nil, fmt.Errorf("column %d: $ without a variable name", src.col(start))
		}
		v = strings.ToLower(v)
		nv := lookupVar(v)
		err := b.add(slot{kind: nv.kind, class: nv.class, width: nv.width, esc: esc,
			name: v, label: "$" + v, col: src.col(start)})
		if err != nil {
			return nil, err
		}
	}
	if len(b.p.slots) == 0 {
		return nil, errors.New("no variable at all")
	}
	return b.done(), nil
}

func isVarByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_'
}

// nginxSource takes a pasted log_format apart: its name and escape=
// parameter, if given, and the format's text, its quoted pieces joined.
// A string that does not start like nginx.conf (log_format, escape=, a
// quote) is the format's text itself, spaces and all.
func nginxSource(spec string) (src *source, name string, esc escaping, err error) {
	src = &source{spec: spec}
	trimmed := strings.TrimSpace(spec)
	lead := strings.Index(spec, trimmed)
	hasWord := func(w string) bool {
		return strings.HasPrefix(trimmed, w) && (len(trimmed) == len(w) || isSpace(trimmed[len(w)]))
	}
	conf := hasWord("log_format") || strings.HasPrefix(trimmed, "escape=") ||
		strings.HasPrefix(trimmed, "'") || strings.HasPrefix(trimmed, `"`)
	if !conf {
		if trimmed == "" {
			return nil, "", 0, errors.New("no variable at all")
		}
		for i := 0; i < len(trimmed); i++ {
			src.add(trimmed[i], lead+i)
		}
		return src, "", escBackslash, nil
	}

	toks, err := confTokens(spec)
	if err != nil {
		if strings.HasPrefix(trimmed, `"`) {
			return nginxRaw(spec, trimmed, lead)
		}
		return nil, "", 0, err
	}
	if len(toks) > 0 && !toks[0].quoted && toks[0].text == "log_format" {
		if len(toks) < 2 || toks[1].quoted {
			return nil, "", 0, fmt.Errorf("column %d: log_format needs a name", column(spec, len(spec)))
		}
		name = toks[1].text
		toks = toks[2:]
	} else if strings.HasPrefix(trimmed, `"`) {
		// A format whose text starts with a quote ("$request" $status)
		// is pasted as is unless it is all quoted pieces.
		for _, t := range toks {
			if !t.quoted && !strings.HasPrefix(t.text, "escape=") {
				return nginxRaw(spec, trimmed, lead)
			}
		}
	}
	for len(toks) > 0 && !toks[0].quoted && strings.HasPrefix(toks[0].text, "escape=") {
		switch v := strings.TrimPrefix(toks[0].text, "escape="); v {
		case "default":
			esc = escBackslash
		case "json":
			esc = escJSON
		case "none":
			esc = escNone
		default:
			return nil, "", 0, fmt.Errorf("column %d: unknown escape=%s", column(spec, toks[0].pos[0]), v)
		}
		toks = toks[1:]
	}
	for _, t := range toks {
		for i := 0; i < len(t.text); i++ {
			src.add(t.text[i], t.pos[i])
		}
	}
	return src, name, esc, nil
}

// nginxRaw is the source of a format pasted without nginx.conf's quotes.
func nginxRaw(spec, trimmed string, lead int) (*source, string, escaping, error) {
	src := &source{spec: spec}
	for i := 0; i < len(trimmed); i++ {
		src.add(trimmed[i], lead+i)
	}
	return src, "", escBackslash, nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// confToken is one word of nginx.conf, its escapes decoded, with the
// offset in the user's string of each of its bytes.
type confToken struct {
	text   string
	pos    []int
	quoted bool
}

// confTokens splits a directive as nginx.conf's reader does: words
// separated by spaces, quoted with ' or " (with \" \' \\ \t \r \n), up to
// a ';' that ends it.
func confTokens(spec string) ([]confToken, error) {
	var toks []confToken
	i := 0
	for {
		for i < len(spec) && isSpace(spec[i]) {
			i++
		}
		if i == len(spec) {
			return toks, nil
		}
		if spec[i] == ';' {
			for j := i + 1; j < len(spec); j++ {
				if !isSpace(spec[j]) {
					return nil, fmt.Errorf("column %d: text after the ';' that ends log_format", column(spec, j))
				}
			}
			return toks, nil
		}
		var t confToken
		var buf []byte
		if q := spec[i]; q == '\'' || q == '"' {
			t.quoted = true
			open := i
			i++
			for {
				if i >= len(spec) {
					return nil, fmt.Errorf("column %d: unbalanced quote", column(spec, open))
				}
				c := spec[i]
				if c == q {
					i++
					break
				}
				if c == '\\' && i+1 < len(spec) {
					switch e := spec[i+1]; e {
					case '"', '\'', '\\':
						buf, t.pos = append(buf, e), append(t.pos, i)
						i += 2
						continue
					case 't', 'r', 'n':
						buf, t.pos = append(buf, map[byte]byte{'t': '\t', 'r': '\r', 'n': '\n'}[e]), append(t.pos, i)
						i += 2
						continue
					}
				}
				buf, t.pos = append(buf, c), append(t.pos, i)
				i++
			}
			if i < len(spec) && !isSpace(spec[i]) && spec[i] != ';' {
				return nil, fmt.Errorf("column %d: a quoted piece must be followed by a space", column(spec, i))
			}
		} else {
			for i < len(spec) && !isSpace(spec[i]) && spec[i] != ';' {
				if spec[i] == '\'' || spec[i] == '"' {
					return nil, fmt.Errorf("column %d: unbalanced quote", column(spec, i))
				}
				buf, t.pos = append(buf, spec[i]), append(t.pos, i)
				i++
			}
		}
		t.text = string(buf)
		toks = append(toks, t)
	}
}
