package oci_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelverify/modelverify/internal/testutil/kube"
	"github.com/modelverify/modelverify/internal/testutil/registry"
	"github.com/modelverify/modelverify/pkg/admission"
	"github.com/modelverify/modelverify/pkg/sign"
)

// certSigners makes a private PKI (root -> "Model Signing CA" -> leaves) and
// a certificate signer for each email; the root goes to dir/roots.pem.
func certSigners(t *testing.T, dir string, emails ...string) (rootsPath string, signers []*kube.Signer) {
	t.Helper()
	now := time.Now()
	issue := func(tmpl, parent *x509.Certificate, pub, by any) *x509.Certificate {
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, by)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rootT := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Example Root"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	root := issue(rootT, rootT, &rootKey.PublicKey, rootKey)
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := issue(&x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "Model Signing CA", Organization: []string{"Example"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign},
		root, &caKey.PublicKey, rootKey)
	for i, email := range emails {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		leaf := issue(&x509.Certificate{SerialNumber: big.NewInt(int64(10 + i)), Subject: pkix.Name{CommonName: email},
			EmailAddresses: []string{email}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}},
			ca, &key.PublicKey, caKey)
		s, err := sign.NewCertificateSigner(key, leaf, []*x509.Certificate{ca})
		if err != nil {
			t.Fatal(err)
		}
		signers = append(signers, &kube.Signer{Signer: s})
	}
	rootsPath = filepath.Join(dir, "roots.pem")
	if err := os.WriteFile(rootsPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return rootsPath, signers
}

func TestCertificateIdentitiesInAPolicy(t *testing.T) {
	host := registry.NewInProcess(t, true)
	dir := t.TempDir()
	roots, s := certSigners(t, dir, "release@example.com", "intern@example.com")
	release, intern := s[0], s[1]
	files := func(name string) map[string][]byte {
		return map[string][]byte{"model.pkl": kube.BenignPickle, "config.json": []byte(`{"name":"` + name + `"}`)}
	}
	byRelease := kube.Publish(t, host, "models/release", "v1", kube.Model{Files: files("release"), SignedBy: release, ScanBy: release})
	byIntern := kube.Publish(t, host, "models/intern", "v1", kube.Model{Files: files("intern"), SignedBy: intern, ScanBy: intern})
	policy := func(identities string) string {
		return `apiVersion: modelverify.dev/v1alpha1
kind: ModelPolicy
metadata: {name: test}
spec:
  rules:
    - name: models
      match: ["` + host + `/models/**"]
      authorities:
        - name: pki
          certificate:
            roots: {path: ` + roots + `}
` + identities + `      scan: {required: true}
`
	}
	for _, tc := range []struct {
		name, identities string
		release, intern  admission.Outcome
		reasonForDenial  string
	}{
		{"the roots alone trust every certificate they issued", "", admission.Admitted, admission.Admitted, ""},
		{"an identity admits only its signer", `            identities: [{subject: release@example.com, issuer: "CN=Model Signing CA,O=Example"}]
`, admission.Admitted, admission.Denied, "certificate identity"},
		{"regexps", `            identities: [{subjectRegExp: "^(release|intern)@example\\.com$", issuerRegExp: "^CN=Model Signing CA,"}]
`, admission.Admitted, admission.Admitted, ""},
		{"the issuer counts too", `            identities: [{subject: release@example.com, issuer: "CN=Example Root"}]
`, admission.Denied, admission.Denied, "certificate identity"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := compile(t, writePolicy(t, t.TempDir(), policy(tc.identities)), admission.Options{})
			for ref, want := range map[string]admission.Outcome{
				host + "/models/release@" + byRelease: tc.release,
				host + "/models/intern@" + byIntern:   tc.intern,
			} {
				m := p.Evaluate(context.Background(), []admission.Model{{Ref: ref}}, admission.EvalOptions{}).Models[0]
				if m.Outcome != want {
					t.Errorf("%s: %s (%s), want %s", ref, m.Outcome, m.Reason, want)
				}
				if want == admission.Denied && !strings.Contains(m.Reason, tc.reasonForDenial) {
					t.Errorf("%s: reason %q does not say %q", ref, m.Reason, tc.reasonForDenial)
				}
			}
		})
	}
}
