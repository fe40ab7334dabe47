package sign_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/modelverify/modelverify/internal/testutil/registry"
	"github.com/modelverify/modelverify/internal/testutil/sigstore"
	"github.com/modelverify/modelverify/pkg/manifest"
	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/attest"
	"github.com/modelverify/modelverify/pkg/sign"
)

type store struct {
	name string
	open func(t *testing.T) (manifest.Target, manifest.Ref)
}

func openTarget(t *testing.T, s string, opts manifest.RegistryOptions) (manifest.Target, manifest.Ref) {
	t.Helper()
	ref, err := manifest.ParseRef(s)
	if err != nil {
		t.Fatal(err)
	}
	target, err := manifest.Open(ctx, ref, opts)
	if err != nil {
		t.Fatal(err)
	}
	return target, ref
}

func stores() []store {
	remote := func(referrers bool) func(t *testing.T) (manifest.Target, manifest.Ref) {
		return func(t *testing.T) (manifest.Target, manifest.Ref) {
			return openTarget(t, "oci://"+registry.NewInProcess(t, referrers)+"/models/bert:v1", manifest.RegistryOptions{PlainHTTP: true})
		}
	}
	return []store{
		{"registry with the referrers API", remote(true)},
		{"registry without the referrers API (tag schema)", remote(false)},
		{"local OCI layout", func(t *testing.T) (manifest.Target, manifest.Ref) {
			return openTarget(t, "oci-layout://"+filepath.Join(t.TempDir(), "layout")+":v1", manifest.RegistryOptions{CreateLayout: true})
		}},
		{"distribution registry", func(t *testing.T) (manifest.Target, manifest.Ref) {
			return openTarget(t, "oci://"+registry.StartDistribution(t)+"/models/bert:v1", manifest.RegistryOptions{PlainHTTP: true})
		}},
	}
}

func pushModel(t *testing.T, target manifest.Target, ref manifest.Ref, files map[string]string) (dir string, desc ociDesc) {
	t.Helper()
	dir = writeTree(t, files)
	d, err := manifest.Push(ctx, dir, target, ref, manifest.PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return dir, d
}

func TestOCISignVerify(t *testing.T) {
	priv, _ := sign.GenerateKey(p256())
	s := mustSigner(sign.NewKeySigner(priv))
	v := keyVerifier(t, &priv.PublicKey)
	other, _ := sign.GenerateKey(p256())
	vOther := keyVerifier(t, &other.PublicKey)
	model := map[string]string{"config.json": "{}", "model.safetensors": "weights", "README.md": "# bert"}
	for _, st := range stores() {
		t.Run(st.name, func(t *testing.T) {
			target, ref := st.open(t)
			dir, desc := pushModel(t, target, ref, model)

			if _, err := v.VerifyOCI(ctx, target, desc); !errors.Is(err, sign.ErrNoSignature) {
				t.Fatalf("before signing: err = %v, want ErrNoSignature", err)
			}
			stmt, _, err := sign.SignOCI(ctx, s, target, desc, ref.Repository)
			if err != nil {
				t.Fatal(err)
			}
			res, err := v.VerifyOCI(ctx, target, desc)
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			if res.Digest != stmt.SubjectDigest() || res.Resources != 3 {
				t.Errorf("result %+v", res)
			}
			// Layer digests are file digests: the folder verifies with the
			// same statement.
			m, _ := sign.HashFolder(ctx, dir, sign.FolderOptions{})
			fst, _ := sign.NewStatement(m)
			if fst.SubjectDigest() != stmt.SubjectDigest() {
				t.Errorf("folder root digest %s, OCI root digest %s", fst.SubjectDigest(), stmt.SubjectDigest())
			}
			if _, err := vOther.VerifyOCI(ctx, target, desc); !errors.Is(err, sign.ErrSignature) {
				t.Errorf("another key: err = %v, want ErrSignature", err)
			}

			// A tampered model under the same tag: its manifest has its own
			// digest and no referrer.
			_, evil := pushModel(t, target, ref, map[string]string{"config.json": "{}", "model.safetensors": "evil weights", "README.md": "# bert"})
			if _, err := v.VerifyOCI(ctx, target, evil); !errors.Is(err, sign.ErrNoSignature) {
				t.Errorf("tampered model: err = %v, want ErrNoSignature", err)
			}
			// Copying the good signature onto the tampered model does not
			// help: the layers differ from the signed resources.
			good := bundlesOf(t, target, desc)[sign.PredicateTypeOMS]
			if _, err := sign.PushBundle(ctx, target, evil, good, sign.PredicateTypeOMS); err != nil {
				t.Fatal(err)
			}
			_, err = v.VerifyOCI(ctx, target, evil)
			if !errors.Is(err, sign.ErrResources) {
				t.Fatalf("tampered layer: err = %v, want ErrResources", err)
			}

			// Scan attestations ride along as referrers too.
			if _, err := v.VerifyAttestationsOCI(ctx, target, desc, attest.PredicateType); !errors.Is(err, sign.ErrNoSignature) {
				t.Errorf("no scan attestation yet: err = %v", err)
			}
			rep := scan.NewReport(scan.Tool{Name: "modelverify", Version: "test"}, []scan.Target{{Path: "model.safetensors", Verdict: scan.VerdictClean, Findings: []scan.Finding{}}})
			if _, err := attestScanOCI(ctx, s, target, desc, ref.Repository, rep); err != nil {
				t.Fatal(err)
			}
			atts, err := v.VerifyAttestationsOCI(ctx, target, desc, attest.PredicateType)
			if err != nil {
				t.Fatal(err)
			}
			if len(atts) != 1 || atts[0].Signer.Authority == "" {
				t.Fatalf("attestations %+v", atts)
			}
			p, err := attest.Parse(atts[0].Payload, desc.Digest.Encoded())
			if err != nil || p.Verdict != scan.VerdictClean || (attest.Requirement{FailOn: scan.SeverityLow}).Check(p) != nil {
				t.Errorf("scan result %+v, %v", p, err)
			}
			// The model signature still verifies with the attestation beside it.
			if _, err := v.VerifyOCI(ctx, target, desc); err != nil {
				t.Errorf("verify with a scan attestation present: %v", err)
			}
			if _, err := vOther.VerifyAttestationsOCI(ctx, target, desc, attest.PredicateType); !errors.Is(err, sign.ErrSignature) {
				t.Errorf("scan attestation by another key: err = %v", err)
			}
		})
	}
}

func TestOCIKeylessReferrer(t *testing.T) {
	vs := sigstore.New(t)
	tr, err := sign.LoadTrustedRoot(vs.TrustedRootJSON(t))
	if err != nil {
		t.Fatal(err)
	}
	target, ref := stores()[1].open(t)
	_, desc := pushModel(t, target, ref, map[string]string{"model.bin": "w"})
	m, err := manifest.FetchManifest(ctx, target, desc)
	if err != nil {
		t.Fatal(err)
	}
	om, _ := sign.OCIManifest(ref.Repository, m)
	st, _ := sign.NewStatement(om)
	payload, _ := json.Marshal(st)
	if _, err := sign.PushBundle(ctx, target, desc, vs.Bundle(t, "ci@example.com", "https://issuer.example", payload), sign.PredicateTypeOMS); err != nil {
		t.Fatal(err)
	}
	bst, _ := sign.NewManifestStatement(desc)
	payload, _ = json.Marshal(bst)
	if _, err := sign.PushBundle(ctx, target, desc, vs.Bundle(t, "ci@example.com", "https://issuer.example", payload), sign.PredicateTypeManifest); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		id sign.Identity
		ok bool
	}{
		{sign.Identity{Subject: "ci@example.com", Issuer: "https://issuer.example"}, true},
		{sign.Identity{Subject: "other@example.com", Issuer: "https://issuer.example"}, false},
		{sign.Identity{Subject: "ci@example.com", Issuer: "https://other.example"}, false},
	} {
		a, _ := sign.KeylessAuthority(tr, tc.id)
		v, _ := sign.NewVerifier(a)
		_, err := v.VerifyOCI(ctx, target, desc)
		if tc.ok != (err == nil) || (!tc.ok && !errors.Is(err, sign.ErrSignature)) {
			t.Errorf("%v: err = %v", tc.id, err)
		}
	}
}

// bundlesOf returns every bundle among the referrers of desc, with the
// predicate type its referrer manifest announces.
func bundlesOf(t *testing.T, target manifest.Target, desc ociDesc) map[string][]byte {
	t.Helper()
	refs, err := manifest.Referrers(ctx, target, desc, sign.BundleMediaType)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, r := range refs {
		var m struct {
			Layers      []ociDesc         `json:"layers"`
			Annotations map[string]string `json:"annotations"`
		}
		if err := json.Unmarshal(fetch(t, target, r), &m); err != nil {
			t.Fatal(err)
		}
		out[m.Annotations[sign.AnnotationPredicateType]] = fetch(t, target, m.Layers[0])
	}
	return out
}

// pushVariant pushes a manifest with the layers of desc but other
// annotations and, with config, another config blob: what an attacker who
// can push to the repository makes of a signed model.
func pushVariant(t *testing.T, target manifest.Target, desc ociDesc, config []byte) ociDesc {
	t.Helper()
	m, err := manifest.FetchManifest(ctx, target, desc)
	if err != nil {
		t.Fatal(err)
	}
	if m.Annotations == nil {
		m.Annotations = map[string]string{}
	}
	m.Annotations["org.example.injected"] = "yes"
	if config != nil {
		cd := content.NewDescriptorFromBytes(m.Config.MediaType, config)
		if err := target.Push(ctx, cd, bytes.NewReader(config)); err != nil {
			t.Fatal(err)
		}
		m.Config = cd
	}
	mb, _ := json.Marshal(m)
	d := content.NewDescriptorFromBytes(desc.MediaType, mb)
	if err := target.Push(ctx, d, bytes.NewReader(mb)); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestOCISignatureBindsManifest(t *testing.T) {
	priv, _ := sign.GenerateKey(p256())
	s := mustSigner(sign.NewKeySigner(priv))
	v := keyVerifier(t, &priv.PublicKey)
	for _, st := range stores()[:3] {
		t.Run(st.name, func(t *testing.T) {
			target, ref := st.open(t)
			_, desc := pushModel(t, target, ref, map[string]string{"config.json": "{}", "model.safetensors": "weights"})
			if _, _, err := sign.SignOCI(ctx, s, target, desc, ref.Repository); err != nil {
				t.Fatal(err)
			}
			res, err := v.VerifyOCI(ctx, target, desc)
			if err != nil {
				t.Fatal(err)
			}
			if res.ManifestDigest != desc.Digest.String() || res.PredicateType != sign.PredicateTypeOMS || res.Statement == nil {
				t.Errorf("result %+v", res)
			}
			sigs := bundlesOf(t, target, desc)
			if len(sigs) != 2 || sigs[sign.PredicateTypeOMS] == nil || sigs[sign.PredicateTypeManifest] == nil {
				t.Fatalf("referrers carry %d bundles, want the OMS one and the manifest one", len(sigs))
			}

			for _, tc := range []struct {
				name   string
				config []byte
				copy   []string
			}{
				{"both signatures moved onto other annotations", nil, []string{sign.PredicateTypeOMS, sign.PredicateTypeManifest}},
				{"both signatures moved onto another config blob", []byte(`{"descriptor":{"name":"evil"}}`), []string{sign.PredicateTypeOMS, sign.PredicateTypeManifest}},
				{"the layer signature alone moved", []byte(`{"x":1}`), []string{sign.PredicateTypeOMS}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					evil := pushVariant(t, target, desc, tc.config)
					for _, pt := range tc.copy {
						if _, err := sign.PushBundle(ctx, target, evil, sigs[pt], pt); err != nil {
							t.Fatal(err)
						}
					}
					_, err := v.VerifyOCI(ctx, target, evil)
					if !errors.Is(err, sign.ErrManifestDigest) || !sign.IsVerificationError(err) {
						t.Fatalf("err = %v, want ErrManifestDigest", err)
					}
					// The original still verifies.
					if _, err := v.VerifyOCI(ctx, target, desc); err != nil {
						t.Errorf("original: %v", err)
					}
				})
			}
		})
	}
}

func TestOCIManifestSignatureAlone(t *testing.T) {
	priv, _ := sign.GenerateKey(p256())
	s := mustSigner(sign.NewKeySigner(priv))
	v := keyVerifier(t, &priv.PublicKey)
	target, ref := stores()[0].open(t)
	_, desc := pushModel(t, target, ref, map[string]string{"model.bin": "w", "config.json": "{}"})
	if _, err := sign.SignManifest(ctx, s, target, desc); err != nil {
		t.Fatal(err)
	}
	res, err := v.VerifyOCI(ctx, target, desc)
	if err != nil {
		t.Fatal(err)
	}
	if res.PredicateType != sign.PredicateTypeManifest || res.Digest != desc.Digest.Encoded() || res.Resources != 2 || res.Statement != nil {
		t.Errorf("result %+v", res)
	}
	// A scan attestation about the manifest is not a signature of it.
	target2, ref2 := stores()[0].open(t)
	_, desc2 := pushModel(t, target2, ref2, map[string]string{"model.bin": "w"})
	rep := scan.NewReport(scan.Tool{Name: "modelverify", Version: "test"}, nil)
	if _, err := attestScanOCI(ctx, s, target2, desc2, ref2.Repository, rep); err != nil {
		t.Fatal(err)
	}
	if _, err := v.VerifyOCI(ctx, target2, desc2); !errors.Is(err, sign.ErrNoSignature) {
		t.Errorf("scan attestation only: err = %v, want ErrNoSignature", err)
	}
}

// attestScanOCI signs a scan attestation of rep about desc and pushes it.
func attestScanOCI(ctx context.Context, s *sign.Signer, target manifest.Target, desc ocispec.Descriptor, name string, rep *scan.Report) (ocispec.Descriptor, error) {
	h, err := sign.SubjectHex(desc)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	return sign.AttestOCI(ctx, s, target, desc, attest.New(name, h, rep), attest.PredicateType)
}

// Push and sign leave out the same files: a folder signed in place, with
// git metadata and a scan attestation beside the model, then pushed, has
// the same root digest as the artifact, and the folder's own signature
// files are not layers.
func TestPushAndSignIgnoreTheSameFiles(t *testing.T) {
	priv, _ := sign.GenerateKey(p256())
	s := mustSigner(sign.NewKeySigner(priv))
	target, ref := openTarget(t, "oci-layout://"+filepath.Join(t.TempDir(), "layout")+":v1", manifest.RegistryOptions{CreateLayout: true})
	dir := writeTree(t, map[string]string{
		"config.json": "{}", "model.safetensors": "weights",
		".gitattributes": "*.safetensors filter=lfs", ".gitignore": "*.tmp", ".github/workflows/ci.yml": "on: push",
		"model.scan.sig": "{}",
	})
	st, err := sign.SignFolder(ctx, s, dir, sign.SignFolderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	desc, err := manifest.Push(ctx, dir, target, ref, manifest.PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ost, _, err := sign.SignOCI(ctx, s, target, desc, ref.Repository)
	if err != nil {
		t.Fatal(err)
	}
	if st.SubjectDigest() != ost.SubjectDigest() {
		t.Errorf("folder root digest %s, artifact root digest %s", st.SubjectDigest(), ost.SubjectDigest())
	}
	var names []string
	for _, r := range ost.Predicate.Resources {
		names = append(names, r.Name)
	}
	if fmt.Sprint(names) != "[config.json model.safetensors]" {
		t.Errorf("pushed layers %v, want config.json and model.safetensors only", names)
	}
}
