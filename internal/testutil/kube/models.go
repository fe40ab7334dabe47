package kube

import (
	"bytes"
	"context"
	"crypto/elliptic"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/modelverify/modelverify/pkg/manifest"
	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/all"
	"github.com/modelverify/modelverify/pkg/scan/attest"
	"github.com/modelverify/modelverify/pkg/sign"
)

// Model files for admission tests. BenignPickle is {'a': 1} pickled with
// protocol 2; DangerousPickle calls os.system when unpickled (protocol 0).
var (
	BenignPickle    = []byte("\x80\x02}q\x00X\x01\x00\x00\x00aq\x01K\x01s.")
	DangerousPickle = []byte("cposix\nsystem\n(S'echo pwned'\ntR.")
)

// Signer is an ECDSA P-256 signing key with its public key written to
// PubPath.
type Signer struct {
	Signer  *sign.Signer
	PubPath string
}

// NewSigner makes a key pair and writes the public key to dir/name.pub.
func NewSigner(t testing.TB, dir, name string) *Signer {
	t.Helper()
	priv, err := sign.GenerateKey(elliptic.P256())
	if err != nil {
		t.Fatal(err)
	}
	s, err := sign.NewKeySigner(priv)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := sign.MarshalPublicKeyPEM(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name+".pub")
	if err := os.WriteFile(path, pub, 0o600); err != nil {
		t.Fatal(err)
	}
	return &Signer{Signer: s, PubPath: path}
}

// Model says how to publish a test model.
type Model struct {
	Files    map[string][]byte
	SignedBy *Signer // nil: unsigned
	ScanBy   *Signer // nil: no scan attestation
}

// Publish pushes m to oci://host/repo:tag over plain HTTP, signs it and
// attests a real scan of its files as m asks, and returns the manifest
// digest.
func Publish(t testing.TB, host, repo, tag string, m Model) string {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	names := make([]string, 0, len(m.Files))
	for name, b := range m.Files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	sort.Strings(names)
	ref, err := manifest.ParseRef("oci://" + host + "/" + repo + ":" + tag)
	if err != nil {
		t.Fatal(err)
	}
	target, err := manifest.Open(ctx, ref, manifest.RegistryOptions{PlainHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	desc, err := manifest.Push(ctx, dir, target, ref, manifest.PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if m.SignedBy != nil {
		if _, _, err := sign.SignOCI(ctx, m.SignedBy.Signer, target, desc, host+"/"+repo); err != nil {
			t.Fatal(err)
		}
	}
	if m.ScanBy != nil {
		sc := scan.MustNew(scan.Options{Formats: all.Formats()})
		var targets []scan.Target
		for _, name := range names {
			targets = append(targets, sc.ScanFile(ctx, filepath.Join(dir, name), name))
		}
		rep := scan.NewReport(scan.Tool{Name: "modelverify", Version: "test"}, targets)
		if _, err := sign.AttestOCI(ctx, m.ScanBy.Signer, target, desc, attest.New(host+"/"+repo, desc.Digest.Encoded(), rep), attest.PredicateType); err != nil {
			t.Fatal(err)
		}
	}
	return desc.Digest.String()
}

// PolicyYAML is a policy that allows HOST/system/**, and requires for
// HOST/models/** a signature and a scan (nothing above medium) by one of
// the keys at pubPaths.
func PolicyYAML(host, mode string, pubPaths ...string) string {
	text := `apiVersion: modelverify.dev/v1alpha1
kind: ModelPolicy
metadata: {name: test}
spec:
  mode: ` + mode + `
  noMatch: deny
  rules:
    - name: system
      match: ["` + host + `/system/**"]
      action: allow
    - name: models
      match: ["` + host + `/models/**"]
      authorities:
`
	for i, p := range pubPaths {
		text += "        - {name: signer" + string(rune('a'+i)) + ", key: {path: " + p + "}}\n"
	}
	return text + "      scan: {required: true, maxSeverity: medium}\n"
}

// Forge does what an attacker who can push to HOST/REPO does with the signed
// model at digest: it pushes a manifest with the same layers but its own
// config blob and annotations, and copies every Sigstore bundle referrer of
// the original (signatures and scan attestations) onto it. It returns the
// forged manifest's digest.
func Forge(t testing.TB, host, repo, digest string) string {
	t.Helper()
	ctx := context.Background()
	ref, err := manifest.ParseRef("oci://" + host + "/" + repo + "@" + digest)
	if err != nil {
		t.Fatal(err)
	}
	target, err := manifest.Open(ctx, ref, manifest.RegistryOptions{PlainHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	desc, err := target.Resolve(ctx, digest)
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.FetchManifest(ctx, target, desc)
	if err != nil {
		t.Fatal(err)
	}
	config := []byte(`{"descriptor":{"name":"forged"},"config":{"entrypoint":"evil"}}`)
	m.Config = content.NewDescriptorFromBytes(m.Config.MediaType, config)
	if err := target.Push(ctx, m.Config, bytes.NewReader(config)); err != nil {
		t.Fatal(err)
	}
	if m.Annotations == nil {
		m.Annotations = map[string]string{}
	}
	m.Annotations["org.example.loader"] = "trust_remote_code"
	mb, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	forged := content.NewDescriptorFromBytes(desc.MediaType, mb)
	if err := target.Push(ctx, forged, bytes.NewReader(mb)); err != nil {
		t.Fatal(err)
	}
	refs, err := manifest.Referrers(ctx, target, desc, sign.BundleMediaType)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range refs {
		rb, err := content.FetchAll(ctx, target, r)
		if err != nil {
			t.Fatal(err)
		}
		var rm ocispec.Manifest
		if err := json.Unmarshal(rb, &rm); err != nil {
			t.Fatal(err)
		}
		b, err := content.FetchAll(ctx, target, rm.Layers[0])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sign.PushBundle(ctx, target, forged, b, rm.Annotations[sign.AnnotationPredicateType]); err != nil {
			t.Fatal(err)
		}
	}
	return forged.Digest.String()
}
