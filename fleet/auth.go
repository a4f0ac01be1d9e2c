package fleet

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
)

// Auth says how to authenticate to NATS and how to check its TLS
// certificate. Secrets are only ever read from files, so that none is on a
// command line or in the environment. The zero value is no
// authentication and plain TCP (or TLS as the URL and the server ask,
// checked against the system's roots).
type Auth struct {
	// CredsFile is a NATS credentials file (a user JWT and its nkey
	// seed), as nsc writes it, for servers in operator mode.
	CredsFile string
	// NKeyFile holds a user nkey seed (SU...), for servers that list the
	// user's public nkey.
	NKeyFile string
	// TokenFile holds the server's authorization token.
	TokenFile string
	// User and PasswordFile are a user name and the file holding its
	// password. Both or neither.
	User         string
	PasswordFile string
	// CAFile is a PEM bundle of the certificate authorities the server's
	// certificate is checked against, instead of the system's. With it,
	// the connection must be TLS.
	CAFile string
	// CertFile and KeyFile are a PEM client certificate (with its chain)
	// and its key, for servers that verify clients. Both or neither.
	CertFile, KeyFile string
}

// IsZero reports whether a asks for nothing.
func (a Auth) IsZero() bool { return a == Auth{} }

// Options reads a's files and returns the NATS client options they make.
// It reads them now, so that a file that is missing, unreadable or not
// what it should be is reported before anything starts; the credentials
// file and nkey seed are read again at each connect (so that a rotated
// file is picked up, and the secret is not kept in memory).
func (a Auth) Options() ([]nats.Option, error) {
	var errs []error
	methods := 0
	for _, set := range []bool{a.CredsFile != "", a.NKeyFile != "", a.TokenFile != "", a.User != "" || a.PasswordFile != ""} {
		if set {
			methods++
		}
	}
	if methods > 1 {
		errs = append(errs, errors.New("NATS authentication is given more than one way: use one of credentials, nkey, token, or user and password"))
	}
	if (a.User == "") != (a.PasswordFile == "") {
		errs = append(errs, errors.New("a NATS user needs a password file, and a password file a user"))
	}
	if (a.CertFile == "") != (a.KeyFile == "") {
		errs = append(errs, errors.New("a NATS client certificate needs its key file, and a key file its certificate"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var opts []nats.Option
	add := func(o nats.Option, err error) {
		if err != nil {
			errs = append(errs, err)
			return
		}
		opts = append(opts, o)
	}
	if a.CredsFile != "" {
		add(checkCreds(a.CredsFile))
	}
	if a.NKeyFile != "" {
		o, err := nats.NkeyOptionFromSeed(a.NKeyFile)
		if err != nil {
			err = fmt.Errorf("read the NATS nkey seed %s: %w", a.NKeyFile, err)
		}
		add(o, err)
	}
	if a.TokenFile != "" {
		tok, err := readSecret(a.TokenFile, "NATS token")
		add(nats.Token(tok), err)
	}
	if a.User != "" {
		pw, err := readSecret(a.PasswordFile, "NATS password")
		add(nats.UserInfo(a.User, pw), err)
	}
	if a.CAFile != "" || a.CertFile != "" {
		add(a.tls())
	}
	return opts, errors.Join(errs...)
}

// checkCreds reads a credentials file through the client's own reader,
// so that one without a JWT or a seed is refused now rather than at each
// connect.
func checkCreds(path string) (nats.Option, error) {
	o := nats.UserCredentials(path)
	var check nats.Options
	if err := o(&check); err != nil {
		return nil, fmt.Errorf("read the NATS credentials %s: %w", path, err)
	}
	if _, err := check.UserJWT(); err != nil {
		return nil, fmt.Errorf("read the NATS credentials %s: %w", path, err)
	}
	if _, err := check.SignatureCB([]byte("check")); err != nil {
		return nil, fmt.Errorf("read the NATS credentials %s: %w", path, err)
	}
	return o, nil
}

// readSecret reads a one-line secret; the line's surrounding white space
// (a final newline) is not part of it.
func readSecret(path, what string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read the %s: %w", what, err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("read the %s: %s is empty", what, path)
	}
	return s, nil
}

// tls makes the client TLS configuration of CAFile, CertFile and KeyFile.
func (a Auth) tls() (nats.Option, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if a.CAFile != "" {
		pem, err := os.ReadFile(a.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read the NATS CA: %w", err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("read the NATS CA %s: no PEM certificate in it", a.CAFile)
		}
	}
	if a.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(a.CertFile, a.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("load the NATS client certificate %s: %w", a.CertFile, err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return nats.Secure(c), nil
}

// CheckURL checks a NATS URL as the client will read it: a comma list of
// servers, each [scheme://][user[:password]@]host[:port] with the scheme
// nats, tls, ws or wss (nats when absent).
func CheckURL(s string) error {
	if strings.TrimSpace(s) == "" {
		return errors.New("NATS URL is empty")
	}
	for _, one := range strings.Split(s, ",") {
		one = strings.TrimSpace(one)
		u, err := parseURL(one)
		if err != nil {
			return fmt.Errorf("NATS URL %q: %w", RedactURL(one), err)
		}
		switch u.Scheme {
		case "nats", "tls", "ws", "wss":
		default:
			return fmt.Errorf("NATS URL %q: scheme %q, want nats, tls, ws or wss", RedactURL(one), u.Scheme)
		}
		if u.Hostname() == "" {
			return fmt.Errorf("NATS URL %q: no host", RedactURL(one))
		}
		if p := u.Port(); p != "" {
			if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
				return fmt.Errorf("NATS URL %q: bad port %q", RedactURL(one), p)
			}
		}
		if u.Path != "" && u.Path != "/" && u.Scheme != "ws" && u.Scheme != "wss" {
			return fmt.Errorf("NATS URL %q: a path is for ws and wss only", RedactURL(one))
		}
	}
	return nil
}

func parseURL(s string) (*url.URL, error) {
	if !strings.Contains(s, "://") {
		s = "nats://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		// url.Error repeats the URL, credentials and all: keep its reason.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, err
	}
	return u, nil
}

// RedactURL returns a NATS URL (or comma list) without the credentials
// any of them carries, for logs and status pages.
func RedactURL(s string) string {
	parts := strings.Split(s, ",")
	for i, one := range parts {
		one = strings.TrimSpace(one)
		parts[i] = one
		scheme, rest, ok := strings.Cut(one, "://")
		if !ok {
			scheme, rest = "", one
		}
		// The user information ends at the last '@' (a password may
		// hold one, escaped or not).
		if k := strings.LastIndex(rest, "@"); k >= 0 {
			rest = rest[k+1:]
		}
		if ok {
			parts[i] = scheme + "://" + rest
		} else {
			parts[i] = rest
		}
	}
	return strings.Join(parts, ",")
}
