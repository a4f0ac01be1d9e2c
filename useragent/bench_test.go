package useragent_test

import (
	"strconv"
	"testing"

	"github.com/weblogd/weblogd/useragent"
)

// Real agents of the Apache sample log: a desktop Chrome, a bot, an
// iPhone, an old IE with a long token list.
var benchAgents = []string{
	"Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/32.0.1700.107 Safari/537.36",
	"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 7_0_4 like Mac OS X) AppleWebKit/537.51.1 (KHTML, like Gecko) CriOS/32.0.1700.21 Mobile/11B554a Safari/9537.53",
	"Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 5.1; Trident/4.0; .NET CLR 2.0.50727; .NET CLR 3.0.4506.2152; .NET CLR 3.5.30729; .NET4.0C; .NET4.0E; MS-RTC LM 8; InfoPath.3)",
}

// BenchmarkFamiliesCold matches every agent against the patterns: each
// is made distinct so that the cache never answers.
func BenchmarkFamiliesCold(b *testing.B) {
	p := useragent.New(2)
	agents := make([]string, 1024)
	for i := range agents {
		agents[i] = benchAgents[i%len(benchAgents)] + " x/" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p.Families(agents[i%len(agents)])
		i++
	}
}

// BenchmarkFamiliesUnfiltered is what BenchmarkFamiliesCold would cost
// without the filter: uap-go trying every pattern in order.
func BenchmarkFamiliesUnfiltered(b *testing.B) {
	agents := make([]string, 1024)
	for i := range agents {
		agents[i] = benchAgents[i%len(benchAgents)] + " x/" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		useragent.UAP(agents[i%len(agents)])
		i++
	}
}

// BenchmarkFamiliesCached asks for agents the cache holds.
func BenchmarkFamiliesCached(b *testing.B) {
	p := useragent.New(100)
	for _, a := range benchAgents {
		p.Families(a)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p.Families(benchAgents[i%len(benchAgents)])
		i++
	}
}

// BenchmarkFamiliesLong is the worst a hostile header can cost: a
// MaxAgent-byte agent no pattern stops early on.
func BenchmarkFamiliesLong(b *testing.B) {
	p := useragent.New(2)
	agents := make([]string, 1024)
	for i := range agents {
		s := []byte(benchAgents[0])
		for len(s) < useragent.MaxAgent {
			s = append(s, " (Mozilla/5.0; Linux; Android; iPhone)"...)
		}
		agents[i] = strconv.Itoa(i) + string(s[:useragent.MaxAgent])
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p.Families(agents[i%len(agents)])
		i++
	}
}
