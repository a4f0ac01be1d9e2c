package feed_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weblogd/weblogd/feed"
	"github.com/weblogd/weblogd/record"
)

// The dashboard with records that say how long they took and carry fields
// (published through NATS to an edge, which also follows a log of its
// own), in a real headless Chromium: the duration column shows once a
// record has a duration, readable; a row opens the record's details, by
// click or keyboard (arrows move along the rows), with every field it
// has; the min-duration filter narrows the view.
func TestDashboardDurationsAndDetails(t *testing.T) {
	b := startBrowser(t)
	log := tempLog(t, dashLine(200, "/local"))
	f := startDurationFleet(t, feed.Config{Logs: []string{log}})
	p := b.open(t, dashURL(f.edge, "/"))
	p.waitConnected(t)
	p.waitSeqs(t, 1)
	if got := p.str(t, `[...document.querySelectorAll('#tail thead th')].map(th => th.textContent).join(' ')`); got != "time node source vhost client method path status bytes took referer agent" {
		t.Errorf("headings %q", got)
	}
	durationShown := `getComputedStyle(document.querySelector('#tail th.c-duration')).display`
	if got := p.str(t, durationShown); got != "none" {
		t.Errorf("before any duration the duration column's display = %q, want none", got)
	}

	f.publish(t,
		record.Record{Duration: record.Took(23 * time.Millisecond), UpstreamDuration: record.Took(20 * time.Millisecond)},
		record.Record{Duration: record.Took(1500 * time.Millisecond), Status: 502, Fields: []record.Pair{
			{Name: "ssl_protocol", Value: "TLSv1.3"}, {Name: "request_id", Value: "5f2b9c0e4d1a"}, {Name: "upstream_addr", Value: "10.0.3.17:8080"}}},
		record.Record{Duration: record.Took(450 * time.Microsecond)},
		record.Record{Duration: record.Took(125 * time.Second)},
		record.Record{}, // no duration
	)
	p.waitSeqs(t, 6)
	p.waitJS(t, durationShown+` === 'table-cell'`)
	var cells []string
	p.eval(t, `[...document.querySelectorAll('#rows tr[data-seq]')].map(tr => tr.querySelector('.c-path').textContent + '=' + tr.querySelector('.c-duration').textContent)`, &cells)
	if got, want := strings.Join(cells, " "), "/5= /4=2 m 05 s /3=450 µs /2=1.50 s /1=23 ms /local="; got != want {
		t.Errorf("path=duration cells %q, want %q", got, want)
	}
	if got := p.str(t, `document.querySelector('#rows tr[data-seq="2"] .c-duration').title`); got != "0.023 s, 0.02 s upstream" {
		t.Errorf("the duration's tooltip %q", got)
	}

	// A click on the row with fields: every field of the record, in order,
	// its fields under theirs.
	details := `[...document.querySelectorAll('#details-list dt')].map(dt => dt.textContent + '=' + dt.nextElementSibling.textContent).join('|')`
	p.eval(t, `document.querySelector('#rows tr[data-seq="3"] .c-path').click()`, nil)
	p.waitJS(t, `document.getElementById('details').open`)
	want := "seq=3|source=access.log|node=web-1|host=203.0.113.9|method=GET|path=/2|proto=HTTP/1.1|status=502|bytes=0|" +
		"duration=1.50 s (1.5 s)|fields=3 values the log format names|ssl_protocol=TLSv1.3|request_id=5f2b9c0e4d1a|upstream_addr=10.0.3.17:8080"
	if got := p.str(t, details); got != want {
		t.Errorf("details:\n%s\nwant\n%s", got, want)
	}
	if got := p.str(t, `document.getElementById('details-title').textContent`); got != "Record 3" {
		t.Errorf("details title %q", got)
	}
	if dir := os.Getenv("WEBLOGD_SCREENSHOT_DIR"); dir != "" {
		p.call(t, "Emulation.setDeviceMetricsOverride", map[string]any{"width": 1440, "height": 900, "deviceScaleFactor": 1, "mobile": false}, nil)
		time.Sleep(1200 * time.Millisecond)
		if err := os.WriteFile(filepath.Join(dir, "details.png"), p.screenshot(t), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p.eval(t, `document.getElementById('details-close').click()`, nil)
	p.waitJS(t, `!document.getElementById('details').open`)

	// By keyboard: the row takes focus, Enter opens, Escape closes, and
	// focus returns to the row.
	p.eval(t, `document.querySelector('#rows tr[data-seq="2"]').focus()`, nil)
	p.key(t, "Enter", 13)
	p.waitJS(t, `document.getElementById('details').open`)
	if got := p.str(t, details); !strings.Contains(got, "|duration=23 ms (0.023 s)|upstream_duration=20 ms (0.02 s)") || strings.Contains(got, "fields=") {
		t.Errorf("details of seq 2: %s", got)
	}
	p.key(t, "Escape", 27)
	p.waitJS(t, `!document.getElementById('details').open && document.activeElement.dataset.seq === '2'`)
	// Arrows move along the rows; one row at a time is in the tab order.
	p.key(t, "ArrowDown", 40)
	p.waitJS(t, `document.activeElement.dataset.seq === '1'`)
	p.key(t, "ArrowUp", 38)
	p.key(t, "ArrowUp", 38)
	p.waitJS(t, `document.activeElement.dataset.seq === '3'`)
	if got := p.str(t, `[...document.querySelectorAll('#rows tr[tabindex="0"]')].map(tr => tr.dataset.seq).join(' ')`); got != "3" {
		t.Errorf("rows in the tab order: %q, want the focused one, 3", got)
	}

	// The min-duration filter: typed in the form, in the page URL, and
	// only what took at least that long.
	p.typeInto(t, "f-min_duration", "1s")
	p.waitJS(t, `location.search === '?min_duration=1s'`)
	p.waitConnected(t)
	p.waitJS(t, `[...document.querySelectorAll('#rows tr[data-seq] .c-path')].map(td => td.textContent).join(' ') === '/4 /2'`)
	p.typeInto(t, "f-min_duration", "250")
	p.waitJS(t, `!document.getElementById('error').hidden`)
	if got := p.str(t, `document.getElementById('error').textContent`); !strings.Contains(got, `bad min_duration "250"`) {
		t.Errorf("a refused min_duration shows %q", got)
	}
	for _, e := range p.errors() {
		// The refused filter's 400 is logged by the browser itself.
		if !strings.Contains(e, "400") {
			t.Errorf("console error: %s", e)
		}
	}
}

// key presses and releases a key, as a user would, on what has focus.
func (p *page) key(t *testing.T, key string, code int) {
	t.Helper()
	ev := map[string]any{"type": "keyDown", "key": key, "code": key, "windowsVirtualKeyCode": code, "nativeVirtualKeyCode": code}
	if key == "Enter" {
		ev["text"] = "\r"
	}
	p.call(t, "Input.dispatchKeyEvent", ev, nil)
	ev["type"] = "keyUp"
	delete(ev, "text")
	p.call(t, "Input.dispatchKeyEvent", ev, nil)
}
