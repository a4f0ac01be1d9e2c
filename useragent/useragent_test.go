package useragent_test

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/weblogd/weblogd/format"
	"github.com/weblogd/weblogd/useragent"
)

// Real logs the agents below are taken from (each test checks its agent
// is there, so the table cannot drift into invented strings).
const (
	apache10k = "../format/testdata/apache_combined_10k.log"
	nginx1k   = "../format/testdata/nginx_combined_extra_1k.log"
	lighttpd  = "../format/testdata/samples/lighttpd-access.log"
	caddyH3   = "../format/testdata/samples/caddy-access-h2-h3.log"
)

func TestFamilies(t *testing.T) {
	p := useragent.New(100)
	for _, c := range []struct {
		log, agent, browser, os string
	}{
		{apache10k, "Mozilla/5.0 (Windows NT 6.1; WOW64; rv:27.0) Gecko/20100101 Firefox/27.0", "Firefox", "Windows"},
		{apache10k, "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:27.0) Gecko/20100101 Firefox/27.0", "Firefox", "Ubuntu"},
		{lighttpd, "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", "Firefox", "Linux"},
		{nginx1k, "Mozilla/5.0 (Android 8.0.0; Mobile; rv:62.0) Gecko/62.0 Firefox/62.0", "Firefox Mobile", "Android"},
		{apache10k, "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/32.0.1700.107 Safari/537.36", "Chrome", "Windows"},
		{apache10k, "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/33.0.1750.91 Safari/537.36", "Chrome", "Mac OS X"},
		{apache10k, "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Ubuntu Chromium/32.0.1700.102 Chrome/32.0.1700.102 Safari/537.36", "Chromium", "Ubuntu"},
		{nginx1k, "Mozilla/5.0 (Linux; Android 6.0; ALE-L21 Build/HuaweiALE-L21) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/66.0.3359.158 Mobile Safari/537.36", "Chrome Mobile", "Android"},
		{nginx1k, "Mozilla/5.0 (Linux; Android 8.0.0; SAMSUNG SM-G950F Build/R16NW) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/8.2 Chrome/63.0.3239.111 Mobile Safari/537.36", "Samsung Internet", "Android"},
		{apache10k, "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.73.11 (KHTML, like Gecko) Version/7.0.1 Safari/537.73.11", "Safari", "Mac OS X"},
		{nginx1k, "Mozilla/5.0 (iPhone; CPU iPhone OS 12_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/12.0 Mobile/15E148 Safari/604.1", "Mobile Safari", "iOS"},
		{apache10k, "Mozilla/5.0 (iPhone; CPU iPhone OS 7_0_4 like Mac OS X) AppleWebKit/537.51.1 (KHTML, like Gecko) CriOS/32.0.1700.21 Mobile/11B554a Safari/9537.53", "Chrome Mobile iOS", "iOS"},
		{apache10k, "Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 6.1; WOW64; Trident/5.0)", "IE", "Windows"},
		{apache10k, "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko", "IE", "Windows"},
		{apache10k, "Opera/9.80 (X11; Linux x86_64) Presto/2.12.388 Version/12.16", "Opera", "Linux"},
		{lighttpd, "curl/7.88.1", "curl", "Other"},
		{apache10k, "Wget/1.14 (linux-gnu)", "Wget", "Linux"},
		{apache10k, "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Googlebot", "Other"},
		{apache10k, "Mozilla/5.0 (iPhone; CPU iPhone OS 6_0 like Mac OS X) AppleWebKit/536.26 (KHTML, like Gecko) Version/6.0 Mobile/10A5376e Safari/8536.25 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Googlebot", "iOS"},
		{apache10k, "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "bingbot", "Other"},
		{caddyH3, "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", "AhrefsBot", "Other"},
		{apache10k, "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)", "YandexBot", "Other"},
		{nginx1k, "Dalvik/2.1.0 (Linux; U; Android 8.0.0; PRA-LA1 Build/HONORPRA-LA1)", "Android", "Android"},
	} {
		if !inLog(t, c.log, c.agent) {
			t.Errorf("%q is not in %s", c.agent, c.log)
		}
		// Twice: the second answer comes from the cache.
		for range 2 {
			b, o := p.Families(c.agent)
			if b != c.browser || o != c.os {
				t.Errorf("Families(%q) = %q, %q; want %q, %q", c.agent, b, o, c.browser, c.os)
			}
		}
	}
}

func TestNoAgent(t *testing.T) {
	p := useragent.New(10)
	for _, a := range []string{"", "-"} {
		if b, o := p.Families(a); b != "" || o != "" {
			t.Errorf("Families(%q) = %q, %q; want no families", a, b, o)
		}
	}
	// Unknown but present: ua-parser's Other.
	for _, a := range []string{"hello", "--", " ", "\x00\xff"} {
		if b, o := p.Families(a); b != useragent.Other || o != useragent.Other {
			t.Errorf("Families(%q) = %q, %q; want Other, Other", a, b, o)
		}
	}
}

// A long agent is named by its first MaxAgent bytes: what comes after
// cannot change the answer, and the cache holds no more than that.
func TestLongAgent(t *testing.T) {
	p := useragent.New(10)
	firefox := "Mozilla/5.0 (Windows NT 6.1; WOW64; rv:27.0) Gecko/20100101 Firefox/27.0"
	long := firefox + " " + strings.Repeat("x", 100_000)
	if b, o := p.Families(long); b != "Firefox" || o != "Windows" {
		t.Errorf("long Firefox agent: %q, %q", b, o)
	}
	// Googlebot's token past the cut is not seen.
	late := strings.Repeat("a", useragent.MaxAgent) + " Googlebot/2.1"
	if b, _ := p.Families(late); b != useragent.Other {
		t.Errorf("token after the cut seen: %q", b)
	}
}

// Every agent of two real logs gets families. The patterns know every
// browser among them; what they call Other are feed readers and odd bots
// (UniversalFeedParser, FeedBurner, Ezooms): a tenth of the Apache log.
func TestRealLogs(t *testing.T) {
	p := useragent.New(1000)
	for _, log := range []string{apache10k, nginx1k} {
		agents, other := 0, 0
		each(t, log, func(line string) {
			r := format.Parse(line)
			if r.Agent == "" || r.Agent == "-" {
				return
			}
			agents++
			b, o := p.Families(r.Agent)
			if b == "" || o == "" {
				t.Errorf("%s: Families(%q) = %q, %q", log, r.Agent, b, o)
			}
			if b == useragent.Other {
				other++
				for _, known := range []string{"Firefox/", "Chrome/", "MSIE ", "Safari/"} {
					if strings.Contains(r.Agent, known) {
						t.Errorf("%s: browser Other for %q", log, r.Agent)
					}
				}
			}
		})
		t.Logf("%s: %d agents, %d with browser Other", log, agents, other)
		if agents == 0 || other*8 > agents {
			t.Errorf("%s: %d of %d agents with browser Other", log, other, agents)
		}
	}
}

// The filter only skips patterns that cannot match: every agent of the
// real logs, and odd ones, get exactly what uap-go gives trying every
// pattern in order.
func TestFilterAgreesWithUAP(t *testing.T) {
	p := useragent.New(10)
	agents := map[string]bool{
		"MOZILLA/5.0 (WINDOWS NT 6.1; WOW64; RV:27.0) GECKO/20100101 FIREFOX/27.0": true,
		"Mozilla/5.0 (compatible; \u212aoogle; Googlebot/2.1)":                     true,
		"Mozilla/5.0 (X11; Linux x86_64) \u212aHTML Chrome/32.0 Safari/537.36":     true,
		"Mozilla/5.0 (Linux; Android 8.0.0; SAMSUNG SM-G950F Build/R16NW) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/8.2 Chrome/63.0.3239.111 Mobile Safari/537.36": true,
	}
	for _, log := range []string{apache10k, nginx1k} {
		each(t, log, func(line string) {
			if r := format.Parse(line); r.Agent != "" && r.Agent != "-" {
				agents[r.Agent] = true
			}
		})
	}
	for a := range agents {
		b, o := p.Families(a)
		wb, wo := useragent.UAP(a)
		if b != wb || o != wo {
			t.Errorf("Families(%q) = %q, %q; uap-go says %q, %q", a, b, o, wb, wo)
		}
	}
}

// The cache stays bounded however many distinct agents come, and still
// answers right for the ones it forgot.
func TestCacheBound(t *testing.T) {
	p := useragent.New(4)
	firefox := "Mozilla/5.0 (Windows NT 6.1; WOW64; rv:27.0) Gecko/20100101 Firefox/27.0"
	for i := range 50 {
		p.Families(fmt.Sprintf("curl/7.%d.0", i))
		if i%7 == 0 {
			if b, _ := p.Families(firefox); b != "Firefox" {
				t.Fatalf("after %d agents: %q", i, b)
			}
		}
	}
	if n := useragent.Cached(p); n > 4 {
		t.Errorf("cache holds %d agents, more than 4", n)
	}
}

func TestConcurrent(t *testing.T) {
	p := useragent.New(8)
	agents := []string{
		"curl/7.88.1",
		"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
		"Mozilla/5.0 (Windows NT 6.1; WOW64; rv:27.0) Gecko/20100101 Firefox/27.0",
	}
	want := []string{"curl", "Googlebot", "Firefox"}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				k := (g + i) % len(agents)
				// Distinct agents push the others out of the small cache.
				p.Families(fmt.Sprintf("Wget/1.%d", i))
				if b, _ := p.Families(agents[k]); b != want[k] {
					t.Errorf("%q: %q", agents[k], b)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestCachedNoAlloc(t *testing.T) {
	p := useragent.New(10)
	// A piece of a line, as records hold it.
	line := `1.2.3.4 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 1 "-" "curl/7.88.1"`
	agent := line[len(line)-12 : len(line)-1]
	p.Families(agent)
	if n := testing.AllocsPerRun(100, func() { p.Families(agent) }); n != 0 {
		t.Errorf("a cached agent allocates %v times", n)
	}
}

func inLog(t *testing.T, log, agent string) bool {
	found := false
	each(t, log, func(line string) {
		if strings.Contains(line, `"`+agent+`"`) {
			found = true
		}
	})
	return found
}

func each(t *testing.T, log string, f func(line string)) {
	t.Helper()
	file, err := os.Open(log)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	s := bufio.NewScanner(file)
	s.Buffer(nil, 1<<20)
	for s.Scan() {
		f(s.Text())
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
}
