package sign_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/modelverify/modelverify/pkg/sign"
)

// The vectors in testdata/interop were made by the OMS reference tool
// (model_signing 1.0.0 to 1.1.0) in its own test suite, those in
// testdata/releases by its releases 0.1.1 to 1.1.1; see the READMEs there.
const (
	interop  = "testdata/interop"
	releases = "testdata/releases"
)

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// interopAuthorities returns the authorities that verify the vectors under
// root, by mode: "elliptic-key", "certificate" and, for interop,
// "sigstore".
func interopAuthorities(t *testing.T, root string) map[string]sign.Authority {
	t.Helper()
	pub, err := sign.ParsePublicKeyPEM(readFile(t, filepath.Join(root, "keys/signing-key-pub.pem")))
	if err != nil {
		t.Fatal(err)
	}
	key, err := sign.KeyAuthority(pub)
	if err != nil {
		t.Fatal(err)
	}
	roots, err := sign.ParseCertificatesPEM(readFile(t, filepath.Join(root, "keys/ca-cert.pem")))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := sign.CertificateAuthority(roots)
	if err != nil {
		t.Fatal(err)
	}
	auths := map[string]sign.Authority{"elliptic-key": key, "certificate": ca}
	if root != interop {
		return auths
	}
	tr, err := sign.LoadTrustedRoot(readFile(t, filepath.Join(interop, "trusted-root-public-good.json")))
	if err != nil {
		t.Fatal(err)
	}
	keyless, err := sign.KeylessAuthority(tr, sign.Identity{Subject: "stefanb@us.ibm.com", Issuer: "https://sigstore.verify.ibm.com/oauth2"})
	if err != nil {
		t.Fatal(err)
	}
	auths["sigstore"] = keyless
	return auths
}

// interopCase is one reference-tool vector: the folder holding it and its
// name there, the trust mode, the model path in it, and the extra ignore
// paths the reference tool was given.
type interopCase struct {
	root, dir, mode, model string
	ignore                 []string
}

func (c interopCase) String() string { return filepath.Base(c.root) + "/" + c.dir }

func interopCases() []interopCase {
	var cs []interopCase
	for _, v := range []string{"v1.0.0", "v1.0.1", "v1.1.0"} {
		for _, mode := range []string{"elliptic-key", "certificate", "sigstore"} {
			c := interopCase{root: interop, dir: v + "-" + mode, mode: mode}
			if v == "v1.0.0" && mode == "elliptic-key" {
				c.model = "signme-1"
			}
			if v != "v1.0.0" {
				c.ignore = []string{"ignore-me"}
			}
			cs = append(cs, c)
		}
	}
	for _, r := range []struct{ dir, mode string }{
		{"v0.1.1-elliptic-key", "elliptic-key"},
		{"v0.2.0-elliptic-key", "elliptic-key"},
		{"v0.2.0-certificate", "certificate"},
		{"v0.3.1-elliptic-key", "elliptic-key"},
		{"v1.1.1-elliptic-key-shards", "elliptic-key"},
		{"v1.1.1-certificate-shards", "certificate"},
	} {
		c := interopCase{root: releases, dir: r.dir, mode: r.mode}
		if _, err := os.Stat(filepath.Join(releases, r.dir, "ignore-me")); err == nil {
			c.ignore = []string{"ignore-me"}
		}
		cs = append(cs, c)
	}
	return cs
}

// copyDir copies a vector folder so that tests can tamper with it.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestInteropVectorsVerify(t *testing.T) {
	for _, c := range interopCases() {
		t.Run(c.String(), func(t *testing.T) {
			v, err := sign.NewVerifier(interopAuthorities(t, c.root)[c.mode])
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(c.root, c.dir)
			target := filepath.Join(dir, c.model)
			res, err := v.VerifyFolder(context.Background(), target, sign.VerifyFolderOptions{
				SignaturePath: filepath.Join(dir, "model.sig"), IgnorePaths: c.ignore,
			})
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			if res.Digest == "" || res.Resources == 0 {
				t.Errorf("result %+v", res)
			}
		})
	}
}

func TestInteropVectorsRejectTampering(t *testing.T) {
	tamper := map[string]func(t *testing.T, dir string){
		"a changed byte in signme-1": func(t *testing.T, dir string) {
			p := filepath.Join(dir, "signme-1")
			b := readFile(t, p)
			b[0] ^= 1
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		},
		"an added file": func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, "extra.bin"), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
		},
	}
	for _, c := range interopCases() {
		if c.model != "" {
			continue // a single-file model has no folder to add to
		}
		for name, f := range tamper {
			t.Run(c.String()+"/"+name, func(t *testing.T) {
				v, _ := sign.NewVerifier(interopAuthorities(t, c.root)[c.mode])
				dir := copyDir(t, filepath.Join(c.root, c.dir))
				f(t, dir)
				_, err := v.VerifyFolder(context.Background(), dir, sign.VerifyFolderOptions{IgnorePaths: c.ignore})
				if !errors.Is(err, sign.ErrResources) {
					t.Fatalf("err = %v, want ErrResources", err)
				}
			})
		}
	}
}

func TestInteropVectorsRejectWrongAuthority(t *testing.T) {
	other, _ := sign.GenerateKey(p384())
	wrongKey, _ := sign.KeyAuthority(&other.PublicKey)
	tr, _ := sign.LoadTrustedRoot(readFile(t, filepath.Join(interop, "trusted-root-public-good.json")))
	wrongID, _ := sign.KeylessAuthority(tr, sign.Identity{Subject: "someone@example.com", Issuer: "https://sigstore.verify.ibm.com/oauth2"})
	wrongIssuer, _ := sign.KeylessAuthority(tr, sign.Identity{Subject: "stefanb@us.ibm.com", IssuerRegexp: "^https://accounts\\.google\\.com$"})
	for _, c := range interopCases() {
		wrong := map[string]sign.Authority{"another key": wrongKey, "another identity": wrongID, "another issuer": wrongIssuer}
		for mode, a := range interopAuthorities(t, c.root) {
			if mode != c.mode {
				wrong["the "+mode+" authority"] = a
			}
		}
		for name, a := range wrong {
			t.Run(c.String()+"/"+name, func(t *testing.T) {
				v, _ := sign.NewVerifier(a)
				dir := filepath.Join(c.root, c.dir)
				_, err := v.VerifyFolder(context.Background(), filepath.Join(dir, c.model), sign.VerifyFolderOptions{
					SignaturePath: filepath.Join(dir, "model.sig"), IgnorePaths: c.ignore,
				})
				if !errors.Is(err, sign.ErrSignature) {
					t.Fatalf("err = %v, want ErrSignature", err)
				}
			})
		}
	}
}
