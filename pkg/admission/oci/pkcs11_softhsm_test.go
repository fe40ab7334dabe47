//go:build pkcs11 && cgo

package oci_test

import (
	"context"
	"strings"
	"testing"

	"github.com/modelverify/modelverify/internal/testutil/kube"
	"github.com/modelverify/modelverify/internal/testutil/registry"
	"github.com/modelverify/modelverify/internal/testutil/softhsm"
	"github.com/modelverify/modelverify/pkg/admission"
	"github.com/modelverify/modelverify/pkg/sign"
	"github.com/modelverify/modelverify/pkg/sign/pkcs11"
)

// An authority whose key is in a PKCS#11 token (key: {pkcs11: URI}) admits
// what the token's key signed and scanned, and denies a model signed by
// another key; the public key is read from the token when the policy
// compiles.
func TestPKCS11TokenKeyAuthority(t *testing.T) {
	uri := softhsm.Token(t)
	key, closeToken, err := pkcs11.Open(uri)
	if err != nil {
		t.Fatal(err)
	}
	defer closeToken()
	s, err := sign.NewCryptoSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	token := &kube.Signer{Signer: s}
	dir := t.TempDir()
	other := kube.NewSigner(t, dir, "other")
	host := registry.NewInProcess(t, true)
	files := func(name string) map[string][]byte {
		return map[string][]byte{"model.pkl": kube.BenignPickle, "config.json": []byte(`{"name":"` + name + `"}`)}
	}
	good := kube.Publish(t, host, "models/good", "v1", kube.Model{Files: files("good"), SignedBy: token, ScanBy: token})
	foreign := kube.Publish(t, host, "models/foreign", "v1", kube.Model{Files: files("foreign"), SignedBy: other, ScanBy: other})
	policy := strings.Replace(kube.PolicyYAML(host, "enforce", "KEY"), "{path: KEY}", `{pkcs11: "`+uri+`"}`, 1)
	p := compile(t, writePolicy(t, dir, policy), admission.Options{})
	for ref, want := range map[string]admission.Outcome{
		host + "/models/good@" + good:       admission.Admitted,
		host + "/models/foreign@" + foreign: admission.Denied,
	} {
		d := p.Evaluate(context.Background(), []admission.Model{{Ref: ref}}, admission.EvalOptions{})
		if m := d.Models[0]; m.Outcome != want {
			t.Errorf("%s: %s (%s), want %s", ref, m.Outcome, m.Reason, want)
		}
	}
}
