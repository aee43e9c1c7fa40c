package deploy_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// writeCerts writes a CA and one certificate it signs (for 127.0.0.1 and
// the compose host names) as the file names cluster.conf's tls blocks use.
func writeCerts(t *testing.T, dir string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "jetflow test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "n1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"n1", "n2", "n3"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	caCert, _ := x509.ParseCertificate(caDER)
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	write := func(name, typ string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("ca.pem", "CERTIFICATE", caDER)
	for _, n := range []string{"server", "route"} {
		write(n+".pem", "CERTIFICATE", der)
		write(n+"-key.pem", "EC PRIVATE KEY", keyDER)
	}
}

// cluster.conf offers TLS for clients, monitoring and (mutual) routes as
// commented blocks: uncommented, with certificates where they point, the
// server loads them and requires client certificates on routes.
func TestClusterTLSOption(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certs := filepath.Join(dir, "certs")
	if err := os.Mkdir(certs, 0o700); err != nil {
		t.Fatal(err)
	}
	writeCerts(t, certs)
	for _, f := range []string{"n1.conf", "cluster.conf", "accounts.conf"} {
		data, err := os.ReadFile(filepath.Join("nats", f))
		if err != nil {
			t.Fatal(err)
		}
		text := string(data)
		if f == "cluster.conf" {
			var out []string
			in := false
			for _, line := range strings.Split(text, "\n") {
				trimmed := strings.TrimSpace(line)
				switch {
				case trimmed == "# tls {":
					in = true
				case trimmed == "#   https: 0.0.0.0:8222":
					line = "https: 0.0.0.0:8222"
				case trimmed == "http: 0.0.0.0:8222":
					line = ""
				}
				if in {
					line = strings.Replace(line, "# ", "", 1)
					line = strings.ReplaceAll(line, "/etc/nats/certs", certs)
					if trimmed == "# }" {
						in = false
					}
				}
				out = append(out, line)
			}
			if strings.Count(strings.Join(out, "\n"), "cert_file: \""+certs) != 2 {
				t.Fatalf("cluster.conf does not offer the two tls blocks:\n%s", strings.Join(out, "\n"))
			}
			text = strings.Join(out, "\n")
		}
		if err := os.WriteFile(filepath.Join(dir, f), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	opts, err := server.ProcessConfigFile(filepath.Join(dir, "n1.conf"))
	if err != nil {
		t.Fatalf("cluster.conf with its tls blocks: %v", err)
	}
	if opts.TLSConfig == nil || opts.HTTPSPort == 0 || opts.HTTPPort != 0 {
		t.Errorf("client TLS %v, https port %d, http port %d", opts.TLSConfig != nil, opts.HTTPSPort, opts.HTTPPort)
	}
	if opts.Cluster.TLSConfig == nil || opts.Cluster.TLSConfig.ClientAuth != tls.RequireAndVerifyClientCert {
		t.Errorf("routes: %+v", opts.Cluster.TLSConfig)
	}
}
