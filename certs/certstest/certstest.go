// Package certstest writes self-signed certificates for tests: an ECDSA
// P-256 key and a certificate for localhost, 127.0.0.1 and ::1, valid for
// a day, as PEM files a server loads like any other.
package certstest

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
	"testing"
	"time"
)

// Cert is a written certificate.
type Cert struct {
	CertFile, KeyFile string
	// Cert is the parsed certificate, to compare with what a server
	// presents.
	Cert *x509.Certificate
	// Pool trusts exactly this certificate.
	Pool *x509.CertPool
}

// Write makes a new key and certificate named name and writes them to
// dir/name.crt and dir/name.key (replacing what is there, each file in one
// rename, the way a renewal tool does).
func Write(t testing.TB, dir, name string) Cert {
	t.Helper()
	certPEM, keyPEM, cert := Generate(t, name)
	c := Cert{CertFile: filepath.Join(dir, name+".crt"), KeyFile: filepath.Join(dir, name+".key"), Cert: cert, Pool: x509.NewCertPool()}
	c.Pool.AddCert(cert)
	WriteFile(t, c.CertFile, certPEM)
	WriteFile(t, c.KeyFile, keyPEM)
	return c
}

// Generate returns a new self-signed certificate whose subject is cn, and
// its key, PEM-encoded.
func Generate(t testing.TB, cn string) (certPEM, keyPEM []byte, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true, // its own root, so that a pool of it verifies it
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err = x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk}), cert
}

// WriteFile replaces path with b in one rename.
func WriteFile(t testing.TB, path string, b []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}
