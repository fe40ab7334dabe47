package keyless_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/modelverify/modelverify/internal/testutil/keyless"
	"github.com/modelverify/modelverify/pkg/sign"
	"github.com/sigstore/sigstore-go/pkg/verify"
)

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestKeylessSigningVerifiesAgainstTheTrustedRoot(t *testing.T) {
	ctx := context.Background()
	s := keyless.Start(t)
	tr, err := sign.LoadTrustedRoot(s.TrustedRootJSON(t))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "weights.bin"), []byte("weights"), 0o644)
	wf := "example/models/.github/workflows/release.yml@refs/heads/main"
	signer, err := sign.NewKeylessSigner(sign.KeylessOptions{FulcioURL: s.FulcioURL, RekorURL: s.RekorURL, IDToken: s.Token(t, wf, "sigstore"), TrustedRoot: tr})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sign.SignFolder(ctx, signer, dir, sign.SignFolderOptions{}); err != nil {
		t.Fatal(err)
	}
	if s.Issued() != 1 {
		t.Errorf("%d certificates issued", s.Issued())
	}
	// The certificate carries a CT log's timestamp, as Fulcio's do, which
	// sigstore-go checks against the trusted root when asked to.
	b, err := sign.ParseBundle(readFile(t, filepath.Join(dir, "model.sig")))
	if err != nil {
		t.Fatal(err)
	}
	withSCT, err := verify.NewVerifier(tr, verify.WithSignedCertificateTimestamps(1), verify.WithTransparencyLog(1), verify.WithObserverTimestamps(1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := withSCT.Verify(b, verify.NewPolicy(verify.WithoutArtifactUnsafe(), verify.WithoutIdentitiesUnsafe())); err != nil {
		t.Errorf("verify with an SCT required: %v", err)
	}
	for _, tc := range []struct {
		id sign.Identity
		ok bool
	}{
		{sign.Identity{Subject: keyless.Identity(wf), Issuer: keyless.GitHubIssuer}, true},
		{sign.Identity{Subject: keyless.Identity("example/other/.github/workflows/x.yml@refs/heads/main"), Issuer: keyless.GitHubIssuer}, false},
	} {
		a, err := sign.KeylessAuthority(tr, tc.id)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := sign.NewVerifier(a)
		_, err = v.VerifyFolder(ctx, dir, sign.VerifyFolderOptions{})
		if tc.ok != (err == nil) || (!tc.ok && !errors.Is(err, sign.ErrSignature)) {
			t.Errorf("%v: err = %v", tc.id, err)
		}
	}
}

func TestFulcioRefusesBadTokens(t *testing.T) {
	s := keyless.Start(t)
	other := keyless.Start(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "weights.bin"), []byte("weights"), 0o644)
	wf := "example/models/.github/workflows/release.yml@refs/heads/main"
	for name, tok := range map[string]string{
		"another issuer's key": other.Token(t, wf, "sigstore"),
		"another audience":     s.Token(t, wf, "https://github.com/example"),
	} {
		signer, _ := sign.NewKeylessSigner(sign.KeylessOptions{FulcioURL: s.FulcioURL, RekorURL: s.RekorURL, IDToken: tok})
		if _, err := sign.SignFolder(context.Background(), signer, dir, sign.SignFolderOptions{}); err == nil {
			t.Errorf("%s: signed", name)
		}
	}
	if s.Issued() != 0 {
		t.Errorf("%d certificates issued", s.Issued())
	}
}
