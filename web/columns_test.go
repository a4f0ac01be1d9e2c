package web

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"

	"github.com/weblogd/weblogd/record"
)

// notColumns are the record's fields the dashboard's table has no column
// for, each with where (or why not) a person sees it. A field added to the
// record must be put here or in app.js's COLUMNS.
var notColumns = map[string]string{
	"seq":     "numbers the rows (data-seq) and the resume; not worth a column",
	"ident":   "almost always '-'",
	"user":    "in the client cell's tooltip",
	"proto":   "rarely telling; in the request",
	"request": "the path cell shows it when the request line did not split",
	"extra":   "the log format's trailing fields, free form",
	"raw":     "a line that did not parse shows raw across the whole row",

	"upstream_duration": "in the duration cell's tooltip and the record's details",
	"fields":            "the record's details, opened from its row, list each of them",
}

var (
	columnsRe = regexp.MustCompile(`(?s)\n  const COLUMNS = \[\n(.*?)\n  \];\n`)
	columnRe  = regexp.MustCompile(`^\s*\['([a-z_]+)', '([^']+)'\],$`)
)

// dashboardColumns reads the COLUMNS array of app.js: the JSON keys, in
// order, and their headings.
func dashboardColumns(t *testing.T) (keys, labels []string) {
	t.Helper()
	src, err := fs.ReadFile(static, "static/app.js")
	if err != nil {
		t.Fatal(err)
	}
	m := columnsRe.FindSubmatch(src)
	if m == nil {
		t.Fatal("app.js has no `const COLUMNS = [ ... ];` block")
	}
	for _, line := range strings.Split(string(m[1]), "\n") {
		c := columnRe.FindStringSubmatch(line)
		if c == nil {
			t.Fatalf("app.js COLUMNS: line %q is not ['key', 'label'],", line)
		}
		keys = append(keys, c[1])
		labels = append(labels, c[2])
	}
	return keys, labels
}

// TestColumnsFollowTheRecord checks the dashboard's columns against the
// record's table of fields: every column is a field's JSON key, and every
// field written to clients is a column or named in notColumns.
func TestColumnsFollowTheRecord(t *testing.T) {
	keys, _ := dashboardColumns(t)
	fields := map[string]bool{}
	for _, f := range record.Fields {
		if f.JSON != "" {
			fields[f.JSON] = true
		}
	}
	columns := map[string]bool{}
	for _, k := range keys {
		if columns[k] {
			t.Errorf("app.js COLUMNS: %q twice", k)
		}
		columns[k] = true
		if !fields[k] {
			t.Errorf("app.js COLUMNS: %q is not a JSON key of record.Fields", k)
		}
		if _, ok := notColumns[k]; ok {
			t.Errorf("%q is a column and also in notColumns", k)
		}
	}
	for k := range notColumns {
		if !fields[k] {
			t.Errorf("notColumns: %q is not a JSON key of record.Fields", k)
		}
	}
	for _, f := range record.Fields {
		if f.JSON == "" || columns[f.JSON] {
			continue
		}
		if _, ok := notColumns[f.JSON]; !ok {
			t.Errorf("record field %s (%q) is neither a column of the dashboard (COLUMNS in web/static/app.js) nor in notColumns", f.Name, f.JSON)
		}
	}
	// The fields a reader of an access log looks at are columns.
	for _, k := range []string{"time", "host", "method", "path", "status", "bytes", "referer", "agent", "source", "node", "vhost", "duration"} {
		if !columns[k] {
			t.Errorf("%q is not a column of the dashboard", k)
		}
	}
}
