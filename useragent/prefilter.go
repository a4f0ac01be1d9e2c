package useragent

import (
	"regexp/syntax"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/ua-parser/uap-go/uaparser"
)

// maxNeedles bounds the literals kept for one pattern: a pattern that is
// an alternation of more words than this is simply always tried.
const maxNeedles = 1024

// needles returns literals of which every text a pattern matches contains
// at least one (lower case, ASCII), and false when it cannot tell. Most of
// ua-parser's patterns name a product ("Firefox/", "Googlebot"), and a
// substring search for it is far cheaper than running the expression:
// ua-parser tries hundreds of them in order, and most cannot match.
// BenchmarkFamiliesCold against BenchmarkFamiliesUnfiltered shows the gain.
func needles(expr, flags string) ([]string, bool) {
	if flags != "" {
		expr = "(?" + flags + ")" + expr
	}
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil, false
	}
	return required(re)
}

// required walks re for the literals a match must contain.
func required(re *syntax.Regexp) ([]string, bool) {
	switch re.Op {
	case syntax.OpLiteral:
		s := string(re.Rune)
		for i := 0; i < len(s); i++ {
			if s[i] >= utf8.RuneSelf {
				return nil, false // case folding beyond ASCII: not worth it
			}
		}
		return []string{strings.ToLower(s)}, true
	case syntax.OpCapture, syntax.OpPlus:
		return required(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return required(re.Sub[0])
		}
	case syntax.OpConcat:
		// Every part must match: the part with the longest shortest
		// literal is the most telling.
		var best []string
		bestLen := 0
		for _, sub := range re.Sub {
			n, ok := required(sub)
			if !ok {
				continue
			}
			if l := shortest(n); l > bestLen {
				best, bestLen = n, l
			}
		}
		return best, best != nil
	case syntax.OpAlternate:
		var all []string
		for _, sub := range re.Sub {
			n, ok := required(sub)
			if !ok {
				return nil, false
			}
			all = append(all, n...)
		}
		slices.Sort(all)
		all = slices.Compact(all)
		return all, len(all) <= maxNeedles
	}
	return nil, false
}

func shortest(ss []string) int {
	m := -1
	for _, s := range ss {
		if m < 0 || len(s) < m {
			m = len(s)
		}
	}
	return m
}

// filter holds, for each pattern in order, the literals one of which an
// agent must contain for the pattern to be tried (nil: always tried).
type filter struct {
	ua, os [][]string
}

func newFilter(p *uaparser.Parser) *filter {
	f := &filter{ua: make([][]string, len(p.UA)), os: make([][]string, len(p.OS))}
	for i, u := range p.UA {
		if n, ok := needles(u.Expr, u.Flags); ok {
			f.ua[i] = n
		}
	}
	for i, o := range p.OS {
		if n, ok := needles(o.Expr, o.Flags); ok {
			f.os[i] = n
		}
	}
	return f
}

// may says whether a pattern with needles n may match the agent whose
// lower-case form is lower.
func may(n []string, lower string) bool {
	if n == nil {
		return true
	}
	for _, s := range n {
		if strings.Contains(lower, s) {
			return true
		}
	}
	return false
}

// families names agent's families as uap-go's ParseUserAgent and ParseOs
// do (the first pattern that matches and names a family wins; Other when
// none does), trying only the patterns the filter lets through.
func (f *filter) families(p *uaparser.Parser, agent string) families {
	lower := foldLower(agent)
	var ua uaparser.UserAgent
	for i, u := range p.UA {
		if !may(f.ua[i], lower) {
			continue
		}
		u.Match(agent, &ua)
		if ua.Family != "" {
			break
		}
	}
	var os uaparser.Os
	for i, o := range p.OS {
		if !may(f.os[i], lower) {
			continue
		}
		o.Match(agent, &os)
		if os.Family != "" {
			break
		}
	}
	r := families{browser: ua.Family, os: os.Family}
	if r.browser == "" {
		r.browser = Other
	}
	if r.os == "" {
		r.os = Other
	}
	return r
}

// foldLower returns s as the literals are searched in: ASCII in lower
// case; the two letters that case-insensitive patterns match with ASCII
// ones, the Kelvin sign and the long s, made k and s; every other
// character (and each byte that is not UTF-8) made a NUL, which no
// literal holds.
func foldLower(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToLower(s)
	}
	b := make([]byte, 0, len(s))
	for _, r := range s {
		switch {
		case r < utf8.RuneSelf:
			if 'A' <= r && r <= 'Z' {
				r += 'a' - 'A'
			}
			b = append(b, byte(r))
		case r == '\u212A': // KELVIN SIGN
			b = append(b, 'k')
		case r == '\u017F': // LATIN SMALL LETTER LONG S
			b = append(b, 's')
		default:
			b = append(b, 0)
		}
	}
	return string(b)
}
