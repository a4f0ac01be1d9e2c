package feed_test

// The dashboard (GET /) in a real headless Chromium, driven over the Chrome
// DevTools Protocol by the small client below (a WebSocket and JSON, on the
// gorilla/websocket the server already uses, rather than a new dependency).

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/weblogd/weblogd/demo"
	"github.com/weblogd/weblogd/feed"
	"github.com/weblogd/weblogd/geoip/geoiptest"
	"github.com/weblogd/weblogd/web"
)

// appearWithin is how long a line appended to the log may take to show in
// the page's table: generous, so a loaded CI machine does not flake.
const appearWithin = 5 * time.Second

func TestDashboard(t *testing.T) {
	b := startBrowser(t)

	t.Run("LoadsAndTails", func(t *testing.T) {
		log := tempLog(t, dashLine(200, "/history/1"), "a line that is history and did not parse", dashLine(404, "/history/2"))
		srv := startServer(t, feed.Config{Logs: []string{log}})
		p := b.open(t, dashURL(srv, "/"))
		p.waitConnected(t)
		// The backlog: the three lines the server backfilled.
		p.waitSeqs(t, 3)
		if got := p.str(t, `document.querySelector('#rows tr.raw td').textContent`); got != "a line that is history and did not parse" {
			t.Errorf("raw row shows %q", got)
		}

		start := time.Now()
		writeLines(t, log, dashLine(200, "/live/ok"), dashLine(503, "/live/down"), dashLine(301, "/live/moved"))
		p.waitSeqs(t, 6)
		t.Logf("3 new lines appeared in the table after %v", time.Since(start).Round(time.Millisecond))

		// Newest at the top, every column filled, status coloured by class.
		var top []map[string]string
		p.eval(t, `[...document.querySelectorAll('#rows tr')].slice(0, 3).map(tr => ({
			seq: tr.dataset.seq, cls: tr.className.replace('fresh', '').trim(),
			time: tr.querySelector('.c-time').textContent, host: tr.querySelector('.c-host').textContent,
			method: tr.querySelector('.c-method').textContent, path: tr.querySelector('.c-path').textContent,
			status: tr.querySelector('.c-status').textContent, bytes: tr.querySelector('.c-bytes').textContent,
			referer: tr.querySelector('.c-referer').textContent, agent: tr.querySelector('.c-agent').textContent}))`, &top)
		want := []map[string]string{
			{"seq": "6", "cls": "s3", "path": "/live/moved", "status": "301"},
			{"seq": "5", "cls": "s5", "path": "/live/down", "status": "503"},
			{"seq": "4", "cls": "s2", "path": "/live/ok", "status": "200"},
		}
		for i, w := range want {
			for k, v := range w {
				if top[i][k] != v {
					t.Errorf("row %d: %s=%q, want %q (row %v)", i, k, top[i][k], v, top[i])
				}
			}
			if top[i]["host"] != "198.51.100.7" || top[i]["method"] != "GET" || top[i]["bytes"] != "1.5 k" ||
				top[i]["referer"] != "https://example.com/" || top[i]["agent"] != "dashboard-test/1.0" || len(top[i]["time"]) != 8 {
				t.Errorf("row %d: columns %v", i, top[i])
			}
		}
		// The aggregates count what arrived (all six records are recent).
		p.waitJS(t, `document.getElementById('stat-total').textContent === '6'`)
		p.waitJS(t, `[...document.querySelectorAll('#top-path li')].some(li => li.dataset.value === '/live/down')`)
		if errs := p.errors(); len(errs) > 0 {
			t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
		}
	})

	t.Run("VHostColumnOnceARecordHasOne", func(t *testing.T) {
		log := tempLog(t, dashLine(200, "/plain"))
		srv := startServer(t, feed.Config{Logs: []string{log}})
		p := b.open(t, dashURL(srv, "/"))
		p.waitConnected(t)
		p.waitSeqs(t, 1)
		// The headings come from the page's list of columns.
		if got := p.str(t, `[...document.querySelectorAll('#tail thead th')].map(th => th.textContent).join(' ')`); got != "time node source vhost client method path status bytes took referer agent" {
			t.Errorf("headings %q", got)
		}
		if got := p.str(t, `getComputedStyle(document.querySelector('#tail th.c-vhost')).display`); got != "none" {
			t.Errorf("without a vhost the vhost column's display = %q, want none", got)
		}
		writeLines(t, log, "www.example.com:443 "+dashLine(200, "/hosted"))
		p.waitSeqs(t, 2)
		p.waitJS(t, `getComputedStyle(document.querySelector('#tail th.c-vhost')).display === 'table-cell'`)
		var cells []string
		p.eval(t, `[...document.querySelectorAll('#rows tr[data-seq]')].map(tr => tr.querySelector('.c-vhost').textContent + '|' + tr.querySelector('.c-path').textContent)`, &cells)
		if strings.Join(cells, " ") != "www.example.com:443|/hosted |/plain" {
			t.Errorf("vhost|path cells %q", cells)
		}
		if errs := p.errors(); len(errs) > 0 {
			t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
		}
	})

	t.Run("LogsInWithAToken", func(t *testing.T) {
		log := tempLog(t, dashLine(200, "/history/1"), dashLine(500, "/history/2"))
		srv := startServer(t, feed.Config{Logs: []string{log}, TokenFile: writeTokenFile(t, tokAll+" name=wall")})
		p := b.open(t, dashURL(srv, "/?status=2xx"))
		// Without a session the page is the login form.
		if got := p.str(t, `document.getElementById('rows') ? 'dashboard' : document.getElementById('login') ? 'login' : 'nothing'`); got != "login" {
			t.Fatalf("the page without a session shows %s, want the login form", got)
		}
		p.typeInto(t, "token", tokWrong) // Enter submits the form
		p.waitJS(t, `!!document.getElementById('login-error')`)
		p.typeInto(t, "token", tokAll)
		p.waitJS(t, `!!document.getElementById('rows')`)
		// Back on the dashboard, with its filter, streaming over the
		// session cookie, which page scripts cannot read.
		p.waitConnected(t)
		if got := p.str(t, `location.search`); got != "?status=2xx" {
			t.Errorf("after login the page is at %q, want ?status=2xx", got)
		}
		p.waitSeqs(t, 1)
		if got := p.str(t, `document.cookie`); got != "" {
			t.Errorf("document.cookie = %q, want the session hidden (HttpOnly)", got)
		}
		writeLines(t, log, dashLine(200, "/live/1"), dashLine(404, "/live/2"), dashLine(201, "/live/3"))
		p.waitSeqs(t, 3)
		if got := p.str(t, `[...document.querySelectorAll('#rows tr[data-seq]')].map(tr => tr.dataset.seq).join(' ')`); got != "5 3 1" {
			t.Errorf("rows %q, want the 2xx records 5 3 1", got)
		}
		// And with Server-Sent Events.
		p.navigate(t, dashURL(srv, "/?transport=sse"))
		p.waitConnected(t)
		p.waitSeqs(t, 5)
		for _, e := range p.errors() {
			if !strings.Contains(e, "401") {
				t.Errorf("console error: %s", e)
			}
		}
	})

	t.Run("FilterNarrowsTheStream", func(t *testing.T) {
		log := tempLog(t, dashLine(200, "/before"))
		srv := startServer(t, feed.Config{Logs: []string{log}})
		p := b.open(t, dashURL(srv, "/"))
		p.waitConnected(t)
		p.waitSeqs(t, 1)

		p.typeInto(t, "f-status", "5xx")
		p.waitJS(t, `location.search === '?status=5xx'`)
		p.waitConnected(t)
		writeLines(t, log, dashLine(200, "/a"), dashLine(500, "/b"), dashLine(404, "/c"), dashLine(503, "/d"), dashLine(502, "/e"))
		p.waitJS(t, `!!document.querySelector('#rows tr[data-seq="6"]')`)
		if got := p.str(t, `[...document.querySelectorAll('#rows tr[data-seq]')].map(tr => tr.dataset.seq + ':' + tr.querySelector('.c-status').textContent).join(' ')`); got != "6:502 5:503 3:500" {
			t.Errorf("filtered table %q, want only the 5xx rows: 6:502 5:503 3:500", got)
		}
		if errs := p.errors(); len(errs) > 0 {
			t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
		}

		// A bookmarked filtered view starts with it.
		p.navigate(t, dashURL(srv, "/?method=POST&path=/api/"))
		p.waitConnected(t)
		if got := p.str(t, `document.getElementById('f-method').value + ' ' + document.getElementById('f-path').value`); got != "POST /api/" {
			t.Errorf("filters from the page URL: %q, want %q", got, "POST /api/")
		}
		writeLines(t, log, dashLine(200, "/api/items"), strings.Replace(dashLine(201, "/api/items"), "GET", "POST", 1))
		p.waitSeqs(t, 1)
		if got := p.str(t, `[...document.querySelectorAll('#rows tr[data-seq]')].map(tr => tr.dataset.seq).join(' ')`); got != "8" {
			t.Errorf("rows %q, want only seq 8 (the POST to /api/)", got)
		}

		// A filter the server refuses shows its one-line reason.
		p.typeInto(t, "f-status", "abc")
		p.waitJS(t, `!document.getElementById('error').hidden`)
		if got := p.str(t, `document.getElementById('error').textContent`); !strings.HasPrefix(got, "bad request: ") || !strings.Contains(got, "abc") {
			t.Errorf("error shown %q, want the server's reason for status=abc", got)
		}
		if got := p.str(t, `document.getElementById('conn').dataset.state`); got != "disconnected" {
			t.Errorf("connection state %q with a refused filter, want disconnected", got)
		}
	})

	t.Run("PauseHoldsResumeCatchesUp", func(t *testing.T) {
		log := tempLog(t)
		srv := startServer(t, feed.Config{Logs: []string{log}})
		p := b.open(t, dashURL(srv, "/"))
		p.waitConnected(t)
		writeLines(t, log, dashLine(200, "/1"), dashLine(200, "/2"))
		p.waitSeqs(t, 2)

		p.eval(t, `document.getElementById('pause').click()`, nil)
		var lines []string
		for i := range 10 {
			lines = append(lines, dashLine(200, fmt.Sprintf("/paused/%d", i)))
		}
		writeLines(t, log, lines...)
		// Still counting while paused; the table holds still.
		p.waitJS(t, `document.getElementById('pause').textContent === 'Resume (10 new)'`)
		p.waitJS(t, `document.getElementById('stat-total').textContent === '12'`)
		if n := p.seqs(t); len(n) != 2 {
			t.Fatalf("paused table has %d rows, want 2", len(n))
		}
		p.eval(t, `document.getElementById('pause').click()`, nil)
		p.waitSeqs(t, 12)
		if got := p.str(t, `document.querySelector('#rows tr[data-seq] .c-path').textContent`); got != "/paused/9" {
			t.Errorf("top row after resume %q, want /paused/9", got)
		}
		if errs := p.errors(); len(errs) > 0 {
			t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
		}
	})

	t.Run("ReconnectsAfterRestart", func(t *testing.T) {
		dir := t.TempDir()
		log := filepath.Join(dir, "access.log")
		writeLines(t, log, dashLine(200, "/old"))
		cfg := feed.Config{Logs: []string{log}, StatePath: filepath.Join(dir, "state.json"),
			HTTPAddr: freeAddr(t), TCPAddr: "127.0.0.1:0"}
		srv, stop := stopServerFunc(t, cfg)
		p := b.open(t, dashURL(srv, "/"))
		p.waitConnected(t)
		writeLines(t, log, dashLine(200, "/one"), dashLine(200, "/two"))
		p.waitSeqs(t, 3)

		stopped := time.Now()
		if err := stop(); err != nil {
			t.Fatalf("Run()=%v", err)
		}
		t.Logf("server stopped in %v", time.Since(stopped).Round(time.Millisecond))
		p.waitJS(t, `document.getElementById('conn').dataset.state !== 'connected'`)
		writeLines(t, log, dashLine(500, "/while-down/1"), dashLine(500, "/while-down/2"))

		startServer(t, cfg)
		p.waitSeqs(t, 5)
		p.waitConnected(t)
		writeLines(t, log, dashLine(200, "/after"))
		p.waitSeqs(t, 6)
		if got := p.seqs(t); fmt.Sprint(got) != "[6 5 4 3 2 1]" {
			t.Errorf("seqs in the table %v, want each of 6..1 once", got)
		}
		if n := p.str(t, `document.getElementById('stat-missed').textContent`); n != "0" {
			t.Errorf("missed %s, want 0", n)
		}
	})

	t.Run("RestartWithoutStateIsNoticed", func(t *testing.T) {
		dir := t.TempDir()
		log := filepath.Join(dir, "access.log")
		writeLines(t, log, dashLine(200, "/a"), dashLine(200, "/b"), dashLine(200, "/c"))
		cfg := feed.Config{Logs: []string{log}, Backfill: 1, HTTPAddr: freeAddr(t), TCPAddr: "127.0.0.1:0"}
		srv, stop := stopServerFunc(t, cfg)
		p := b.open(t, dashURL(srv, "/"))
		p.waitConnected(t)
		writeLines(t, log, dashLine(200, "/d"), dashLine(200, "/e"))
		p.waitSeqs(t, 3) // /c (backfilled), /d, /e
		stopped := time.Now()
		if err := stop(); err != nil {
			t.Fatalf("Run()=%v", err)
		}
		t.Logf("server stopped in %v", time.Since(stopped).Round(time.Millisecond))
		p.waitJS(t, `document.getElementById('conn').dataset.state !== 'connected'`)
		writeLines(t, log, dashLine(200, "/f"))

		// Numbered from 1 again: seq 3 is now /c, and 1..6 are history.
		cfg.Backfill = 10
		startServer(t, cfg)
		p.waitConnected(t)
		p.waitJS(t, `!!document.querySelector('#rows tr.note')`)
		writeLines(t, log, dashLine(200, "/g"))
		p.waitJS(t, `!!document.querySelector('#rows tr[data-seq="7"]')`)
		if got := p.str(t, `[...document.querySelectorAll('#rows tr[data-seq]')].map(tr => tr.dataset.seq + tr.querySelector('.c-path').textContent).join(' ')`); got != "7/g 3/e 2/d 1/c" {
			t.Errorf("table %q, want 7/g 3/e 2/d 1/c: no record shown twice under another seq", got)
		}
	})

	t.Run("BehindAProxyWithoutWebSocket", func(t *testing.T) {
		log := tempLog(t)
		srv := startServer(t, feed.Config{Logs: []string{log}, BasePath: "/weblog/"})
		proxy := proxyTo(t, srv, func(r *http.Request) bool { return r.Header.Get("Upgrade") != "" })
		p := b.open(t, proxy.URL+"/weblog/?status=2xx")
		p.waitConnected(t)
		if got := p.str(t, `document.getElementById('conn').dataset.transport`); got != "SSE" {
			t.Errorf("transport %q, want SSE after WebSocket failed", got)
		}
		if got := p.str(t, `location.pathname + location.search`); got != "/weblog/?status=2xx" {
			t.Errorf("page URL %q", got)
		}
		writeLines(t, log, dashLine(200, "/via/proxy"), dashLine(404, "/filtered/out"), dashLine(204, "/via/proxy/2"))
		p.waitJS(t, `!!document.querySelector('#rows tr[data-seq="3"]')`)
		if got := p.seqs(t); fmt.Sprint(got) != "[3 1]" {
			t.Errorf("seqs %v, want [3 1]", got)
		}
	})

	t.Run("GapAfterAnOutageLongerThanTheRing", func(t *testing.T) {
		log := tempLog(t)
		srv := startServer(t, feed.Config{Logs: []string{log}, Ring: 5})
		var down atomic.Bool
		proxy := proxyTo(t, srv, func(*http.Request) bool { return down.Load() })
		p := b.open(t, proxy.URL+"/?transport=sse")
		p.waitConnected(t)
		writeLines(t, log, dashLine(200, "/1"), dashLine(200, "/2"))
		p.waitSeqs(t, 2)

		down.Store(true)
		proxy.CloseClientConnections()
		p.waitJS(t, `document.getElementById('conn').dataset.state !== 'connected'`)
		var lines []string
		for i := 3; i <= 22; i++ {
			lines = append(lines, dashLine(200, fmt.Sprintf("/%d", i)))
		}
		writeLines(t, log, lines...)
		waitUntil(t, func() bool { return srv.LastSeq() == 22 })
		down.Store(false)

		p.waitSeqs(t, 7)
		if got := p.seqs(t); fmt.Sprint(got) != "[22 21 20 19 18 2 1]" {
			t.Errorf("seqs %v, want 22..18 (what the ring still holds), then 2 1", got)
		}
		if got := p.str(t, `document.querySelector('#rows tr.gap').textContent`); got != "15 records missed (seq 3–17)" {
			t.Errorf("gap row %q", got)
		}
		if got := p.str(t, `document.getElementById('stat-missed').textContent + ' missed, ' + document.getElementById('stat-total').textContent + ' records'`); got != "15 missed, 7 records" {
			t.Errorf("counters: %s, want 15 missed, 7 records", got)
		}
	})

	t.Run("EventSourceTransport", func(t *testing.T) {
		log := tempLog(t)
		srv := startServer(t, feed.Config{Logs: []string{log}})
		p := b.open(t, dashURL(srv, "/?transport=sse"))
		p.waitConnected(t)
		if got := p.str(t, `document.getElementById('conn').dataset.transport`); got != "SSE" {
			t.Errorf("transport %q, want SSE", got)
		}
		writeLines(t, log, dashLine(200, "/sse/1"), dashLine(404, "/sse/2"))
		p.waitSeqs(t, 2)
		if errs := p.errors(); len(errs) > 0 {
			t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
		}
	})

	t.Run("NoticesLogsNotFollowed", func(t *testing.T) {
		// A mistyped --log: the page says which log is not followed and
		// why, as /readyz does, and the notice goes once it is.
		log := tempLog(t, dashLine(200, "/here"))
		typo := filepath.Join(filepath.Dir(log), "acces.log")
		srv := startServer(t, feed.Config{Logs: []string{log, typo}})
		p := b.open(t, dashURL(srv, "/"))
		p.waitConnected(t)
		p.waitJS(t, `!document.getElementById('waiting').hidden`)
		want := "acces.log: waiting for " + typo + " to exist"
		if got := p.str(t, `[...document.querySelectorAll('#waiting-list li')].map(li => li.textContent).join('|')`); got != want {
			t.Errorf("notice lists %q, want %q", got, want)
		}
		if got := p.str(t, `getComputedStyle(document.getElementById('waiting')).display`); got == "none" {
			t.Error("the notice is not displayed")
		}
		writeLines(t, typo, dashLine(200, "/late"))
		p.waitJS(t, `document.getElementById('waiting').hidden`)
		if errs := p.errors(); len(errs) > 0 {
			t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
		}
	})

	t.Run("NoticesLinesNotFitting", func(t *testing.T) {
		// A log read in the wrong format: the page says which, how many
		// lines and where the first stopped matching; the notice goes
		// once the lines fit again.
		bad := `{"msg":"handled request","status":200}`
		var lines []string
		for range 12 {
			lines = append(lines, bad)
		}
		log := tempLog(t, lines...)
		srv := startServer(t, feed.Config{Logs: []string{log}, Format: "combined"})
		p := b.open(t, dashURL(srv, "/"))
		p.waitConnected(t)
		p.waitJS(t, `!document.getElementById('misfits').hidden`)
		want := "access.log: 12 of 12 lines do not fit combined; the first stops at byte " + fmt.Sprint(len(bad)) + " (the end of the line)"
		if got := p.str(t, `[...document.querySelectorAll('#misfits-list li')].map(li => li.textContent).join('|')`); got != want {
			t.Errorf("notice lists %q, want %q", got, want)
		}
		if got := p.str(t, `document.querySelector('#misfits-list li').title`); got != bad {
			t.Errorf("the notice's tooltip is %q, want the line %q", got, bad)
		}
		if got := p.str(t, `getComputedStyle(document.getElementById('misfits')).display`); got == "none" {
			t.Error("the notice is not displayed")
		}
		var good []string
		for range 240 {
			good = append(good, dashLine(200, "/fits"))
		}
		writeLines(t, log, good...)
		p.waitJS(t, `document.getElementById('misfits').hidden`)
		if errs := p.errors(); len(errs) > 0 {
			t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
		}
	})

	// The statistics: a log with an hour and a half of history, read at
	// start, whose numbers the page shows from its first paint.
	t.Run("StatsFromHistory", func(t *testing.T) {
		h := writeDashHistory(t)
		srv := startServer(t, feed.Config{Logs: []string{h.log}, Format: timedFormat, History: 2 * time.Hour})
		p := b.open(t, dashURL(srv, "/"))
		// The default window, the last hour: 60 + 20 lines.
		p.waitStats(t, "1h", "")
		p.waitCard(t, "card-requests", h.hour)
		checks := map[string]string{
			`document.getElementById('card-visitors').dataset.value`:                                               fmt.Sprint(h.hourVisitors),
			`document.querySelector('#top-path li').dataset.value`:                                                 "/home",
			`document.querySelector('#top-path li b').textContent`:                                                 fmt.Sprint(h.paths["/home"]),
			`document.querySelector('#top-not_found li').dataset.value`:                                            "/gone",
			`document.querySelector('#top-not_found li b').textContent`:                                            fmt.Sprint(h.notFound),
			`document.querySelector('#top-status li[data-value="404"] b').textContent`:                             fmt.Sprint(h.notFound),
			`document.querySelector('#top-slowest li').dataset.value`:                                              "/api/items",
			`String(!document.getElementById('card-time').hidden)`:                                                 "true",
			`document.getElementById('card-errors').textContent`:                                                   "10%", // 8 of 80
			`String(document.querySelectorAll('#chart svg g.bar').length > 0)`:                                     "true",
			`String(getComputedStyle(document.getElementById('panel-browser')).display)`:                           "block",
			`String(document.getElementById('panel-country').hidden)`:                                              "true", // no --geoip
			`String(document.getElementById('panel-vhost').hidden)`:                                                "true",
			`[...document.querySelectorAll('.windows button')].map(b => b.getAttribute('aria-pressed')).join(' ')`: "false true false",
		}
		for expr, want := range checks {
			if got := p.str(t, expr); got != want {
				t.Errorf("%s = %q, want %q", expr, got, want)
			}
		}
		// Browsers and systems by family, 20 lines each.
		if got := p.str(t, `[...document.querySelectorAll('#top-browser li')].map(li => li.dataset.value + '=' + li.querySelector('b').textContent).sort().join(' ')`); got != "Chrome=20 Firefox=20 Mobile Safari=20 curl=20" {
			t.Errorf("browsers %q, want Chrome, Firefox, Mobile Safari and curl, 20 each", got)
		}
		if got := p.str(t, `[...document.querySelectorAll('#top-os li')].map(li => li.dataset.value + '=' + li.querySelector('b').textContent).sort().join(' ')`); got != "Linux=20 Other=20 Windows=20 iOS=20" {
			t.Errorf("operating systems %q, want Linux, Other (curl), Windows and iOS, 20 each", got)
		}
		// Families cannot be filtered by: their values are not buttons.
		if got := p.str(t, `String(document.querySelectorAll('#top-browser button, #top-os button').length)`); got != "0" {
			t.Errorf("%s browser and OS values are buttons, want none", got)
		}
		// The bars add up to the requests of the window.
		var sum int
		p.eval(t, `[...document.querySelectorAll('#legend b')].map(b => parseInt(b.textContent.replace(/,/g, ''))).reduce((a, b) => a + b, 0)`, &sum)
		if sum != h.hour {
			t.Errorf("the chart's classes add up to %d, want %d", sum, h.hour)
		}

		// The last 5 minutes: the newest 20 lines; the window is in the URL.
		p.eval(t, `document.querySelector('.windows button[data-window="5m"]').click()`, nil)
		p.waitStats(t, "5m", "")
		p.waitCard(t, "card-requests", h.recent)
		if got := p.str(t, `location.search`); got != "?window=5m" {
			t.Errorf("page URL %q, want ?window=5m", got)
		}
		// The last 24 hours: every line, the older half hour too.
		p.eval(t, `document.querySelector('.windows button[data-window="24h"]').click()`, nil)
		p.waitStats(t, "24h", "")
		p.waitCard(t, "card-requests", h.all)
		p.waitCard(t, "card-visitors", h.allVisitors)
		// Back goes to the window before.
		p.eval(t, `history.back()`, nil)
		p.waitStats(t, "5m", "")
		p.waitCard(t, "card-requests", h.recent)
		if errs := p.errors(); len(errs) > 0 {
			t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
		}
	})

	t.Run("ClickAValueToFilter", func(t *testing.T) {
		h := writeDashHistory(t)
		srv := startServer(t, feed.Config{Logs: []string{h.log}, Format: timedFormat, History: 2 * time.Hour})
		p := b.open(t, dashURL(srv, "/"))
		p.waitConnected(t)
		p.waitStats(t, "1h", "")
		p.waitCard(t, "card-requests", h.hour)
		p.waitJS(t, `!!document.querySelector('#top-path li[data-value="/api/items"] button.v')`)
		p.eval(t, `document.querySelector('#top-path li[data-value="/api/items"] button.v').click()`, nil)
		checkFiltered := func() {
			t.Helper()
			p.waitJS(t, `location.search === '?path=/api/items'`)
			p.waitStats(t, "1h", "path=%2Fapi%2Fitems")
			want := h.paths["/api/items"]
			p.waitCard(t, "card-requests", want)
			// Every panel follows: one path, one status, the chart's bars.
			for expr, want := range map[string]string{
				`[...document.querySelectorAll('#top-path li')].map(li => li.dataset.value + '=' + li.querySelector('b').textContent).join(' ')`:   fmt.Sprintf("/api/items=%d", want),
				`[...document.querySelectorAll('#top-status li')].map(li => li.dataset.value + '=' + li.querySelector('b').textContent).join(' ')`: fmt.Sprintf("200=%d", want),
				`String(document.getElementById('panel-not_found').hidden)`:                                                                        "true",
				`document.querySelector('#top-path li').className`:                                                                                 "active",
				`[...document.querySelectorAll('#chip-list .chip')].map(c => c.dataset.filter + ':' + c.querySelector('b').textContent).join(' ')`: "path:/api/items",
				`document.getElementById('f-path').value`:                                                                                          "/api/items",
			} {
				if got := p.str(t, expr); got != want {
					t.Errorf("filtered: %s = %q, want %q", expr, got, want)
				}
			}
			var sum int
			p.eval(t, `[...document.querySelectorAll('#legend b')].map(b => parseInt(b.textContent.replace(/,/g, ''))).reduce((a, b) => a + b, 0)`, &sum)
			if sum != want {
				t.Errorf("filtered: the chart's classes add up to %d, want %d", sum, want)
			}
			// The tail too: the history of that path only.
			p.waitConnected(t)
			p.waitSeqs(t, want)
			var paths []string
			p.eval(t, `[...new Set([...document.querySelectorAll('#rows tr[data-seq] .c-path')].map(td => td.textContent))]`, &paths)
			if fmt.Sprint(paths) != "[/api/items]" {
				t.Errorf("filtered tail shows the paths %v, want only /api/items", paths)
			}
		}
		checkFiltered()
		// Every record of the window is held in detail: the note says so.
		if got := p.str(t, `(c => c.hidden + ' ' + c.className + ' ' + c.textContent)(document.getElementById('covers'))`); got != fmt.Sprintf("false covers filter applied to each of the window's %d records", h.hour) {
			t.Errorf("covers note %q", got)
		}
		// A reload keeps the filter.
		p.navigate(t, dashURL(srv, "/?path=/api/items"))
		checkFiltered()
		// The chip removes it.
		p.eval(t, `document.querySelector('#chip-list .chip').click()`, nil)
		p.waitJS(t, `location.search === ''`)
		p.waitStats(t, "1h", "")
		p.waitCard(t, "card-requests", h.hour)
		// A 404 path filters by the path and the status.
		p.eval(t, `document.querySelector('#top-not_found li[data-value="/gone"] button.v').click()`, nil)
		p.waitJS(t, `location.search === '?status=404&path=/gone'`)
		p.waitCard(t, "card-requests", h.notFound)
		if errs := p.errors(); len(errs) > 0 {
			t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
		}
	})

	t.Run("FilteredBeyondTheDetail", func(t *testing.T) {
		// Detail for a few records only: a filtered answer counts those,
		// and the page says from when.
		h := writeDashHistory(t)
		srv := startServer(t, feed.Config{Logs: []string{h.log}, Format: timedFormat, History: 2 * time.Hour, StatsDetailBytes: 8 << 10})
		p := b.open(t, dashURL(srv, "/"))
		p.waitStats(t, "1h", "")
		p.waitCard(t, "card-requests", h.hour)
		if got := p.str(t, `String(document.getElementById('covers').hidden)`); got != "true" {
			t.Errorf("unfiltered, the covers note hidden = %s, want true", got)
		}
		p.navigate(t, dashURL(srv, "/?path=/home"))
		p.waitStats(t, "1h", "path=%2Fhome")
		var n int
		p.eval(t, `Number(document.getElementById('card-requests').dataset.value)`, &n)
		if n <= 0 || n >= h.paths["/home"] {
			t.Errorf("filtered requests %d, want some of the %d of /home (those held in detail)", n, h.paths["/home"])
		}
		if got := p.str(t, `(c => c.hidden + ' ' + c.className + ' ' + c.textContent)(document.getElementById('covers'))`); !strings.HasPrefix(got, "false covers short filter applied from ") {
			t.Errorf("covers note %q, want it shown, short, saying from when", got)
		}
	})

	t.Run("WindowLongerThanTheServers", func(t *testing.T) {
		h := writeDashHistory(t)
		srv := startServer(t, feed.Config{Logs: []string{h.log}, Format: timedFormat, History: 2 * time.Hour, StatsWindow: 2 * time.Hour})
		p := b.open(t, dashURL(srv, "/?window=24h"))
		// The server's reason, and the numbers wait for a window it keeps.
		p.waitJS(t, `!document.getElementById('stats-error').hidden`)
		if got := p.str(t, `document.getElementById('stats-error').textContent`); !strings.Contains(got, `bad window "24h"`) || !strings.Contains(got, "at most 2h") {
			t.Errorf("stats error %q, want the server's reason for window=24h", got)
		}
		p.eval(t, `document.querySelector('.windows button[data-window="1h"]').click()`, nil)
		p.waitStats(t, "1h", "")
		p.waitCard(t, "card-requests", h.hour)
		p.waitJS(t, `document.getElementById('stats-error').hidden`)
	})

	t.Run("CountriesAndClients", func(t *testing.T) {
		h := writeDashHistory(t)
		db := filepath.Join(t.TempDir(), "country.mmdb")
		if err := geoiptest.Write(db, geoiptest.Network{CIDR: "203.0.113.0/24", Country: "NL"},
			geoiptest.Network{CIDR: "198.51.100.0/24", Country: "JP"}); err != nil {
			t.Fatal(err)
		}
		srv := startServer(t, feed.Config{Logs: []string{h.log}, Format: timedFormat, History: 2 * time.Hour, GeoIP: db})
		p := b.open(t, dashURL(srv, "/"))
		p.waitStats(t, "1h", "")
		p.waitCard(t, "card-requests", h.hour)
		nl := h.clients["203.0.113.9"] + h.clients["203.0.113.10"] + h.clients["203.0.113.11"]
		jp := h.clients["198.51.100.7"] + h.clients["198.51.100.8"] + h.clients["198.51.100.9"]
		// The IPv6 client is in no network of the database: no country.
		want := fmt.Sprintf("JP=%d NL=%d", jp, nl)
		if got := p.str(t, `[...document.querySelectorAll('#top-country li')].map(li => li.dataset.value + '=' + li.querySelector('b').textContent).sort().join(' ')`); got != want {
			t.Errorf("countries %q, want %q", got, want)
		}
		if got := p.str(t, `String(document.querySelectorAll('#top-country button').length)`); got != "0" {
			t.Errorf("%s country values are buttons, want none", got)
		}
		// A client, IPv6 at that, filters by host=.
		v6 := "2001:db8:85a3::8a2e:370:7334"
		p.eval(t, fmt.Sprintf(`document.querySelector('#top-host li[data-value=%q] button.v').click()`, v6), nil)
		p.waitJS(t, `location.search === '?host=`+v6+`'`)
		p.waitCard(t, "card-requests", h.clients[v6])
		if got := p.str(t, `String(document.getElementById('panel-country').hidden)`); got != "true" {
			t.Errorf("with only an address of no country the countries panel is hidden = %s, want true", got)
		}
		p.waitSeqs(t, h.clients[v6])
		// Its whole address is in the row's tooltip and details.
		if got := p.str(t, `document.querySelector('#rows tr[data-seq] .c-host').title`); got != v6 {
			t.Errorf("the client cell's tooltip %q, want %q", got, v6)
		}
	})

	t.Run("KeyboardFiltersFromAPanel", func(t *testing.T) {
		h := writeDashHistory(t)
		srv := startServer(t, feed.Config{Logs: []string{h.log}, Format: timedFormat, History: 2 * time.Hour})
		p := b.open(t, dashURL(srv, "/"))
		p.waitStats(t, "1h", "")
		p.waitCard(t, "card-requests", h.hour)
		// From the window buttons, Tab reaches the values of the panels.
		p.eval(t, `document.querySelector('.windows button[data-window="24h"]').focus()`, nil)
		tabs := 0
		for ; tabs < 60; tabs++ {
			if p.str(t, `document.activeElement.closest('#top-path') ? 'yes' : 'no'`) == "yes" {
				break
			}
			p.key(t, "Tab", 9)
		}
		if got := p.str(t, `document.activeElement.closest('li') ? document.activeElement.closest('li').dataset.value : document.activeElement.outerHTML`); got != "/home" {
			t.Fatalf("after %d Tabs the focus is on %q, want the first path, /home", tabs, got)
		}
		t.Logf("%d Tabs from the window buttons to the first path", tabs)
		p.key(t, "Enter", 13)
		p.waitJS(t, `location.search === '?path=/home'`)
		p.waitCard(t, "card-requests", h.paths["/home"])
		// Tab reaches the tail's rows, Enter opens one, Escape closes it.
		p.eval(t, `document.getElementById('clear').focus()`, nil)
		p.waitSeqs(t, 1)
		p.key(t, "Tab", 9)
		p.waitJS(t, `!!document.activeElement.dataset.seq`)
		p.key(t, "Enter", 13)
		p.waitJS(t, `document.getElementById('details').open`)
		p.key(t, "Escape", 27)
		p.waitJS(t, `!document.getElementById('details').open`)
	})

	t.Run("Phone", func(t *testing.T) {
		h := writeDashHistory(t)
		srv := startServer(t, feed.Config{Logs: []string{h.log}, Format: timedFormat, History: 2 * time.Hour})
		// Opened on a wide screen, then made a phone's: the page follows
		// (the chart is drawn again for the new width).
		p := b.open(t, "about:blank")
		p.call(t, "Emulation.setDeviceMetricsOverride", map[string]any{"width": 1440, "height": 900, "deviceScaleFactor": 1, "mobile": false}, nil)
		p.navigate(t, dashURL(srv, "/"))
		p.waitConnected(t)
		p.waitStats(t, "1h", "")
		p.waitCard(t, "card-requests", h.hour)
		p.waitSeqs(t, 10)
		p.call(t, "Emulation.setDeviceMetricsOverride", map[string]any{"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": true}, nil)
		p.waitJS(t, `innerWidth === 390 && Number(document.querySelector('#chart svg').getAttribute('width')) <= 390`)
		// Nothing wider than the screen: no sideways scrolling.
		var sw, iw int
		p.eval(t, `document.documentElement.scrollWidth`, &sw)
		p.eval(t, `innerWidth`, &iw)
		if sw > iw {
			var wide []string
			p.eval(t, `[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > innerWidth + 0.5).slice(0, 8).map(e => e.tagName + '#' + e.id + '.' + e.className)`, &wide)
			t.Errorf("scrollWidth %d > innerWidth %d; too wide: %v", sw, iw, wide)
		}
		// The cards, the chart, a row and a panel are on the screen's width,
		// and a row reads as a block: time, status, client, path.
		for _, sel := range []string{"#card-requests", "#card-visitors", "#chart svg", "#rows tr[data-seq]", "#rows tr[data-seq] .c-path", "#top-path li", ".windows"} {
			var r struct{ Left, Right, Width float64 }
			p.eval(t, fmt.Sprintf(`(r => ({left: r.left, right: r.right, width: r.width}))(document.querySelector(%q).getBoundingClientRect())`, sel), &r)
			if r.Left < 0 || r.Right > float64(iw)+0.5 || r.Width < 20 {
				t.Errorf("%s spans %.0f..%.0f px, want within 0..%d", sel, r.Left, r.Right, iw)
			}
		}
		for _, col := range []string{"c-time", "c-status", "c-host", "c-path"} {
			if got := p.str(t, `getComputedStyle(document.querySelector('#rows tr[data-seq] .`+col+`')).display`); got == "none" {
				t.Errorf("a row on a phone hides its %s", col)
			}
		}
		// A tap opens the row, whole, within the screen.
		p.eval(t, `(tr => { tr.scrollIntoView(); tr.click(); })(document.querySelector('#rows tr[data-seq]'))`, nil)
		p.waitJS(t, `document.getElementById('details').open`)
		var d struct{ Left, Right float64 }
		p.eval(t, `(r => ({left: r.left, right: r.right}))(document.getElementById('details').getBoundingClientRect())`, &d)
		if d.Left < 0 || d.Right > float64(iw) {
			t.Errorf("the details span %.0f..%.0f px, want within 0..%d", d.Left, d.Right, iw)
		}
		p.eval(t, `document.getElementById('details-close').click()`, nil)
		p.waitJS(t, `!document.getElementById('details').open`)
		if errs := p.errors(); len(errs) > 0 {
			t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
		}
	})

	t.Run("UnderTheContentSecurityPolicy", func(t *testing.T) {
		h := writeDashHistory(t)
		srv := startServer(t, feed.Config{Logs: []string{h.log}, Format: timedFormat, History: 2 * time.Hour})
		for _, path := range []string{"/", "/app.js", "/app.css", "/api/stats"} {
			resp, _ := request(t, "GET", dashURL(srv, path), nil, nil)
			if got := resp.Header.Get("Content-Security-Policy"); got != dashboardCSP {
				t.Errorf("GET %s: Content-Security-Policy %q, want %q", path, got, dashboardCSP)
			}
		}
		p := b.openWatchingCSP(t, dashURL(srv, "/"))
		p.waitConnected(t)
		p.waitStats(t, "1h", "")
		p.waitCard(t, "card-requests", h.hour)
		// What the page does: filter, change the window, open a row, draw.
		p.eval(t, `document.querySelector('#top-path li[data-value="/about"] button.v').click()`, nil)
		p.waitCard(t, "card-requests", h.paths["/about"])
		p.eval(t, `document.querySelector('.windows button[data-window="24h"]').click()`, nil)
		p.waitStats(t, "24h", "path=%2Fabout")
		p.waitSeqs(t, 1)
		p.eval(t, `document.querySelector('#rows tr[data-seq]').click()`, nil)
		p.waitJS(t, `document.getElementById('details').open`)
		p.checkCSP(t)

		// The login form, whose one style is allowed by its hash.
		tok := startServer(t, feed.Config{Logs: []string{h.log}, Format: timedFormat, TokenFile: writeTokenFile(t, tokAll)})
		l := b.openWatchingCSP(t, dashURL(tok, "/"))
		if got := l.str(t, `document.getElementById('login') ? getComputedStyle(document.body).display : 'no login form'`); got != "grid" {
			t.Errorf("the login page's body display %q, want grid (its style applied)", got)
		}
		l.typeInto(t, "token", tokAll)
		l.waitJS(t, `!!document.getElementById('rows')`)
		l.waitConnected(t)
		l.checkCSP(t)
	})

	t.Run("HighlightAtAHighRate", func(t *testing.T) {
		log := tempLog(t)
		srv := startServer(t, feed.Config{Logs: []string{log}})
		p := b.open(t, dashURL(srv, "/"))
		p.waitConnected(t)
		// One line at a time: its row is marked as new.
		writeLines(t, log, dashLine(200, "/slow/1"))
		p.waitSeqs(t, 1)
		if got := p.str(t, `document.querySelector('#rows tr[data-seq="1"]').className`); !strings.Contains(got, "fresh") {
			t.Errorf("a row arriving alone has the classes %q, want fresh", got)
		}
		// 2,000 lines at once: the table is not all flashing.
		var lines []string
		for i := range 2000 {
			lines = append(lines, dashLine(200, fmt.Sprintf("/burst/%d", i)))
		}
		writeLines(t, log, lines...)
		p.waitJS(t, `document.getElementById('stat-total').textContent === '2,001'`)
		p.waitJS(t, `document.querySelector('#rows tr[data-seq] .c-path').textContent === '/burst/1999'`)
		var n struct{ Rows, Fresh int }
		p.eval(t, `({rows: document.querySelectorAll('#rows tr[data-seq]').length, fresh: document.querySelectorAll('#rows tr.fresh').length})`, &n)
		if n.Rows < 50 || n.Fresh > 5 {
			t.Errorf("after a burst of 2,000 lines %d of %d rows are marked new, want at most 5", n.Fresh, n.Rows)
		}
		if errs := p.errors(); len(errs) > 0 {
			t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
		}
	})

	t.Run("ABackgroundTabDoesNotAsk", func(t *testing.T) {
		log := tempLog(t)
		writeLines(t, log, dashLine(200, "/a"))
		srv := startServer(t, feed.Config{Logs: []string{log}})
		p := b.open(t, dashURL(srv, "/"))
		p.waitConnected(t)
		asked := `performance.getEntriesByType('resource').filter((e) => e.name.includes('api/stats')).length`
		p.waitJS(t, asked+` > 0`)
		// The tab goes to the background, as the browser says it.
		p.eval(t, `(performance.setResourceTimingBufferSize(10000), Object.defineProperty(document, 'visibilityState', {get: () => 'hidden', configurable: true}),
			document.dispatchEvent(new Event('visibilitychange')), performance.clearResourceTimings(), true)`, nil)
		time.Sleep(3500 * time.Millisecond) // three and a half of the page's one-second asks
		var n int
		p.eval(t, asked, &n)
		if n > 1 { // one may have been on its way
			t.Errorf("a hidden tab asked api/stats %d times in 3.5 s, want none", n)
		}
		// Back in front, it asks again.
		p.eval(t, `(Object.defineProperty(document, 'visibilityState', {get: () => 'visible', configurable: true}),
			document.dispatchEvent(new Event('visibilitychange')), true)`, nil)
		p.waitJS(t, asked+` > `+strconv.Itoa(n))
	})

	t.Run("Screenshot", func(t *testing.T) {
		if os.Getenv("WEBLOGD_SCREENSHOT") == "" {
			t.Skip("set WEBLOGD_SCREENSHOT=1 to write docs/dashboard.png")
		}
		// An hour of traffic read as history at start, busier lately, a
		// third of it in a second log; then a little live traffic.
		log := tempLog(t)
		shop := filepath.Join(filepath.Dir(log), "shop.access.log")
		r := rand.New(rand.NewPCG(1, 2))
		now := time.Now()
		var main, other []string
		for i := range 4000 {
			ago := time.Duration(float64(time.Hour) * (1 - float64(i)/4000) * (1 - float64(i)/9000))
			line := demo.Line(r, now.Add(-ago)) + fmt.Sprintf(" %.3f", 0.002+r.ExpFloat64()*0.04)
			if r.IntN(3) == 0 {
				other = append(other, line)
			} else {
				main = append(main, line)
			}
		}
		writeLines(t, log, main...)
		writeLines(t, shop, other...)
		srv := startServer(t, feed.Config{Logs: []string{log, shop}, Format: timedFormat})
		p := b.open(t, "about:blank")
		p.call(t, "Emulation.setDeviceMetricsOverride", map[string]any{"width": 1440, "height": 900, "deviceScaleFactor": 1, "mobile": false}, nil)
		p.navigate(t, dashURL(srv, "/"))
		p.waitConnected(t)
		p.waitStats(t, "1h", "")
		// (All but the few lines that have left the hour since.)
		p.waitJSWithin(t, `Number(document.getElementById('card-requests').dataset.value) >= 3900`, 3*appearWithin)
		for i := range 8 {
			writeLines(t, log, demo.Line(r, time.Now())+fmt.Sprintf(" %.3f", 0.002+r.ExpFloat64()*0.04))
			if i == 5 {
				writeLines(t, log, "\x16\x03\x01 not an access log line")
			}
			time.Sleep(150 * time.Millisecond)
		}
		time.Sleep(2 * time.Second) // a statistics refresh, and the rows' flash fades
		shot := p.screenshot(t)
		if err := os.MkdirAll("../docs", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile("../docs/dashboard.png", shot, 0o644); err != nil {
			t.Fatal(err)
		}
		// For a look at the other layouts, whole pages:
		// WEBLOGD_SCREENSHOT_DIR=/tmp/x.
		if dir := os.Getenv("WEBLOGD_SCREENSHOT_DIR"); dir != "" {
			for _, v := range []struct {
				name, scheme string
				w, h         int
			}{{"desktop-light", "light", 1440, 900}, {"desktop-dark", "dark", 1440, 900}, {"phone-dark", "dark", 390, 844}, {"phone-light", "light", 390, 844}} {
				p.call(t, "Emulation.setDeviceMetricsOverride", map[string]any{"width": v.w, "height": v.h, "deviceScaleFactor": 1, "mobile": v.w < 500}, nil)
				p.call(t, "Emulation.setEmulatedMedia", map[string]any{"features": []map[string]string{{"name": "prefers-color-scheme", "value": v.scheme}}}, nil)
				time.Sleep(1500 * time.Millisecond)
				var height float64
				p.eval(t, `document.documentElement.scrollHeight`, &height)
				var full struct {
					Data string `json:"data"`
				}
				p.call(t, "Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true,
					"clip": map[string]any{"x": 0, "y": 0, "width": v.w, "height": min(height, 3000), "scale": 1}}, &full)
				b, _ := base64.StdEncoding.DecodeString(full.Data)
				os.WriteFile(filepath.Join(dir, v.name+".png"), b, 0o644)
			}
		}
	})
}

// dashboardCSP is the Content-Security-Policy of every response: the
// login form's style, allowed by its hash, is the only inline one.
var dashboardCSP = "default-src 'self'; script-src 'self'; style-src 'self' " + web.LoginStyle + "; img-src 'self' data:; connect-src 'self'; frame-ancestors 'self'; base-uri 'none'; form-action 'self'"

// dashHistory is a log of the last 90 minutes, and what the statistics of
// its windows must say.
type dashHistory struct {
	log                       string
	all, hour, recent         int // lines of the 24 h, 1 h and 5 min windows
	notFound                  int // lines answered 404 in the hour, all to /gone
	paths                     map[string]int
	clients                   map[string]int // lines in the hour per client
	hourVisitors, allVisitors int
}

// writeDashHistory writes a log in timedFormat, oldest first: 30 lines 85 to
// 65 minutes ago (from three clients of their own), 60 lines 50 to 10
// minutes ago and 20 in the last 3 minutes (from seven clients, one of
// them IPv6), to /home, /api/items (the slowest), /about and /gone (404),
// from several browsers. A window is whole minutes ending with the one
// now filling, so the 5-minute window reaches back at least 4 minutes:
// the newest 20 lines are in it for a minute after they were written.
func writeDashHistory(t *testing.T) dashHistory {
	t.Helper()
	now := time.Now()
	h := dashHistory{paths: map[string]int{}, clients: map[string]int{}}
	old := []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"}
	clients := []string{"203.0.113.9", "203.0.113.10", "203.0.113.11", "198.51.100.7", "198.51.100.8", "2001:db8:85a3::8a2e:370:7334", "198.51.100.9"}
	agents := []string{
		"Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
		"curl/8.5.0",
	}
	// One tenth of the lines of a block: /home 5, /api/items 2, /about 2, /gone 1.
	cycle := []string{"/home", "/api/items", "/home", "/about", "/home", "/gone", "/home", "/api/items", "/home", "/about"}
	var lines []string
	add := func(n int, from, to time.Duration, hosts []string, inHour bool) {
		for i := range n {
			at := now.Add(-from + time.Duration(i)*(from-to)/time.Duration(n))
			path := cycle[i%len(cycle)]
			status, took := 200, 0.010+float64(i%7)/1000
			switch path {
			case "/gone":
				status = 404
			case "/api/items":
				took = 0.250 + float64(i%5)/100
			}
			if !inHour {
				path = "/old"
			}
			lines = append(lines, fmt.Sprintf(`%s - - [%s] "GET %s HTTP/1.1" %d 1234 "https://www.example.com/" "%s" %.3f`,
				hosts[i%len(hosts)], at.Format("02/Jan/2006:15:04:05 -0700"), path, status, agents[i%len(agents)], took))
			if inHour {
				h.paths[path]++
				h.clients[hosts[i%len(hosts)]]++
				if status == 404 {
					h.notFound++
				}
			}
		}
	}
	add(30, 85*time.Minute, 65*time.Minute, old, false)
	add(60, 50*time.Minute, 10*time.Minute, clients, true)
	add(20, 3*time.Minute, 20*time.Second, clients, true)
	h.all, h.hour, h.recent = 110, 80, 20
	h.hourVisitors, h.allVisitors = len(clients), len(clients)+len(old)
	h.log = tempLog(t, lines...)
	return h
}

// waitStats waits until the page shows the statistics of window and the
// filters (as api/stats is asked: "path=%2Fhome"), which may take the
// server a moment after its start.
func (p *page) waitStats(t *testing.T, window, filters string) {
	t.Helper()
	q := "?window=" + window
	if filters != "" {
		q += "&" + filters
	}
	p.waitJSWithin(t, fmt.Sprintf(`document.getElementById('overview').dataset.query === %q`, q), 3*appearWithin)
}

// waitCard waits until a summary card's number is n.
func (p *page) waitCard(t *testing.T, id string, n int) {
	t.Helper()
	p.waitJSWithin(t, fmt.Sprintf(`document.getElementById(%q).dataset.value === '%d'`, id, n), 3*appearWithin)
}

// openWatchingCSP opens url in a tab that records, from before any
// script of the page runs, every Content-Security-Policy violation.
func (b *browser) openWatchingCSP(t *testing.T, url string) *page {
	t.Helper()
	p := b.open(t, "about:blank")
	p.call(t, "Page.addScriptToEvaluateOnNewDocument", map[string]any{"source": `window.__csp = [];
		document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || '') + ' ' + e.sourceFile + ':' + e.lineNumber));`}, nil)
	p.navigate(t, url)
	return p
}

// checkCSP fails the test for any violation the page or its console saw.
func (p *page) checkCSP(t *testing.T) {
	t.Helper()
	var v []string
	p.eval(t, `window.__csp`, &v)
	if len(v) > 0 {
		t.Errorf("Content-Security-Policy violations: %v", v)
	}
	for _, e := range p.errors() {
		if strings.Contains(e, "Content Security Policy") || strings.Contains(e, "Content-Security-Policy") {
			t.Errorf("console: %s", e)
		}
	}
}

// dashLine is a Combined Log Format line of now.
func dashLine(status int, path string) string {
	return fmt.Sprintf(`198.51.100.7 - - [%s] "GET %s HTTP/1.1" %d 1500 "https://example.com/" "dashboard-test/1.0"`,
		time.Now().Format("02/Jan/2006:15:04:05 -0700"), path, status)
}

func dashURL(srv *feed.Server, path string) string {
	return "http://" + srv.HTTPAddr().String() + path
}

// proxyTo is a reverse proxy to srv, answering 502 itself to the requests
// refuse says.
func proxyTo(t *testing.T, srv *feed.Server, refuse func(*http.Request) bool) *httptest.Server {
	t.Helper()
	up, err := url.Parse(dashURL(srv, ""))
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(up)
	rp.FlushInterval = -1
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if refuse(r) {
			http.Error(w, "refused by the test's proxy", http.StatusBadGateway)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		proxy.CloseClientConnections()
		proxy.Close()
	})
	return proxy
}

// freeAddr is a loopback address with a port free now, for a server that
// must come back on the same one.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// ---- a headless Chromium over the DevTools Protocol ----

type browser struct {
	cdp *cdpConn
}

// startBrowser launches chromium for the test; without it the test is
// skipped, except in CI, where it fails.
func startBrowser(t *testing.T) *browser {
	t.Helper()
	bin := os.Getenv("WEBLOGD_CHROMIUM")
	if bin == "" {
		bin = tool(t, "chromium", "chromium")
	}
	profile, err := os.MkdirTemp("", "weblogd-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin,
		// chromedp's DefaultExecAllocatorOptions,
		"--no-first-run", "--no-default-browser-check", "--headless",
		"--disable-background-networking", "--enable-features=NetworkService,NetworkServiceInProcess",
		"--disable-background-timer-throttling", "--disable-backgrounding-occluded-windows",
		"--disable-breakpad", "--disable-client-side-phishing-detection", "--disable-default-apps",
		"--disable-dev-shm-usage", "--disable-extensions", "--disable-features=site-per-process,Translate,BlinkGenPropertyTrees",
		"--disable-hang-monitor", "--disable-ipc-flooding-protection", "--disable-popup-blocking",
		"--disable-prompt-on-repost", "--disable-renderer-backgrounding", "--disable-sync",
		"--force-color-profile=srgb", "--metrics-recording-only", "--safebrowsing-disable-auto-update",
		"--enable-automation", "--password-store=basic", "--use-mock-keychain",
		// and for a root user on a CI machine.
		"--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-component-update",
		"--hide-scrollbars", "--mute-audio", "--window-size=1280,900",
		"--user-data-dir="+profile, "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
		"about:blank")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	wsURL := make(chan string, 1)
	var tail []string // chromium's last words, for a failure message
	var tailMu sync.Mutex
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			l := sc.Text()
			if u, ok := strings.CutPrefix(l, "DevTools listening on "); ok {
				wsURL <- u
			}
			tailMu.Lock()
			tail = append(tail[max(0, len(tail)-20):], l)
			tailMu.Unlock()
		}
		cmd.Wait()
		close(exited)
	}()
	var b *browser
	t.Cleanup(func() {
		if b != nil {
			b.cdp.call("", "Browser.close", nil, nil)
			b.cdp.close()
		}
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // its own process group
			<-exited
		}
		os.RemoveAll(profile)
	})
	select {
	case u := <-wsURL:
		c, _, err := websocket.DefaultDialer.Dial(u, nil)
		if err != nil {
			t.Fatalf("dial chromium's DevTools: %v", err)
		}
		b = &browser{cdp: newCDP(c)}
	case <-exited:
		tailMu.Lock()
		defer tailMu.Unlock()
		t.Fatalf("chromium exited:\n%s", strings.Join(tail, "\n"))
	case <-time.After(20 * time.Second):
		t.Fatal("chromium did not start its DevTools server in 20 s")
	}
	return b
}

// cdpConn is one DevTools connection: commands by id, events to the
// session they belong to.
type cdpConn struct {
	c       *websocket.Conn
	wmu     sync.Mutex
	id      atomic.Int64
	mu      sync.Mutex
	waiting map[int64]chan cdpMsg
	events  map[string]func(method string, params json.RawMessage)
	done    chan struct{}
}

type cdpMsg struct {
	ID        int64           `json:"id,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    any             `json:"params,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

func newCDP(c *websocket.Conn) *cdpConn {
	k := &cdpConn{c: c, waiting: map[int64]chan cdpMsg{}, events: map[string]func(string, json.RawMessage){}, done: make(chan struct{})}
	go k.read()
	return k
}

func (k *cdpConn) read() {
	defer close(k.done)
	for {
		_, b, err := k.c.ReadMessage()
		if err != nil {
			return
		}
		var m struct {
			cdpMsg
			Params json.RawMessage `json:"params"`
		}
		if json.Unmarshal(b, &m) != nil {
			continue
		}
		k.mu.Lock()
		if m.ID != 0 {
			if ch := k.waiting[m.ID]; ch != nil {
				delete(k.waiting, m.ID)
				ch <- m.cdpMsg
			}
		} else if f := k.events[m.SessionID]; f != nil {
			f(m.Method, m.Params)
		}
		k.mu.Unlock()
	}
}

func (k *cdpConn) close() {
	k.c.Close()
	<-k.done
}

// call sends a command (to a page's session, or to the browser with "")
// and decodes its result into result unless nil.
func (k *cdpConn) call(session, method string, params, result any) error {
	id := k.id.Add(1)
	ch := make(chan cdpMsg, 1)
	k.mu.Lock()
	k.waiting[id] = ch
	k.mu.Unlock()
	if params == nil {
		params = struct{}{}
	}
	k.wmu.Lock()
	err := k.c.WriteJSON(cdpMsg{ID: id, SessionID: session, Method: method, Params: params})
	k.wmu.Unlock()
	if err != nil {
		return err
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			return fmt.Errorf("%s: %s", method, m.Error.Message)
		}
		if result != nil {
			return json.Unmarshal(m.Result, result)
		}
		return nil
	case <-k.done:
		return fmt.Errorf("%s: the DevTools connection closed", method)
	case <-time.After(waitFor):
		return fmt.Errorf("%s: no answer in %v", method, waitFor)
	}
}

// page is one tab, with what its console said.
type page struct {
	cdp     *cdpConn
	session string
	mu      sync.Mutex
	errs    []string
}

// open makes a new tab showing url; it is closed when the test ends.
func (b *browser) open(t *testing.T, url string) *page {
	t.Helper()
	// A browser context of its own, like an incognito window: disposing of
	// it when the test ends closes its connections too, even those the
	// browser opened ahead of need (which would hold up the server's
	// shutdown).
	var bc struct {
		BrowserContextID string `json:"browserContextId"`
	}
	if err := b.cdp.call("", "Target.createBrowserContext", nil, &bc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		b.cdp.call("", "Target.disposeBrowserContext", map[string]any{"browserContextId": bc.BrowserContextID}, nil)
	})
	var target struct {
		TargetID string `json:"targetId"`
	}
	if err := b.cdp.call("", "Target.createTarget", map[string]any{"url": "about:blank", "browserContextId": bc.BrowserContextID}, &target); err != nil {
		t.Fatal(err)
	}
	var att struct {
		SessionID string `json:"sessionId"`
	}
	if err := b.cdp.call("", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &att); err != nil {
		t.Fatal(err)
	}
	p := &page{cdp: b.cdp, session: att.SessionID}
	b.cdp.mu.Lock()
	b.cdp.events[p.session] = p.event
	b.cdp.mu.Unlock()
	for _, domain := range []string{"Page.enable", "Runtime.enable", "Log.enable"} {
		p.call(t, domain, nil, nil)
	}
	if url != "about:blank" {
		p.navigate(t, url)
	}
	return p
}

// event records console errors, uncaught exceptions and errors the
// browser logs itself (a failed load, a refused WebSocket).
func (p *page) event(method string, params json.RawMessage) {
	var msg string
	switch method {
	case "Runtime.consoleAPICalled":
		var e struct {
			Type string `json:"type"`
			Args []struct {
				Value       any    `json:"value"`
				Description string `json:"description"`
			} `json:"args"`
		}
		if json.Unmarshal(params, &e) != nil || (e.Type != "error" && e.Type != "assert") {
			return
		}
		for _, a := range e.Args {
			msg += fmt.Sprint(a.Value, a.Description) + " "
		}
		msg = "console." + e.Type + ": " + msg
	case "Runtime.exceptionThrown":
		var e struct {
			ExceptionDetails struct {
				Text      string `json:"text"`
				Exception struct {
					Description string `json:"description"`
				} `json:"exception"`
			} `json:"exceptionDetails"`
		}
		json.Unmarshal(params, &e)
		msg = "exception: " + e.ExceptionDetails.Text + " " + e.ExceptionDetails.Exception.Description
	case "Log.entryAdded":
		var e struct {
			Entry struct {
				Level string `json:"level"`
				Text  string `json:"text"`
				URL   string `json:"url"`
			} `json:"entry"`
		}
		if json.Unmarshal(params, &e) != nil || e.Entry.Level != "error" {
			return
		}
		msg = "log: " + e.Entry.Text + " " + e.Entry.URL
	default:
		return
	}
	p.mu.Lock()
	p.errs = append(p.errs, msg)
	p.mu.Unlock()
}

func (p *page) errors() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.errs...)
}

func (p *page) call(t *testing.T, method string, params, result any) {
	t.Helper()
	if err := p.cdp.call(p.session, method, params, result); err != nil {
		t.Fatal(err)
	}
}

func (p *page) navigate(t *testing.T, url string) {
	t.Helper()
	var nav struct {
		ErrorText string `json:"errorText"`
	}
	p.call(t, "Page.navigate", map[string]any{"url": url}, &nav)
	if nav.ErrorText != "" {
		t.Fatalf("navigate to %s: %s", url, nav.ErrorText)
	}
	// The dashboard, or the login form that stands in for it with a token file.
	p.waitJS(t, `document.readyState === 'complete' && !!(document.getElementById('rows') || document.getElementById('login'))`)
}

// eval evaluates a JavaScript expression in the page and decodes its value
// into v unless nil.
func (p *page) eval(t *testing.T, expr string, v any) {
	t.Helper()
	if err := p.evalErr(expr, v); err != nil {
		t.Fatal(err)
	}
}

func (p *page) evalErr(expr string, v any) error {
	var res struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	if err := p.cdp.call(p.session, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true}, &res); err != nil {
		return err
	}
	if e := res.ExceptionDetails; e != nil {
		return fmt.Errorf("evaluate %s: %s %s", expr, e.Text, e.Exception.Description)
	}
	if v != nil && len(res.Result.Value) > 0 {
		return json.Unmarshal(res.Result.Value, v)
	}
	return nil
}

func (p *page) str(t *testing.T, expr string) string {
	t.Helper()
	var s string
	p.eval(t, expr, &s)
	return s
}

// waitJS polls a JavaScript condition until it holds, or fails the test
// after appearWithin.
func (p *page) waitJS(t *testing.T, cond string) {
	t.Helper()
	p.waitJSWithin(t, cond, appearWithin)
}

// waitJSWithin polls a JavaScript condition until it holds, or fails the
// test after d.
func (p *page) waitJSWithin(t *testing.T, cond string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		var ok bool
		err := p.evalErr("!!("+cond+")", &ok)
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			var state string
			p.evalErr(`document.getElementById('conn').textContent + ' | ' + document.getElementById('error').textContent + ' | rows: ' +
				[...document.querySelectorAll('#rows tr')].slice(0, 12).map(tr => tr.dataset.seq || tr.textContent).join(' ')`, &state)
			t.Fatalf("not within %v: %s (err %v)\npage: %s\nconsole: %s", d, cond, err, state, strings.Join(p.errors(), "\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *page) waitConnected(t *testing.T) {
	t.Helper()
	p.waitJS(t, `document.getElementById('conn').dataset.state === 'connected'`)
}

// seqs are the seqs of the table's rows, top to bottom.
func (p *page) seqs(t *testing.T) []int {
	t.Helper()
	var s []int
	p.eval(t, `[...document.querySelectorAll('#rows tr[data-seq]')].map(tr => Number(tr.dataset.seq))`, &s)
	return s
}

// waitSeqs waits until the table shows n records, and checks that none is
// there twice.
func (p *page) waitSeqs(t *testing.T, n int) {
	t.Helper()
	p.waitJS(t, fmt.Sprintf(`document.querySelectorAll('#rows tr[data-seq]').length >= %d`, n))
	seen := map[int]bool{}
	for _, s := range p.seqs(t) {
		if seen[s] {
			t.Fatalf("seq %d is in the table twice: %v", s, p.seqs(t))
		}
		seen[s] = true
	}
}

// typeInto focuses a form field, replaces its text by typing, and presses
// Enter, as a user would.
func (p *page) typeInto(t *testing.T, id, text string) {
	t.Helper()
	p.eval(t, fmt.Sprintf(`(el => { el.focus(); el.select(); })(document.getElementById(%q))`, id), nil)
	p.call(t, "Input.insertText", map[string]any{"text": text}, nil)
	key := map[string]any{"type": "keyDown", "key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13, "nativeVirtualKeyCode": 13, "text": "\r"}
	p.call(t, "Input.dispatchKeyEvent", key, nil)
	key["type"] = "keyUp"
	delete(key, "text")
	p.call(t, "Input.dispatchKeyEvent", key, nil)
}

func (p *page) screenshot(t *testing.T) []byte {
	t.Helper()
	var shot struct {
		Data string `json:"data"`
	}
	p.call(t, "Page.captureScreenshot", map[string]any{"format": "png"}, &shot)
	b, err := base64.StdEncoding.DecodeString(shot.Data)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
