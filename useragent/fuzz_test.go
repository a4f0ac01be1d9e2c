package useragent_test

import (
	"testing"

	"github.com/weblogd/weblogd/useragent"
)

// FuzzFamilies: any agent gets an answer, without panic, the same one
// whether matched or cached, and the one uap-go gives trying every
// pattern.
func FuzzFamilies(f *testing.F) {
	for _, a := range benchAgents {
		f.Add(a)
	}
	f.Add("")
	f.Add("-")
	f.Add("curl/7.88.1")
	f.Add("Mozilla/5.0 (Linux; Android 8.0.0; SAMSUNG SM-G950F Build/R16NW) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/8.2 Chrome/63.0.3239.111 Mobile Safari/537.36")
	p := useragent.New(64)
	f.Fuzz(func(t *testing.T, agent string) {
		b, o := p.Families(agent)
		if (b == "") != (o == "") {
			t.Fatalf("Families(%q) = %q, %q: one family empty", agent, b, o)
		}
		if (b == "") != (agent == "" || agent == "-") {
			t.Fatalf("Families(%q) = %q, %q", agent, b, o)
		}
		if b != "" {
			if wb, wo := useragent.UAP(agent); b != wb || o != wo {
				t.Fatalf("Families(%q) = %q, %q; uap-go says %q, %q", agent, b, o, wb, wo)
			}
		}
		b2, o2 := p.Families(agent)
		if b2 != b || o2 != o {
			t.Fatalf("Families(%q) = %q, %q, then %q, %q", agent, b, o, b2, o2)
		}
	})
}
