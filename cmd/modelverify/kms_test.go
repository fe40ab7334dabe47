package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/modelverify/modelverify/internal/testutil/kube"
	"github.com/modelverify/modelverify/internal/testutil/localkms"
	"github.com/modelverify/modelverify/internal/testutil/registry"
	"github.com/modelverify/modelverify/pkg/sign"
)

// Key URIs that are malformed, of a scheme modelverify does not serve, or
// used where they cannot be are usage errors, found before anything is
// contacted.
func TestKMSKeyUsageErrors(t *testing.T) {
	dir := modelDir(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"sign", "--key", "awskms:///not-a-key", dir}, "invalid key URI"},
		{[]string{"verify", "--key", "awskms:///not-a-key", dir}, "invalid key URI"},
		{[]string{"sign", "--key", "gcpkms://projects/p", dir}, "want gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K"},
		{[]string{"scan", "--quiet", "--attest", "--key", "hashivault://a/b", dir}, "want hashivault://KEY"},
		{[]string{"sign", "--key", "alikms://release", dir}, "unknown key URI scheme alikms://"},
		{[]string{"verify", "--key", "azurekm://v.vault.azure.net/k", dir}, "unknown key URI scheme azurekm://"},
		{[]string{"sign", "--key", "awskms:///alias/release", "--certificate", "c.pem", dir}, "--certificate with a KMS key"},
		{[]string{"verify", "--key", "pkcs11:object=k", dir}, "module-path"},
	} {
		_, errOut, code := runCLI(t, tt.args...)
		if code != 3 || !strings.Contains(errOut, tt.want) {
			t.Errorf("modelverify %s: exit %d %q, want 3 and %q", strings.Join(tt.args, " "), code, errOut, tt.want)
		}
	}
}

// A key in an AWS KMS (local-kms) signs folders, OCI artifacts and scan
// attestations; verify takes its exported public key or the key URI, and
// an admission policy that names the key by URI admits what it signed.
func TestSignVerifyAdmitWithAWSKMS(t *testing.T) {
	srv := localkms.Start(t)
	release := srv.CreateKey(t, "release", types.KeySpecEccNistP256)
	other := srv.CreateKey(t, "other", types.KeySpecEccNistP256)
	dir := t.TempDir()
	pub := filepath.Join(dir, "release.pub")
	pem, err := sign.MarshalPublicKeyPEM(release.Public)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(pub, pem, 0o644)

	t.Run("folder", func(t *testing.T) {
		model := modelDir(t)
		expectExit(t, 0, "sign", "--key", release.AliasURI, model)
		expectExit(t, 0, "verify", "--key", pub, model)
		expectExit(t, 0, "verify", "--key", release.AliasURI, model)
		expectExit(t, 0, "verify", "--key", release.IDURI, model)
		expectExit(t, 1, "verify", "--key", other.AliasURI, model)
		// One of several keys is enough.
		expectExit(t, 0, "verify", "--key", other.AliasURI, "--key", release.IDURI, model)
		os.WriteFile(filepath.Join(model, "config.json"), []byte(`{"model_type":"gpt2"}`), 0o644)
		expectExit(t, 1, "verify", "--key", release.AliasURI, model)
	})

	t.Run("OCI artifact", func(t *testing.T) {
		host := registry.NewInProcess(t, true)
		ref := pushTestModel(t, host, "bert")
		expectExit(t, 0, "sign", "--key", release.IDURI, "--plain-http", "oci://"+ref)
		expectExit(t, 0, "scan", "--quiet", "--attest", "--key", release.AliasURI, "--plain-http", "oci://"+ref)
		expectExit(t, 0, "verify", "--key", pub, "--require-scan", "--plain-http", "oci://"+ref)
		expectExit(t, 0, "verify", "--key", release.AliasURI, "--require-scan", "--plain-http", "oci://"+ref)
		expectExit(t, 1, "verify", "--key", other.IDURI, "--plain-http", "oci://"+ref)

		policy := func(name, uri string) string {
			p := filepath.Join(dir, name+".yaml")
			text := strings.Replace(kube.PolicyYAML(host, "enforce", "KEY"), "{path: KEY}", `{kms: "`+uri+`"}`, 1)
			os.WriteFile(p, []byte(text), 0o600)
			return p
		}
		out := expectExit(t, 0, "admit", "--plain-http", "--policy", policy("release", release.AliasURI), ref)
		if !strings.Contains(out, "admitted") {
			t.Errorf("admit: %s", out)
		}
		out = expectExit(t, 1, "admit", "--plain-http", "--policy", policy("other", other.AliasURI), ref)
		if !strings.Contains(out, "denied") {
			t.Errorf("admit with another key: %s", out)
		}
		expectExit(t, 3, "admit", "--plain-http", "--policy", policy("missing", "awskms:///alias/missing"), ref)
	})

	t.Run("a KMS that does not answer", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		down := "http://" + ln.Addr().String()
		ln.Close()
		t.Setenv("AWS_ENDPOINT_URL_KMS", down)
		t.Setenv("AWS_MAX_ATTEMPTS", "1")
		model := modelDir(t)
		_, errOut, code := runCLI(t, "sign", "--key", release.AliasURI, model)
		if code != 2 || !strings.Contains(errOut, "alias/release") {
			t.Errorf("sign: exit %d %q, want 2", code, errOut)
		}
		if _, err := os.Stat(filepath.Join(model, "model.sig")); err == nil {
			t.Error("a signature was written")
		}
		if _, errOut, code := runCLI(t, "verify", "--key", release.AliasURI, model); code != 2 {
			t.Errorf("verify: exit %d %q, want 2", code, errOut)
		}
	})
}
