package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/weblogd/weblogd/auth"
	"github.com/weblogd/weblogd/feed"
)

// healthTimeout is how long healthcheck waits for /healthz by default: a
// live weblogd answers in well under a millisecond, so 2 s means it is
// stuck, and it leaves a container runtime's own timeout room.
const healthTimeout = 2 * time.Second

// healthHelp lists the healthcheck's flags for its --help.
var healthHelp = []helpGroup{{"Flags", []helpFlag{{"url", "URL"}, {"insecure", ""}, {"timeout", "DURATION"}, {"config", "FILE"}, {"token-file", "FILE"}}}}

// healthcheck is "weblogd healthcheck": exit 0 when GET /healthz answers
// 200 in time, 1 when it does not, 2 for bad flags. Without --url it finds
// the server the way the server finds its settings (the environment and
// the config file), so a container's HEALTHCHECK needs no arguments that
// repeat its configuration.
func healthcheck(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("weblogd healthcheck", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are said in one line below
	target := fs.String("url", "", "URL to GET (default: /healthz of the server that --http, --base-path and --tls-cert describe in the environment and in WEBLOGD_CONFIG, on loopback)")
	insecure := fs.Bool("insecure", false, "do not verify the server's certificate: for a self-signed one, or a loopback address the certificate does not name")
	timeout := fs.Duration("timeout", healthTimeout, "how long to wait for the answer")
	config := fs.String("config", "", "the server's config file, to find the server from without --url (default: WEBLOGD_CONFIG)")
	tokenFile := fs.String("token-file", "", "send the first token of this file as a bearer token (default, without --url: the server's --token-file when --auth-metrics closes /healthz)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: weblogd healthcheck [--url URL] [--insecure] [--timeout D] [--config FILE] [--token-file FILE]\n\nExits 0 when GET /healthz answers 200 within the timeout, 1 otherwise.\n\n")
		printFlags(fs.Output(), fs, healthHelp)
	}
	bad := func(err error) int {
		fmt.Fprintf(stderr, "weblogd healthcheck: %v\n", err)
		return 2
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return 0
		}
		return bad(err)
	}
	if fs.NArg() > 0 {
		return bad(fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	if *timeout <= 0 {
		return bad(fmt.Errorf("--timeout %v: must be positive", *timeout))
	}
	u := *target
	if u == "" {
		var args []string
		if *config != "" {
			args = []string{"--config", *config}
		}
		o, err := loadOptions(args, getenv, io.Discard)
		if err != nil {
			return bad(err)
		}
		if u, err = healthURL(o); err != nil {
			return bad(err)
		}
		if *tokenFile == "" && o.authMetrics {
			*tokenFile = o.tokenFile
		}
	} else if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return bad(fmt.Errorf("--url %q: want an http:// or https:// URL with a host", u))
	}

	client := &http.Client{
		Timeout: *timeout,
		Transport: &http.Transport{
			Proxy:             nil, // loopback; a proxy in the environment is for other traffic
			DisableKeepAlives: true,
			// Verification is skipped only when asked, for a check of the
			// process's own port on loopback.
			TLSClientConfig: &tls.Config{InsecureSkipVerify: *insecure}, // #nosec G402
		},
		// A redirect is not 200: the URL is wrong (a --base-path missing).
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return bad(err)
	}
	if *tokenFile != "" {
		tok, err := firstToken(*tokenFile)
		if err != nil {
			return bad(err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := client.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "weblogd healthcheck: %v\n", err)
		return 1
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "weblogd healthcheck: GET %s: %s, want 200 OK\n", u, resp.Status)
		return 1
	}
	fmt.Fprintf(stdout, "%s: %s\n", u, resp.Status)
	return 0
}

// firstToken returns the first token of a token file (auth.Parse's
// syntax): a probe needs one token, and the file is the server's own.
func firstToken(path string) (string, error) {
	b, err := auth.ReadFile(path) // a FIFO there must not hang the probe
	if err != nil {
		return "", fmt.Errorf("read the token file: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(line, "\ufeff"))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		return strings.Fields(line)[0], nil
	}
	return "", fmt.Errorf("token file %s holds no token", path)
}

// healthURL is /healthz of the server o describes, on loopback when it
// listens on every address.
func healthURL(o *options) (string, error) {
	if o.http == "" || o.http == feed.NoListen {
		return "", errors.New("the HTTP server is off (--http is empty): nothing to check; give --url")
	}
	host, port, err := net.SplitHostPort(o.http)
	if err != nil {
		return "", fmt.Errorf("--http %q: want host:port or :port", o.http)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
		if ip != nil && ip.To4() == nil {
			host = "::1"
		}
	}
	scheme := "http"
	if o.tlsCert != "" {
		scheme = "https"
	}
	base := "/" + strings.Trim(o.basePath, "/") + "/"
	if base == "//" {
		base = "/"
	}
	return scheme + "://" + net.JoinHostPort(host, port) + base + "healthz", nil
}
