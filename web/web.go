// Package web holds the browser dashboard: static files embedded in the
// binary, so that `go build` alone makes a complete server. The dashboard
// is just another client of the public streams and uses relative URLs, so
// it works under any base path.
package web

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var static embed.FS

// Handler serves the dashboard's files; mount it at the base path.
func Handler() http.Handler {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return http.FileServerFS(sub)
}
