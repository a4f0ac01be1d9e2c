package fleet_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/weblogd/weblogd/fleet"
	"github.com/weblogd/weblogd/fleet/fleettest"
	"github.com/weblogd/weblogd/record"
)

// runNATSWith starts a NATS server with JetStream on loopback, a random
// port and a store of its own, with o's authentication or TLS settings.
func runNATSWith(tb testing.TB, o *server.Options) *server.Server {
	tb.Helper()
	return fleettest.Run(tb, o)
}

// writeFile writes b to a new file named name in dir and returns its path.
func writeFile(tb testing.TB, dir, name string, b []byte) string {
	tb.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

// ca is a certificate authority for tests.
type ca struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	file string // its PEM certificate
}

func newCA(tb testing.TB, dir, name string) *ca {
	tb.Helper()
	c := &ca{}
	c.cert, c.key = makeCert(tb, &x509.Certificate{
		Subject: pkix.Name{CommonName: name}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}, nil)
	c.file = writeFile(tb, dir, name+".crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.cert.Raw}))
	return c
}

// issue writes a certificate signed by c, for a server (127.0.0.1 and
// localhost) or a client, and its key; it returns their paths.
func (c *ca) issue(tb testing.TB, dir, name string, usage x509.ExtKeyUsage) (certFile, keyFile string) {
	tb.Helper()
	tmpl := &x509.Certificate{Subject: pkix.Name{CommonName: name}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{usage}}
	if usage == x509.ExtKeyUsageServerAuth {
		tmpl.DNSNames, tmpl.IPAddresses = []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	cert, key := makeCert(tb, tmpl, c)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	return writeFile(tb, dir, name+".crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})),
		writeFile(tb, dir, name+".key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// makeCert signs tmpl with parent (itself when nil).
func makeCert(tb testing.TB, tmpl *x509.Certificate, parent *ca) (*x509.Certificate, *ecdsa.PrivateKey) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl.SerialNumber, _ = rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	signer, signKey := tmpl, key
	if parent != nil {
		signer, signKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signKey)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return cert, key
}

// userSeed writes a new user nkey seed to dir/name and returns the path
// and the public key.
func userSeed(tb testing.TB, dir, name string) (string, string) {
	tb.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		tb.Fatal(err)
	}
	seed, _ := kp.Seed()
	pub, _ := kp.PublicKey()
	return writeFile(tb, dir, name, append(seed, '\n')), pub
}

// operatorMode starts a NATS server in operator mode (accounts and users
// as JWTs, as nsc sets them up) with one account that may use JetStream,
// and writes a credentials file for a user of it, and one for a user of
// an account the server does not know.
func operatorMode(tb testing.TB, dir string) (s *server.Server, creds, stranger string) {
	tb.Helper()
	must := func(err error) {
		if err != nil {
			tb.Helper()
			tb.Fatal(err)
		}
	}
	okp, err := nkeys.CreateOperator()
	must(err)
	opub, _ := okp.PublicKey()
	oc := jwt.NewOperatorClaims(opub)
	ojwt, err := oc.Encode(okp)
	must(err)
	oc, err = jwt.DecodeOperatorClaims(ojwt)
	must(err)

	account := func(name string, js bool) (nkeys.KeyPair, string, string) {
		akp, err := nkeys.CreateAccount()
		must(err)
		apub, _ := akp.PublicKey()
		ac := jwt.NewAccountClaims(apub)
		ac.Name = name
		if js {
			ac.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1}
		}
		ajwt, err := ac.Encode(okp)
		must(err)
		return akp, apub, ajwt
	}
	userCreds := func(akp nkeys.KeyPair, name string) string {
		ukp, err := nkeys.CreateUser()
		must(err)
		upub, _ := ukp.PublicKey()
		useed, _ := ukp.Seed()
		uc := jwt.NewUserClaims(upub)
		uc.Name = name
		ujwt, err := uc.Encode(akp)
		must(err)
		b, err := jwt.FormatUserConfig(ujwt, useed)
		must(err)
		return writeFile(tb, dir, name+".creds", b)
	}
	_, syspub, sysjwt := account("SYS", false)
	akp, apub, ajwt := account("WEBLOGD", true)
	strangerKP, _, _ := account("STRANGER", true) // never given to the server

	resolver := &server.MemAccResolver{}
	must(resolver.Store(syspub, sysjwt))
	must(resolver.Store(apub, ajwt))
	s = runNATSWith(tb, &server.Options{TrustedOperators: []*jwt.OperatorClaims{oc}, AccountResolver: resolver, SystemAccount: syspub})
	return s, userCreds(akp, "weblogd"), userCreds(strangerKP, "stranger")
}

// TestAuthKinds: each way of authenticating (and TLS with a CA of our
// own and client certificates) gets records from a publisher to an edge
// through a server that requires it; a wrong credential leaves both
// unconnected, retrying, with the server's refusal as the reason.
func TestAuthKinds(t *testing.T) {
	dir := t.TempDir()
	type kind struct {
		name   string
		server *server.Server
		good   fleet.Auth
		bad    fleet.Auth
		why    string // a regular expression the reason with bad matches
	}
	var kinds []kind

	tokenFile := writeFile(t, dir, "token", []byte("s3cret-token\n"))
	wrongToken := writeFile(t, dir, "wrong-token", []byte("guess\n"))
	kinds = append(kinds, kind{"token", runNATSWith(t, &server.Options{Authorization: "s3cret-token"}),
		fleet.Auth{TokenFile: tokenFile}, fleet.Auth{TokenFile: wrongToken}, "Authorization Violation"})

	pwFile := writeFile(t, dir, "password", []byte("pa55word\n"))
	kinds = append(kinds, kind{"user and password", runNATSWith(t, &server.Options{Username: "weblogd", Password: "pa55word"}),
		fleet.Auth{User: "weblogd", PasswordFile: pwFile}, fleet.Auth{User: "weblogd", PasswordFile: wrongToken}, "Authorization Violation"})

	seed, pub := userSeed(t, dir, "user.nk")
	otherSeed, _ := userSeed(t, dir, "other.nk")
	kinds = append(kinds, kind{"nkey", runNATSWith(t, &server.Options{Nkeys: []*server.NkeyUser{{Nkey: pub}}}),
		fleet.Auth{NKeyFile: seed}, fleet.Auth{NKeyFile: otherSeed}, "Authorization Violation"})

	s, creds, stranger := operatorMode(t, dir)
	kinds = append(kinds, kind{"credentials (operator mode)", s,
		fleet.Auth{CredsFile: creds}, fleet.Auth{CredsFile: stranger}, "Authorization Violation"})

	authority := newCA(t, dir, "test-ca")
	srvCert, srvKey := authority.issue(t, dir, "nats-server", x509.ExtKeyUsageServerAuth)
	cliCert, cliKey := authority.issue(t, dir, "weblogd-client", x509.ExtKeyUsageClientAuth)
	other := newCA(t, dir, "other-ca")
	otherCert, otherKey := other.issue(t, dir, "other-client", x509.ExtKeyUsageClientAuth)
	tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: srvCert, KeyFile: srvKey, CaFile: authority.file, Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	kinds = append(kinds, kind{"TLS with client certificates", runNATSWith(t, &server.Options{TLS: true, TLSVerify: true, TLSConfig: tc, TLSTimeout: 2}),
		fleet.Auth{CAFile: authority.file, CertFile: cliCert, KeyFile: cliKey},
		// The client has no certificate the server's CA signed: it sends
		// none. Which error the client sees first depends on timing: the
		// server's alert, or its closing of the connection.
		fleet.Auth{CAFile: authority.file, CertFile: otherCert, KeyFile: otherKey},
		"tls: certificate required|connection closed by remote after TLS handshake"})
	kinds = append(kinds, kind{"TLS with a CA that is not the server's", runNATSWith(t, &server.Options{TLS: true, TLSVerify: true, TLSConfig: tc.Clone(), TLSTimeout: 2}),
		fleet.Auth{CAFile: authority.file, CertFile: cliCert, KeyFile: cliKey},
		fleet.Auth{CAFile: other.file, CertFile: cliCert, KeyFile: cliKey}, "certificate signed by unknown authority"})

	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			url := k.server.ClientURL()
			good, err := k.good.Options()
			if err != nil {
				t.Fatalf("Options()=%v", err)
			}
			p, err := fleet.NewPublisher(fleet.PublisherConfig{URL: url, Node: "web-1", Options: append(good, fastReconnect...)})
			if err != nil {
				t.Fatal(err)
			}
			run(t, p.Run)
			var c collector
			e, err := fleet.NewEdge(fleet.EdgeConfig{URL: url, Node: "edge", Options: append(good, fastReconnect...)}, c.handle)
			if err != nil {
				t.Fatal(err)
			}
			run(t, e.Run)
			publishRange(p, 1, 20)
			waitFor(t, 10*time.Second, "the records at the edge", func() bool { return c.len() >= 20 })
			checkOnceInOrder(t, c.all(), 20, "web-1")
			if why := e.NotReady(); why != "" {
				t.Errorf("NotReady()=%q, want empty", why)
			}

			bad, err := k.bad.Options()
			if err != nil {
				t.Fatalf("Options()=%v", err)
			}
			var logs logBuffer
			bp, err := fleet.NewPublisher(fleet.PublisherConfig{URL: url, Node: "web-2", Options: append(bad, fastReconnect...), Logger: logs.logger()})
			if err != nil {
				t.Fatal(err)
			}
			run(t, bp.Run)
			be, err := fleet.NewEdge(fleet.EdgeConfig{URL: url, Node: "edge-2", Options: append(bad, fastReconnect...), Logger: logs.logger()}, func(r *record.Record) {})
			if err != nil {
				t.Fatal(err)
			}
			run(t, be.Run)
			bp.Publish(makeRecord("web-2.log", 1))
			refusal := regexp.MustCompile(k.why)
			waitFor(t, 10*time.Second, "the refusal as the edge's reason", func() bool { return refusal.MatchString(be.NotReady()) })
			why := be.NotReady()
			if !strings.HasPrefix(why, "nats: not connected to "+url) || strings.Contains(why, "\n") {
				t.Errorf("NotReady()=%q, want one line: nats: not connected to %s: ...%s...", why, url, k.why)
			}
			waitFor(t, 10*time.Second, "the refusal in the publisher's stats", func() bool { return refusal.MatchString(bp.Stats().LastError) })
			time.Sleep(300 * time.Millisecond) // a few more attempts
			if st := bp.Stats(); st.Connected || st.Pending != 1 {
				t.Errorf("publisher with a wrong credential: Stats()=%+v, want not connected, the record waiting", st)
			}
			// Logged, but not at every attempt: once at Warn, then at Debug.
			if n := strings.Count(logs.String(), "level=WARN msg=\"cannot connect to NATS; retrying\""); n < 1 || n > 4 {
				t.Errorf("the refusal is logged %d times at Warn, want once per client (and perhaps a variant):\n%s", n, logs.String())
			}
		})
	}
}

// TestAuthOptionsRefuse: Options says what is wrong before anything
// connects: files that are missing, empty or not what they should be,
// and settings that do not go together.
func TestAuthOptionsRefuse(t *testing.T) {
	dir := t.TempDir()
	empty := writeFile(t, dir, "empty", nil)
	notASeed := writeFile(t, dir, "not-a-seed", []byte("hello\n"))
	notPEM := writeFile(t, dir, "not-pem", []byte("hello\n"))
	token := writeFile(t, dir, "token", []byte("t\n"))
	missing := filepath.Join(dir, "missing")
	for _, tc := range []struct {
		name string
		a    fleet.Auth
		want string
	}{
		{"missing token file", fleet.Auth{TokenFile: missing}, "read the NATS token"},
		{"empty token file", fleet.Auth{TokenFile: empty}, "is empty"},
		{"missing password file", fleet.Auth{User: "u", PasswordFile: missing}, "read the NATS password"},
		{"user without password", fleet.Auth{User: "u"}, "needs a password file"},
		{"password without user", fleet.Auth{PasswordFile: token}, "needs a password file"},
		{"two ways", fleet.Auth{TokenFile: token, User: "u", PasswordFile: token}, "more than one way"},
		{"missing nkey seed", fleet.Auth{NKeyFile: missing}, "read the NATS nkey seed"},
		{"not an nkey seed", fleet.Auth{NKeyFile: notASeed}, "read the NATS nkey seed"},
		{"missing credentials", fleet.Auth{CredsFile: missing}, "read the NATS credentials"},
		{"not credentials", fleet.Auth{CredsFile: notASeed}, "read the NATS credentials"},
		{"missing CA", fleet.Auth{CAFile: missing}, "read the NATS CA"},
		{"CA without a certificate", fleet.Auth{CAFile: notPEM}, "no PEM certificate"},
		{"certificate without key", fleet.Auth{CertFile: notPEM}, "needs its key file"},
		{"bad client certificate", fleet.Auth{CertFile: notPEM, KeyFile: notPEM}, "load the NATS client certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.a.Options()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Options()=%v, want an error with %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "t\n") {
				t.Errorf("the error shows a secret: %v", err)
			}
		})
	}
}

// TestCheckURL: malformed URLs are refused before anything starts, and
// never repeat a password.
func TestCheckURL(t *testing.T) {
	for _, u := range []string{"nats://127.0.0.1:4222", "127.0.0.1", "nats://a:4222, nats://b:4222", "tls://nats.example.com:4443",
		"nats://user:pw@host:4222", "wss://host/nats", "nats://[::1]:4222"} {
		if err := fleet.CheckURL(u); err != nil {
			t.Errorf("CheckURL(%q)=%v, want nil", u, err)
		}
	}
	for _, u := range []string{"", "http://host:4222", "nats://:4222", "nats://host:port", "nats://host:99999",
		"nats://user:secret@host:x", "nats://host:4222,", "nats://host:4222/path", "nats://ho st:4222"} {
		err := fleet.CheckURL(u)
		if err == nil {
			t.Errorf("CheckURL(%q)=nil, want an error", u)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("CheckURL(%q)=%v shows the password", u, err)
		}
	}
	if got := fleet.RedactURL("nats://u:p@a:4222, tls://b:4443,c:1"); got != "nats://a:4222,tls://b:4443,c:1" {
		t.Errorf("RedactURL()=%q", got)
	}
}
