package oci_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/modelverify/modelverify/internal/testutil/kube"
	"github.com/modelverify/modelverify/internal/testutil/localkms"
	"github.com/modelverify/modelverify/internal/testutil/registry"
	"github.com/modelverify/modelverify/pkg/admission"
	"github.com/modelverify/modelverify/pkg/admission/oci"
	"github.com/modelverify/modelverify/pkg/manifest"
	"github.com/modelverify/modelverify/pkg/sign"
	"github.com/modelverify/modelverify/pkg/sign/kms"
)

// kmsSigner signs with the key uri names.
func kmsSigner(t *testing.T, uri string) *kube.Signer {
	t.Helper()
	priv, err := kms.Open(context.Background(), uri)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sign.NewCryptoSigner(priv)
	if err != nil {
		t.Fatal(err)
	}
	return &kube.Signer{Signer: s}
}

// kmsPolicy is kube.PolicyYAML with one authority whose key is uri.
func kmsPolicy(host, uri string) string {
	return strings.Replace(kube.PolicyYAML(host, "enforce", "KEY"), "{path: KEY}", `{kms: "`+uri+`"}`, 1)
}

// An authority named by a KMS key admits the models that key signed (and
// scanned) and denies the others; its public key is fetched at compile
// time, so a policy compiled after the alias moves (what a reload does)
// trusts the alias's new key.
func TestKMSKeyAuthority(t *testing.T) {
	srv := localkms.Start(t)
	release := srv.CreateKey(t, "release", types.KeySpecEccNistP256)
	next := srv.CreateKey(t, "next", types.KeySpecEccNistP256)
	host := registry.NewInProcess(t, true)
	files := func(name string) map[string][]byte {
		return map[string][]byte{"model.pkl": kube.BenignPickle, "config.json": []byte(`{"name":"` + name + `"}`)}
	}
	byRelease := kmsSigner(t, release.IDURI)
	byNext := kmsSigner(t, next.IDURI)
	old := kube.Publish(t, host, "models/old", "v1", kube.Model{Files: files("old"), SignedBy: byRelease, ScanBy: byRelease})
	fresh := kube.Publish(t, host, "models/new", "v1", kube.Model{Files: files("new"), SignedBy: byNext, ScanBy: byNext})
	dir := t.TempDir()
	policy := writePolicy(t, dir, kmsPolicy(host, "awskms:///alias/release"))

	check := func(p *admission.Policy, ref string, want admission.Outcome) {
		t.Helper()
		d := p.Evaluate(context.Background(), []admission.Model{{Ref: ref}}, admission.EvalOptions{})
		if m := d.Models[0]; m.Outcome != want {
			t.Errorf("%s: %s (%s), want %s", ref, m.Outcome, m.Reason, want)
		}
	}
	p := compile(t, policy, admission.Options{})
	check(p, host+"/models/old@"+old, admission.Admitted)
	check(p, host+"/models/new@"+fresh, admission.Denied)

	srv.PointAlias(t, "alias/release", next.ID)
	check(p, host+"/models/old@"+old, admission.Admitted) // compiled before the move
	p = compile(t, policy, admission.Options{})
	check(p, host+"/models/old@"+old, admission.Denied)
	check(p, host+"/models/new@"+fresh, admission.Admitted)
}

// A KMS key that is malformed, missing or not an ECDSA key makes the policy
// fail to compile, naming the rule and the authority.
func TestKMSKeyAuthorityErrors(t *testing.T) {
	srv := localkms.Start(t)
	srv.CreateKey(t, "rsa", types.KeySpecRsa2048)
	for _, tt := range []struct{ uri, want string }{
		{"awskms:///not-a-key", "invalid key URI"},
		{"awskms:///alias/missing", "alias/missing"},
		{"awskms:///alias/rsa", "only ECDSA keys"},
	} {
		t.Run(tt.uri, func(t *testing.T) {
			doc, err := admission.LoadPolicy(writePolicy(t, t.TempDir(), kmsPolicy("registry.test", tt.uri)))
			if err != nil {
				t.Fatal(err)
			}
			_, err = oci.New(oci.Options{Registry: manifest.RegistryOptions{PlainHTTP: true}}).Compile(doc, admission.Options{})
			if !errors.Is(err, admission.ErrPolicy) || !strings.Contains(err.Error(), `authority "signera"`) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want ErrPolicy naming the authority and %q", err, tt.want)
			}
		})
	}
}

// The webhook fetches a KMS key's public key when it starts and again when
// the policy reloads: a policy rewritten to name another key takes effect,
// and one whose key cannot be fetched is refused while the previous policy
// stays in force.
func TestKMSKeyWebhookReload(t *testing.T) {
	srv := localkms.Start(t)
	release := srv.CreateKey(t, "release", types.KeySpecEccNistP256)
	next := srv.CreateKey(t, "next", types.KeySpecEccNistP256)
	host := registry.NewInProcess(t, true)
	byRelease, byNext := kmsSigner(t, release.IDURI), kmsSigner(t, next.IDURI)
	old := kube.Publish(t, host, "models/old", "v1", kube.Model{Files: map[string][]byte{"m.pkl": kube.BenignPickle, "a": []byte("a")}, SignedBy: byRelease, ScanBy: byRelease})
	fresh := kube.Publish(t, host, "models/new", "v1", kube.Model{Files: map[string][]byte{"m.pkl": kube.BenignPickle, "b": []byte("b")}, SignedBy: byNext, ScanBy: byNext})
	dir := t.TempDir()
	policyFile := writePolicy(t, dir, kmsPolicy(host, release.AliasURI))
	ca := kube.NewCA(t)
	cert, key := ca.ServingFiles(t, dir, "w")
	wh := startWebhook(t, policyFile, cert, key)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: ca.ClientTLS()}, Timeout: 10 * time.Second}

	allowed := func(image string) bool { return podAllowed(t, client, wh.addr, image) }
	metric := func(line string) bool {
		t.Helper()
		resp, err := client.Get("https://" + wh.addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(raw), line)
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting until %s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	oldImage, freshImage := host+"/models/old@"+old, host+"/models/new@"+fresh
	if !allowed(oldImage) || allowed(freshImage) {
		t.Fatal("at start: want the model signed by alias/release admitted and the other denied")
	}

	copyFile(t, writePolicy(t, t.TempDir(), kmsPolicy(host, next.AliasURI)), policyFile)
	waitFor("the model signed by the old key is denied", func() bool { return !allowed(oldImage) })
	if !allowed(freshImage) {
		t.Error("after the reload, the model signed by alias/next is denied")
	}

	copyFile(t, writePolicy(t, t.TempDir(), kmsPolicy(host, "awskms:///alias/missing")), policyFile)
	waitFor("the failed reload is counted", func() bool {
		return metric(`modelverify_admission_reloads_total{result="error",what="policy"} 1`)
	})
	if !allowed(freshImage) || allowed(oldImage) {
		t.Error("after a failed reload, the previous policy is not the one in force")
	}
}
