package feed_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weblogd/weblogd/feed"
)

// The dashboard of an edge fed through NATS by nodes a and b (and a log of
// its own): the nodes panel counts each node's hits, every row names its
// node, and a click on a node, or the node selector, narrows the view to
// it, in a real headless Chromium.
func TestDashboardNodes(t *testing.T) {
	b := startBrowser(t)
	f := startNodeFleet(t, feed.Config{})
	p := b.open(t, dashURL(f.edge, "/"))
	p.waitConnected(t)
	if got := p.str(t, `[document.getElementById('nodes-panel').hidden, document.getElementById('node-wrap').hidden,
		getComputedStyle(document.querySelector('#tail th.c-node')).display].join(' ')`); got != "true true none" {
		t.Errorf("before any node: panel hidden, selector hidden, node column display = %q, want true true none", got)
	}

	f.write(t, "a", 0, 7)
	f.write(t, "b", 0, 4)
	f.write(t, "", 0, 3)
	p.waitSeqs(t, 14)

	// The panel: each node with what was written to it, the busiest
	// first; all of it within the last minute.
	nodeRows := `[...document.querySelectorAll('#node-rows tr')].map(tr =>
		[tr.dataset.node, tr.querySelector('.n-min').textContent, tr.querySelector('.n-all').textContent].join(' ')).join(', ')`
	p.waitJS(t, nodeRows+` === 'a 7 7, b 4 4'`)
	if got := p.str(t, `getComputedStyle(document.getElementById('nodes-panel')).display`); got == "none" {
		t.Error("the nodes panel is not shown")
	}
	// Every row names its node; local records have none.
	var rows []struct{ Node, Path string }
	p.eval(t, `[...document.querySelectorAll('#rows tr[data-seq]')].map(tr => ({
		node: tr.querySelector('.c-node').textContent, path: tr.querySelector('.c-path').textContent}))`, &rows)
	if len(rows) != 14 {
		t.Fatalf("%d rows, want 14", len(rows))
	}
	for _, r := range rows {
		want, _, _ := strings.Cut(strings.TrimPrefix(r.Path, "/"), "/")
		if want == "local" {
			want = ""
		}
		if r.Node != want {
			t.Errorf("row of %s shows node %q, want %q", r.Path, r.Node, want)
		}
	}
	if got := p.str(t, `getComputedStyle(document.querySelector('#tail th.c-node')).display`); got != "table-cell" {
		t.Errorf("node column display %q, want table-cell", got)
	}
	if got := p.str(t, `[...document.getElementById('f-node').options].map(o => o.value || '(all)').join(' ')`); got != "(all) a b" {
		t.Errorf("node selector offers %q, want (all) a b", got)
	}

	// A click on node b's row: only b's records, in the page URL too.
	p.eval(t, `document.querySelector('#node-rows tr[data-node="b"] td').click()`, nil)
	p.waitJS(t, `location.search === '?node=b'`)
	p.waitConnected(t)
	p.waitSeqs(t, 4)
	f.write(t, "a", 7, 2)
	f.write(t, "b", 4, 1)
	p.waitJS(t, `!!document.querySelector('#rows tr[data-seq] .c-path') && document.querySelector('#rows tr[data-seq] .c-path').textContent === '/b/4'`)
	var paths []string
	p.eval(t, `[...document.querySelectorAll('#rows tr[data-seq]')].map(tr => tr.querySelector('.c-node').textContent + ':' + tr.querySelector('.c-path').textContent)`, &paths)
	if want := []string{"b:/b/4", "b:/b/3", "b:/b/2", "b:/b/1", "b:/b/0"}; !slices.Equal(paths, want) {
		t.Errorf("rows with node=b: %v, want %v", paths, want)
	}
	// Node a is still known, and shown at 0 while the view is b's.
	p.waitJS(t, nodeRows+` === 'b 5 5, a 0 0'`)
	if got := p.str(t, `document.getElementById('f-node').value`); got != "b" {
		t.Errorf("node selector shows %q, want b", got)
	}

	// The selector goes back to every node, over SSE this time.
	p.navigate(t, dashURL(f.edge, "/?transport=sse&node=b"))
	p.waitConnected(t)
	p.waitSeqs(t, 5)
	p.eval(t, `(s => { s.value = ''; s.dispatchEvent(new Event('change')); })(document.getElementById('f-node'))`, nil)
	p.waitJS(t, `location.search === '?transport=sse'`)
	p.waitConnected(t)
	p.waitSeqs(t, 17)
	p.waitJS(t, nodeRows+` === 'a 9 9, b 5 5'`)
	if got := p.str(t, `document.getElementById('conn').dataset.transport`); got != "SSE" {
		t.Errorf("transport %q, want SSE", got)
	}
	if errs := p.errors(); len(errs) > 0 {
		t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
	}
	// For a look: WEBLOGD_SCREENSHOT_DIR=/tmp/x writes nodes.png there.
	if dir := os.Getenv("WEBLOGD_SCREENSHOT_DIR"); dir != "" {
		p.call(t, "Emulation.setDeviceMetricsOverride", map[string]any{"width": 1440, "height": 900, "deviceScaleFactor": 1, "mobile": false}, nil)
		time.Sleep(1200 * time.Millisecond) // a redraw of the aggregates, the row flash faded
		if err := os.WriteFile(filepath.Join(dir, "nodes.png"), p.screenshot(t), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
