package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelverify/modelverify/internal/testutil/pki"
	"github.com/modelverify/modelverify/internal/testutil/registry"
	"github.com/modelverify/modelverify/internal/testutil/sigstore"
	"github.com/modelverify/modelverify/pkg/manifest"
	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/attest"
	"github.com/modelverify/modelverify/pkg/sign"
)

func expectExit(t *testing.T, want int, args ...string) string {
	t.Helper()
	out, errOut, code := runCLI(t, args...)
	if code != want {
		t.Fatalf("modelverify %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, want, out, errOut)
	}
	return out + errOut
}

// safetensorsOf is a valid safetensors file holding one uint8 tensor of n
// bytes: a model file that the scan reads as clean.
func safetensorsOf(n int) string {
	h := fmt.Sprintf(`{"w":{"dtype":"U8","shape":[%d],"data_offsets":[0,%d]}}`, n, n)
	h += strings.Repeat(" ", (8-len(h)%8)%8)
	var size [8]byte
	binary.LittleEndian.PutUint64(size[:], uint64(len(h)))
	return string(size[:]) + h + strings.Repeat("w", n)
}

func modelDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bert")
	for name, body := range map[string]string{
		"config.json": `{"model_type":"bert"}`, "model.safetensors": safetensorsOf(4000), "tok/vocab.txt": "a\nb\n",
	} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestKeygenSignVerifyCommands(t *testing.T) {
	t.Setenv(passwordEnv, "correct horse")
	keys := filepath.Join(t.TempDir(), "signer")
	expectExit(t, 0, "keygen", "--output-key-prefix", keys)
	if !bytes.Contains(readOrFail(t, keys+".key"), []byte("ENCRYPTED PRIVATE KEY")) {
		t.Fatal("the key is not encrypted although a password is set")
	}
	expectExit(t, 3, "keygen", "--output-key-prefix", keys) // refuses to overwrite: a usage error
	other := filepath.Join(t.TempDir(), "other")
	expectExit(t, 0, "keygen", "--output-key-prefix", other, "--curve", "p384")

	dir := modelDir(t)
	expectExit(t, 1, "verify", "--key", keys+".pub", dir) // not signed yet
	expectExit(t, 0, "sign", "--key", keys+".key", "--ignore-paths", "tok", dir)
	out := expectExit(t, 0, "verify", "--key", keys+".pub", dir)
	if !strings.Contains(out, "verified") {
		t.Errorf("output %q", out)
	}
	// Several keys: one of them must have signed.
	expectExit(t, 0, "verify", "--key", other+".pub", "--key", keys+".pub", dir)
	expectExit(t, 1, "verify", "--key", other+".pub", dir)
	// The ignored folder may change; a signed file may not.
	os.WriteFile(filepath.Join(dir, "tok/vocab.txt"), []byte("changed"), 0o644)
	expectExit(t, 0, "verify", "--key", keys+".pub", dir)
	os.WriteFile(filepath.Join(dir, "config.json"), []byte("{}"), 0o644)
	if out := expectExit(t, 1, "verify", "--key", keys+".pub", dir); !strings.Contains(out, "config.json") {
		t.Errorf("the failure does not name the file: %q", out)
	}

	t.Setenv(passwordEnv, "wrong")
	expectExit(t, 3, "sign", "--key", keys+".key", dir)
	t.Setenv(passwordEnv, "correct horse")

	// A custom signature path and the sharded serialization.
	sig := filepath.Join(t.TempDir(), "bert.sig")
	expectExit(t, 0, "sign", "--key", keys+".key", "--signature", sig, "--method", "shards", "--shard-size", "1000", dir)
	expectExit(t, 0, "verify", "--key", keys+".pub", "--signature", sig, "--format", "json", dir)
	os.WriteFile(filepath.Join(dir, "model.safetensors"), []byte(strings.Repeat("w", 4097)), 0o644)
	expectExit(t, 1, "verify", "--key", keys+".pub", "--signature", sig, dir)
}

func TestSignVerifyUsageErrors(t *testing.T) {
	dir := modelDir(t)
	for _, args := range [][]string{
		{"sign", dir},
		{"sign", "--certificate", "c.pem", dir},
		{"sign", "--fulcio-url", "https://fulcio.example", dir},
		{"sign", "--key", "k", "--rekor-url", "https://rekor.example", dir},
		{"sign", "--key", "/does/not/exist", dir},
		{"verify", dir},
		{"verify", "--certificate-identity", "a@example.com", "--certificate-oidc-issuer", "https://x", dir},
		{"verify", "--trusted-root", "root.json", dir},
		{"verify", "--key", "/does/not/exist", dir},
		{"verify", "--key", "k.pub", "--require-scan=extreme", dir},
		{"keygen"},
		{"keygen", "--output-key-prefix", "x", "--curve", "p521"},
	} {
		expectExit(t, 3, args...)
	}
}

func TestInteropVectorsCommand(t *testing.T) {
	iv := "../../pkg/sign/testdata/interop"
	key := []string{"--key", iv + "/keys/signing-key-pub.pem"}
	cert := []string{"--certificate-chain", iv + "/keys/ca-cert.pem"}
	keyless := []string{"--certificate-identity", "stefanb@us.ibm.com", "--certificate-oidc-issuer", "https://sigstore.verify.ibm.com/oauth2", "--trusted-root", iv + "/trusted-root-public-good.json"}
	for _, v := range []string{"v1.0.0", "v1.0.1", "v1.1.0"} {
		for mode, flags := range map[string][]string{"elliptic-key": key, "certificate": cert, "sigstore": keyless} {
			dir := iv + "/" + v + "-" + mode
			args := append([]string{"verify", "--signature", dir + "/model.sig"}, flags...)
			if v != "v1.0.0" {
				args = append(args, "--ignore-paths", "ignore-me")
			}
			target := dir
			if v == "v1.0.0" && mode == "elliptic-key" {
				target = dir + "/signme-1"
			}
			expectExit(t, 0, append(args, target)...)
		}
	}
	wrongID := []string{"verify", "--certificate-identity", "mallory@example.com", "--certificate-oidc-issuer", "https://sigstore.verify.ibm.com/oauth2", "--trusted-root", iv + "/trusted-root-public-good.json", iv + "/v1.1.0-sigstore"}
	expectExit(t, 1, wrongID...)
	// An absolute ignore path inside the model works as a relative one.
	abs, _ := filepath.Abs(iv + "/v1.0.1-elliptic-key")
	expectExit(t, 0, append([]string{"verify", "--ignore-paths", filepath.Join(abs, "ignore-me")}, append(key, abs)...)...)
	expectExit(t, 1, append([]string{"verify"}, append(key, abs)...)...) // ignore-me is not signed
}

func TestOlderReleaseVectorsCommand(t *testing.T) {
	rv := "../../pkg/sign/testdata/releases"
	key := []string{"--key", rv + "/keys/signing-key-pub.pem"}
	cert := []string{"--certificate-chain", rv + "/keys/ca-cert.pem"}
	for dir, flags := range map[string][]string{
		"v0.1.1-elliptic-key": key, "v0.2.0-elliptic-key": key, "v0.2.0-certificate": cert,
		"v0.3.1-elliptic-key": key, "v1.1.1-elliptic-key-shards": key, "v1.1.1-certificate-shards": cert,
	} {
		args := append([]string{"verify", "--ignore-paths", "ignore-me"}, flags...)
		_, stderr, code := runCLI(t, append(args, rv+"/"+dir)...)
		if code != 0 {
			t.Errorf("%s: exit %d: %s", dir, code, stderr)
		}
		if legacy := strings.HasPrefix(dir, "v0.1") || strings.HasPrefix(dir, "v0.2"); legacy != strings.Contains(stderr, sign.PredicateTypeDigests) {
			t.Errorf("%s: stderr %q (a note names the pre-0.3 predicate exactly when it is used)", dir, stderr)
		}
	}
	// A file the old format signed, changed: exit 1, naming it.
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(rv+"/v0.2.0-elliptic-key")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "signme-2"), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := runCLI(t, append(append([]string{"verify"}, key...), dir)...)
	if code != 1 || !strings.Contains(stderr, "signme-2") {
		t.Errorf("changed file: exit %d, %q", code, stderr)
	}
}

func TestCertificateModeCommands(t *testing.T) {
	d := t.TempDir()
	rootCert, interCert, leafCert, leafKey := testChain(t)
	writePEM(t, filepath.Join(d, "root.pem"), "CERTIFICATE", rootCert.Raw)
	writePEM(t, filepath.Join(d, "inter.pem"), "CERTIFICATE", interCert.Raw)
	writePEM(t, filepath.Join(d, "leaf.pem"), "CERTIFICATE", leafCert.Raw)
	der, _ := x509.MarshalPKCS8PrivateKey(leafKey)
	writePEM(t, filepath.Join(d, "leaf.key"), "PRIVATE KEY", der)
	t.Setenv(passwordEnv, "")
	dir := modelDir(t)
	expectExit(t, 0, "sign", "--key", filepath.Join(d, "leaf.key"), "--certificate", filepath.Join(d, "leaf.pem"), "--certificate-chain", filepath.Join(d, "inter.pem"), dir)
	expectExit(t, 0, "verify", "--certificate-chain", filepath.Join(d, "root.pem"), dir)
	otherRoot, _, _, _ := testChain(t)
	writePEM(t, filepath.Join(d, "other.pem"), "CERTIFICATE", otherRoot.Raw)
	expectExit(t, 1, "verify", "--certificate-chain", filepath.Join(d, "other.pem"), dir)

	// The signer's identity: the leaf's common name "signer", issued by
	// "CN=intermediate".
	roots := []string{"verify", "--certificate-chain", filepath.Join(d, "root.pem")}
	for _, c := range []struct {
		flags []string
		code  int
	}{
		{[]string{"--certificate-identity", "signer"}, 0},
		{[]string{"--certificate-identity", "signer", "--certificate-issuer", "CN=intermediate"}, 0},
		{[]string{"--certificate-identity-regexp", "^sig", "--certificate-issuer-regexp", "^CN=inter"}, 0},
		{[]string{"--certificate-identity", "someone-else"}, 1},
		{[]string{"--certificate-identity", "signer", "--certificate-issuer", "CN=root"}, 1},
		{[]string{"--certificate-issuer", "CN=intermediate"}, 3},                            // an issuer needs an identity
		{[]string{"--certificate-identity", "signer", "--certificate-oidc-issuer", "x"}, 3}, // keyless flags need --trusted-root
	} {
		expectExit(t, c.code, append(append(append([]string{}, roots...), c.flags...), dir)...)
	}
}

func TestKeylessVerifyCommand(t *testing.T) {
	vs := sigstore.New(t)
	rootPath := filepath.Join(t.TempDir(), "trusted_root.json")
	os.WriteFile(rootPath, vs.TrustedRootJSON(t), 0o644)
	dir := modelDir(t)
	m, err := sign.HashFolder(context.Background(), dir, sign.FolderOptions{IgnorePaths: []string{"model.sig"}})
	if err != nil {
		t.Fatal(err)
	}
	st, _ := sign.NewStatement(m)
	payload, _ := json.Marshal(st)
	os.WriteFile(filepath.Join(dir, "model.sig"), vs.Bundle(t, "ci@example.com", "https://issuer.example", payload), 0o644)
	base := []string{"verify", "--trusted-root", rootPath}
	expectExit(t, 0, append(base, "--certificate-identity", "ci@example.com", "--certificate-oidc-issuer", "https://issuer.example", dir)...)
	expectExit(t, 0, append(base, "--certificate-identity-regexp", "@example\\.com$", "--certificate-oidc-issuer-regexp", "^https://issuer\\.", dir)...)
	expectExit(t, 1, append(base, "--certificate-identity", "ci@example.org", "--certificate-oidc-issuer", "https://issuer.example", dir)...)
	expectExit(t, 1, append(base, "--certificate-identity", "ci@example.com", "--certificate-oidc-issuer", "https://other.example", dir)...)
}

func TestOCISignVerifyCommands(t *testing.T) {
	t.Setenv(passwordEnv, "")
	keys := filepath.Join(t.TempDir(), "k")
	expectExit(t, 0, "keygen", "--output-key-prefix", keys)
	other := filepath.Join(t.TempDir(), "o")
	expectExit(t, 0, "keygen", "--output-key-prefix", other)
	refs := map[string][]string{
		"registry with referrers":    {"oci://" + registry.NewInProcess(t, true) + "/models/bert:v1", "--plain-http"},
		"registry without referrers": {"oci://" + registry.NewInProcess(t, false) + "/models/bert:v1", "--plain-http"},
		"layout":                     {"oci-layout://" + filepath.Join(t.TempDir(), "store") + ":v1"},
	}
	for name, r := range refs {
		t.Run(name, func(t *testing.T) {
			ref, flags := r[0], r[1:]
			pr, _ := manifest.ParseRef(ref)
			target, err := manifest.Open(context.Background(), pr, manifest.RegistryOptions{PlainHTTP: len(flags) > 0, CreateLayout: true})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := manifest.Push(context.Background(), modelDir(t), target, pr, manifest.PushOptions{}); err != nil {
				t.Fatal(err)
			}
			expectExit(t, 1, append([]string{"verify", "--key", keys + ".pub", ref}, flags...)...) // missing referrer
			expectExit(t, 0, append([]string{"sign", "--key", keys + ".key", ref}, flags...)...)
			expectExit(t, 0, append([]string{"verify", "--key", keys + ".pub", ref}, flags...)...)
			expectExit(t, 1, append([]string{"verify", "--key", other + ".pub", ref}, flags...)...)
			expectExit(t, 1, append([]string{"verify", "--key", keys + ".pub", "--require-scan", ref}, flags...)...)
		})
	}
	expectExit(t, 2, "verify", "--key", keys+".pub", "oci-layout://"+filepath.Join(t.TempDir(), "none")+":v1")
}

func TestRequireScanOnAFolder(t *testing.T) {
	t.Setenv(passwordEnv, "")
	keys := filepath.Join(t.TempDir(), "k")
	expectExit(t, 0, "keygen", "--output-key-prefix", keys)
	dir := modelDir(t)
	expectExit(t, 0, "sign", "--key", keys+".key", dir)
	expectExit(t, 1, "verify", "--key", keys+".pub", "--require-scan", dir) // no attestation

	priv, err := sign.ParsePrivateKeyPEM(readOrFail(t, keys+".key"), nil)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := sign.NewKeySigner(priv)
	attest := func(findings []scan.Finding, verdict scan.Verdict) {
		rep := scan.NewReport(scan.Tool{Name: "modelverify", Version: "test"}, []scan.Target{{Path: "model.safetensors", Verdict: verdict, Findings: findings}})
		if _, err := sign.AttestFolder(context.Background(), s, dir, "", sign.FolderOptions{}, func(name, root string) any { return attest.New(name, root, rep) }); err != nil {
			t.Fatal(err)
		}
	}
	attest([]scan.Finding{{RuleID: "MV-TEST", Severity: scan.SeverityMedium, Message: "m"}}, scan.VerdictClean)
	expectExit(t, 0, "verify", "--key", keys+".pub", "--require-scan", dir)
	expectExit(t, 1, "verify", "--key", keys+".pub", "--require-scan=medium", dir)
	attest([]scan.Finding{{RuleID: "MV-TEST", Severity: scan.SeverityCritical, Message: "m"}}, scan.VerdictDangerous)
	expectExit(t, 1, "verify", "--key", keys+".pub", "--require-scan", dir)
	expectExit(t, 0, "verify", "--key", keys+".pub", "--require-scan=none", dir)
	// An attestation about another model does not count.
	os.WriteFile(filepath.Join(dir, "config.json"), []byte("{}"), 0o644)
	expectExit(t, 0, "sign", "--key", keys+".key", dir)
	expectExit(t, 1, "verify", "--key", keys+".pub", "--require-scan=none", dir)
}

func readOrFail(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writePEM(t *testing.T, p, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func testChain(t *testing.T) (root, inter, leaf *x509.Certificate, leafKey *ecdsa.PrivateKey) {
	t.Helper()
	ca := pki.NewCA(t, pkix.Name{CommonName: "root"}, pkix.Name{CommonName: "intermediate"})
	leaf, leafKey = ca.Issue(t, pki.Leaf{Subject: pkix.Name{CommonName: "signer"}})
	return ca.Root, ca.Intermediate, leaf, leafKey
}

func TestKeylessSignCommand(t *testing.T) {
	svc := sigstore.NewServices(t)
	rootPath := filepath.Join(t.TempDir(), "trusted_root.json")
	os.WriteFile(rootPath, svc.TrustedRootJSON(t), 0o644)
	t.Setenv("SIGSTORE_ID_TOKEN", sigstore.IDToken("ci@example.com", "https://issuer.example"))
	signFlags := []string{"--fulcio-url", svc.FulcioURL, "--rekor-url", svc.RekorURL, "--tsa-url", svc.TSAURL, "--trusted-root", rootPath}
	verifyFlags := []string{"--certificate-identity", "ci@example.com", "--certificate-oidc-issuer", "https://issuer.example", "--trusted-root", rootPath}

	dir := modelDir(t)
	expectExit(t, 0, append(append([]string{"sign"}, signFlags...), dir)...)
	expectExit(t, 0, append(append([]string{"verify"}, verifyFlags...), dir)...)
	expectExit(t, 1, "verify", "--certificate-identity", "ci@example.com", "--certificate-oidc-issuer", "https://other.example", "--trusted-root", rootPath, dir)

	ref := "oci://" + registry.NewInProcess(t, true) + "/models/bert:v1"
	pr, _ := manifest.ParseRef(ref)
	target, _ := manifest.Open(context.Background(), pr, manifest.RegistryOptions{PlainHTTP: true})
	if _, err := manifest.Push(context.Background(), modelDir(t), target, pr, manifest.PushOptions{}); err != nil {
		t.Fatal(err)
	}
	expectExit(t, 0, append(append([]string{"sign", "--plain-http"}, signFlags...), ref)...)
	expectExit(t, 0, append(append([]string{"verify", "--plain-http"}, verifyFlags...), ref)...)

	// An unreachable Fulcio: could not sign, exit 2.
	expectExit(t, 2, "sign", "--fulcio-url", "http://127.0.0.1:1", "--rekor-url", "http://127.0.0.1:1", modelDir(t))
}
