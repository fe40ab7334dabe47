package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelverify/modelverify/internal/testutil/kube"
	"github.com/modelverify/modelverify/internal/testutil/registry"
	"github.com/modelverify/modelverify/pkg/manifest"
	"github.com/modelverify/modelverify/pkg/scan/attest"
	"github.com/modelverify/modelverify/pkg/sign"
)

// cosignEnv names the cosign binary the interoperability tests run
// (scripts/cosign.sh builds it); without it, cosign on PATH.
const cosignEnv = "MODELVERIFY_COSIGN"

// cosignBinary finds cosign, or skips the test (fails with
// MODELVERIFY_INTEGRATION=require).
func cosignBinary(t *testing.T) string {
	t.Helper()
	p := os.Getenv(cosignEnv)
	if p == "" {
		p, _ = exec.LookPath("cosign")
	}
	if p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv(registry.RequireEnv) == "require" {
		t.Fatalf("cosign is required (%s=require): set %s (scripts/cosign.sh builds it) or put cosign on PATH", registry.RequireEnv, cosignEnv)
	}
	t.Skipf("cosign not found: set %s or put cosign on PATH", cosignEnv)
	return ""
}

// cosign runs the cosign binary with a private HOME (so that it neither
// reads nor writes the user's Sigstore cache) and the extra environment.
func cosign(t *testing.T, bin string, env []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "TUF_ROOT="+t.TempDir())
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// pushTestModel pushes modelDir to HOST/models/NAME:v1 and returns the
// digest reference HOST/models/NAME@sha256:...
func pushTestModel(t *testing.T, host, name string) string {
	t.Helper()
	ctx := context.Background()
	pr, err := manifest.ParseRef("oci://" + host + "/models/" + name + ":v1")
	if err != nil {
		t.Fatal(err)
	}
	target, err := manifest.Open(ctx, pr, manifest.RegistryOptions{PlainHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	dir := modelDir(t)
	if err := os.WriteFile(filepath.Join(dir, "name.txt"), []byte(name), 0o644); err != nil {
		t.Fatal(err)
	}
	desc, err := manifest.Push(ctx, dir, target, pr, manifest.PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return host + "/models/" + name + "@" + desc.Digest.String()
}

func TestCosignVerifiesModelverifySignatures(t *testing.T) {
	bin := cosignBinary(t)
	t.Setenv(passwordEnv, "")
	keys := filepath.Join(t.TempDir(), "k")
	expectExit(t, 0, "keygen", "--output-key-prefix", keys)
	other := filepath.Join(t.TempDir(), "o")
	expectExit(t, 0, "keygen", "--output-key-prefix", other)
	for _, referrers := range []bool{true, false} {
		name := "referrers API"
		if !referrers {
			name = "tag-schema fallback"
		}
		t.Run(name, func(t *testing.T) {
			host := registry.NewInProcess(t, referrers)
			ref := pushTestModel(t, host, "bert")
			expectExit(t, 0, "sign", "--key", keys+".key", "--plain-http", "oci://"+ref)
			expectExit(t, 0, "scan", "--quiet", "--attest", "--key", keys+".key", "--plain-http", "oci://"+ref)

			verify := []string{"verify", "--key", keys + ".pub", "--insecure-ignore-tlog", "--allow-http-registry", ref}
			if out, err := cosign(t, bin, nil, verify...); err != nil || !strings.Contains(out, sign.PredicateTypeManifest) {
				t.Fatalf("cosign verify: %v\n%s", err, out)
			}
			att := []string{"verify-attestation", "--key", keys + ".pub", "--insecure-ignore-tlog", "--allow-http-registry", "--type", attest.PredicateType, ref}
			if out, err := cosign(t, bin, nil, att...); err != nil {
				t.Fatalf("cosign verify-attestation: %v\n%s", err, out)
			}
			if out, err := cosign(t, bin, nil, "verify", "--key", other+".pub", "--insecure-ignore-tlog", "--allow-http-registry", ref); err == nil {
				t.Fatalf("cosign verify with another key passed:\n%s", out)
			}
			// cosign, too, refuses our signatures moved onto a manifest with
			// the same layers.
			repo, digest, _ := strings.Cut(ref, "@")
			forged := repo + "@" + kube.Forge(t, host, strings.TrimPrefix(repo, host+"/"), digest)
			if out, err := cosign(t, bin, nil, "verify", "--key", keys+".pub", "--insecure-ignore-tlog", "--allow-http-registry", forged); err == nil {
				t.Fatalf("cosign verify of the forged manifest passed:\n%s", out)
			}
			expectExit(t, 1, "verify", "--key", keys+".pub", "--plain-http", "oci://"+forged)
		})
	}
}

func TestModelverifyVerifiesCosignSignatures(t *testing.T) {
	bin := cosignBinary(t)
	t.Setenv(passwordEnv, "")
	dir := t.TempDir()
	pw := []string{"COSIGN_PASSWORD=interop"}
	if out, err := cosign(t, bin, pw, "generate-key-pair", "--output-key-prefix", filepath.Join(dir, "cosign")); err != nil {
		t.Fatalf("cosign generate-key-pair: %v\n%s", err, out)
	}
	key, pub := filepath.Join(dir, "cosign.key"), filepath.Join(dir, "cosign.pub")
	other := filepath.Join(t.TempDir(), "o")
	expectExit(t, 0, "keygen", "--output-key-prefix", other)
	// Offline: a signing configuration without a transparency log.
	sc := filepath.Join(dir, "signing-config.json")
	if err := os.WriteFile(sc, []byte(`{"mediaType":"application/vnd.dev.sigstore.signingconfig.v0.2+json"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, referrers := range []bool{true, false} {
		name := "referrers API"
		if !referrers {
			name = "tag-schema fallback"
		}
		t.Run(name, func(t *testing.T) {
			host := registry.NewInProcess(t, referrers)
			ref := pushTestModel(t, host, "llama")
			expectExit(t, 1, "verify", "--key", pub, "--plain-http", "oci://"+ref)
			if out, err := cosign(t, bin, pw, "sign", "--key", key, "--signing-config", sc, "--allow-http-registry", "-y", ref); err != nil {
				t.Fatalf("cosign sign: %v\n%s", err, out)
			}
			out := expectExit(t, 0, "verify", "--key", pub, "--plain-http", "oci://"+ref)
			if !strings.Contains(out, "verified oci://"+ref+": manifest "+ref[strings.Index(ref, "@")+1:]) {
				t.Errorf("verify output: %s", out)
			}
			expectExit(t, 1, "verify", "--key", other+".pub", "--plain-http", "oci://"+ref)

			// Scan with cosign's key file (its password in COSIGN_PASSWORD),
			// then admit with cosign's public key.
			t.Setenv(cosignPasswordEnv, "interop")
			expectExit(t, 0, "scan", "--quiet", "--attest", "--key", key, "--plain-http", "oci://"+ref)
			policy := filepath.Join(t.TempDir(), "policy.yaml")
			if err := os.WriteFile(policy, []byte(kube.PolicyYAML(host, "enforce", pub)), 0o600); err != nil {
				t.Fatal(err)
			}
			expectExit(t, 0, "admit", "--plain-http", "--policy", policy, ref)
			if out, err := cosign(t, bin, nil, "verify-attestation", "--key", pub, "--insecure-ignore-tlog", "--allow-http-registry", "--type", attest.PredicateType, ref); err != nil {
				t.Fatalf("cosign verify-attestation of a scan signed with cosign's key: %v\n%s", err, out)
			}
			repo, digest, _ := strings.Cut(ref, "@")
			forged := repo + "@" + kube.Forge(t, host, strings.TrimPrefix(repo, host+"/"), digest)
			expectExit(t, 1, "admit", "--plain-http", "--policy", policy, forged)
		})
	}
}
