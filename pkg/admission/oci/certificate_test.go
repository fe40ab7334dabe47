package oci_test

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelverify/modelverify/internal/testutil/kube"
	"github.com/modelverify/modelverify/internal/testutil/pki"
	"github.com/modelverify/modelverify/internal/testutil/registry"
	"github.com/modelverify/modelverify/pkg/admission"
	"github.com/modelverify/modelverify/pkg/sign"
)

// certSigners makes a private PKI (root -> "Model Signing CA" -> leaves) and
// a certificate signer for each email; the root goes to dir/roots.pem.
func certSigners(t *testing.T, dir string, emails ...string) (rootsPath string, signers []*kube.Signer) {
	t.Helper()
	ca := pki.NewCA(t, pkix.Name{CommonName: "Example Root"}, pkix.Name{CommonName: "Model Signing CA", Organization: []string{"Example"}})
	for _, email := range emails {
		leaf, key := ca.Issue(t, pki.Leaf{Subject: pkix.Name{CommonName: email}, Emails: []string{email}})
		s, err := sign.NewCertificateSigner(key, leaf, []*x509.Certificate{ca.Intermediate})
		if err != nil {
			t.Fatal(err)
		}
		signers = append(signers, &kube.Signer{Signer: s})
	}
	rootsPath = filepath.Join(dir, "roots.pem")
	if err := os.WriteFile(rootsPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Root.Raw}), 0o600); err != nil {
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
