package web

import (
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"html/template"
	"io"
	"strings"
)

//go:embed login.html
var loginHTML string

// loginPage is parsed once; html/template escapes what it is given.
var loginPage = template.Must(template.New("login").Parse(loginHTML))

// LoginStyle is the login page's one <style> element as a
// Content-Security-Policy source: its hash. The page uses no file besides
// itself, and a policy that allows no inline style must allow this one.
var LoginStyle = func() string {
	_, css, _ := strings.Cut(loginHTML, "<style>")
	css, _, _ = strings.Cut(css, "</style>")
	sum := sha256.Sum256([]byte(css))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}()

// Login is what the login page shows.
type Login struct {
	// Action is the form's target, relative to the page ("login").
	Action string
	// Next is the dashboard's query string to return to after logging in
	// ("?status=5xx"), or empty.
	Next string
	// Failed says the previous attempt was refused, with no more detail.
	Failed bool
}

// WriteLogin writes the login page: a form that posts a token to Action.
// It uses no script and no file besides itself, so it works before the
// browser may load anything else.
func WriteLogin(w io.Writer, l Login) error { return loginPage.Execute(w, l) }
