package sign_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelverify/modelverify/internal/testutil/sigstore"
	"github.com/modelverify/modelverify/pkg/manifest"
	"github.com/modelverify/modelverify/pkg/sign"
)

var ctx = context.Background()

func keyVerifier(t *testing.T, pub *ecdsa.PublicKey) *sign.Verifier {
	t.Helper()
	a, err := sign.KeyAuthority(pub)
	if err != nil {
		t.Fatal(err)
	}
	v, err := sign.NewVerifier(a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// mustSigner unwraps a signer constructor in test setup.
func mustSigner(s *sign.Signer, err error) *sign.Signer {
	if err != nil {
		panic(err)
	}
	return s
}

func TestSignedFolderVerifiesAndTamperingIsNamed(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts sign.FolderOptions
	}{
		{"P-256 key, one resource per file", sign.FolderOptions{}},
		{"P-256 key, shards of 7 bytes", sign.FolderOptions{Method: sign.MethodShards, ShardSize: 7}},
		{"P-256 key, one worker", sign.FolderOptions{Workers: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			priv, _ := sign.GenerateKey(p256())
			s := mustSigner(sign.NewKeySigner(priv))
			v := keyVerifier(t, &priv.PublicKey)
			tamper := map[string]func(dir string) error{
				"changed": func(dir string) error {
					return os.WriteFile(filepath.Join(dir, "tokenizer/vocab.txt"), []byte("a\nb\nX\n"), 0o644)
				},
				"missing": func(dir string) error { return os.Remove(filepath.Join(dir, "tokenizer/vocab.txt")) },
				"not signed": func(dir string) error {
					return os.WriteFile(filepath.Join(dir, "tokenizer/evil.py"), []byte("import os"), 0o644)
				},
			}
			for kind, f := range tamper {
				dir := writeTree(t, sampleModel)
				st, err := sign.SignFolder(ctx, s, dir, sign.SignFolderOptions{FolderOptions: tc.opts})
				if err != nil {
					t.Fatal(err)
				}
				res, err := v.VerifyFolder(ctx, dir, sign.VerifyFolderOptions{})
				if err != nil {
					t.Fatalf("verify untouched: %v", err)
				}
				if res.Digest != st.SubjectDigest() || res.Name != "model" {
					t.Errorf("result %+v, statement digest %s", res, st.SubjectDigest())
				}
				// Git metadata is not part of the model: changing it is fine.
				if err := os.WriteFile(filepath.Join(dir, ".git/HEAD"), []byte("other"), 0o644); err != nil {
					t.Fatal(err)
				}
				if _, err := v.VerifyFolder(ctx, dir, sign.VerifyFolderOptions{}); err != nil {
					t.Fatalf("verify after a git change: %v", err)
				}
				if err := f(dir); err != nil {
					t.Fatal(err)
				}
				_, err = v.VerifyFolder(ctx, dir, sign.VerifyFolderOptions{})
				if !errors.Is(err, sign.ErrResources) || !sign.IsVerificationError(err) {
					t.Fatalf("%s file: err = %v, want ErrResources", kind, err)
				}
				want := "tokenizer/vocab.txt"
				if kind == "not signed" {
					want = "tokenizer/evil.py"
				}
				if !strings.Contains(err.Error(), kind+": "+want) {
					t.Errorf("%s file: message %q does not name %s", kind, err, want)
				}
			}
		})
	}
}

func TestStatementMatchesTheReferenceLayout(t *testing.T) {
	priv, _ := sign.GenerateKey(p384())
	s := mustSigner(sign.NewKeySigner(priv))
	dir := writeTree(t, sampleModel)
	if _, err := sign.SignFolder(ctx, s, dir, sign.SignFolderOptions{FolderOptions: sign.FolderOptions{IgnorePaths: []string{"empty"}}}); err != nil {
		t.Fatal(err)
	}
	var b struct {
		MediaType            string `json:"mediaType"`
		VerificationMaterial struct {
			PublicKey struct {
				Hint string `json:"hint"`
			} `json:"publicKey"`
		} `json:"verificationMaterial"`
		DsseEnvelope struct {
			Payload     string `json:"payload"`
			PayloadType string `json:"payloadType"`
		} `json:"dsseEnvelope"`
	}
	if err := json.Unmarshal(readFile(t, filepath.Join(dir, "model.sig")), &b); err != nil {
		t.Fatal(err)
	}
	hint, _ := sign.KeyHint(&priv.PublicKey)
	if b.MediaType != sign.BundleMediaType || b.VerificationMaterial.PublicKey.Hint != hint || b.DsseEnvelope.PayloadType != sign.PayloadTypeInToto {
		t.Fatalf("bundle header %+v, want hint %s", b, hint)
	}
	payload, _ := base64.StdEncoding.DecodeString(b.DsseEnvelope.Payload)
	st, err := sign.ParseStatement(payload)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range st.Predicate.Resources {
		names = append(names, r.Name)
	}
	want := []string{"a/b", "a-b/c", "config.json", "model.safetensors", "tokenizer/vocab.txt"}
	if !slices.Equal(names, want) {
		t.Errorf("resources %v, want %v (path-component order, no model.sig, .git or ignored files)", names, want)
	}
	ser := st.Predicate.Serialization
	if ser.Method != "files" || ser.HashType != "sha256" || ser.AllowSymlinks || !slices.Contains(ser.IgnorePaths, "model.sig") || !slices.Contains(ser.IgnorePaths, "empty") || !slices.Contains(ser.IgnorePaths, ".git") {
		t.Errorf("serialization %+v", ser)
	}
}

func TestOurSerializationEqualsTheReferenceTool(t *testing.T) {
	// Hash the reference vector's folder ourselves: the resources (names,
	// algorithms, digests), the subject and the serialization must be those
	// the reference tool signed.
	shards := sign.FolderOptions{Method: sign.MethodShards, ShardSize: 32}
	for _, c := range []struct {
		root, dir, mode string
		opts            sign.FolderOptions
	}{
		{interop, "v1.1.0-elliptic-key", "elliptic-key", sign.FolderOptions{}},
		{interop, "v1.1.0-certificate", "certificate", sign.FolderOptions{}},
		{releases, "v1.1.1-elliptic-key-shards", "elliptic-key", shards},
		{releases, "v1.1.1-certificate-shards", "certificate", shards},
	} {
		t.Run(c.dir, func(t *testing.T) {
			p := filepath.Join(c.root, c.dir)
			opts := c.opts
			opts.IgnorePaths = []string{"ignore-me", "model.sig"}
			m, err := sign.HashFolder(ctx, p, opts)
			if err != nil {
				t.Fatal(err)
			}
			st, err := sign.NewStatement(m)
			if err != nil {
				t.Fatal(err)
			}
			v, _ := sign.NewVerifier(interopAuthorities(t, c.root)[c.mode])
			ref, _, err := v.VerifyStatement(readFile(t, filepath.Join(p, "model.sig")))
			if err != nil {
				t.Fatal(err)
			}
			if st.SubjectDigest() != ref.SubjectDigest() || st.Subject[0].Name != ref.Subject[0].Name {
				t.Errorf("subject %+v, reference %+v", st.Subject, ref.Subject)
			}
			if !slices.Equal(st.Predicate.Resources, ref.Predicate.Resources) {
				t.Errorf("resources %+v, reference %+v", st.Predicate.Resources, ref.Predicate.Resources)
			}
			got, want := st.Predicate.Serialization, ref.Predicate.Serialization
			want.IgnorePaths = sortedCopy(want.IgnorePaths)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("serialization %+v, reference %+v", got, want)
			}
		})
	}
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

func TestCertificateIdentities(t *testing.T) {
	codeSigning := []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}
	p := newPKI(t, codeSigning, time.Now().Add(time.Hour))
	s := mustSigner(sign.NewCertificateSigner(p.leafKey, p.leaf, []*x509.Certificate{p.inter}))
	dir := writeTree(t, sampleModel)
	if _, err := sign.SignFolder(ctx, s, dir, sign.SignFolderOptions{}); err != nil {
		t.Fatal(err)
	}
	inter := "CN=test intermediate"
	for _, tc := range []struct {
		name string
		ids  []sign.Identity
		ok   bool
	}{
		{"the email SAN and the issuing CA", []sign.Identity{{Subject: "ml-release@example.com", Issuer: inter}}, true},
		{"the common name", []sign.Identity{{Subject: "model signer", Issuer: inter}}, true},
		{"regexps", []sign.Identity{{SubjectRegexp: `^ml-.*@example\.com$`, IssuerRegexp: `^CN=test `}}, true},
		{"one of several", []sign.Identity{{Subject: "x@example.com", Issuer: inter}, {Subject: "ml-release@example.com", Issuer: inter}}, true},
		{"another subject", []sign.Identity{{Subject: "mallory@example.com", Issuer: inter}}, false},
		{"another issuer", []sign.Identity{{Subject: "ml-release@example.com", Issuer: "CN=test root"}}, false},
		{"an unanchored regexp is the caller's choice", []sign.Identity{{SubjectRegexp: `example`, IssuerRegexp: `intermediate`}}, true},
		{"a subject regexp that does not match", []sign.Identity{{SubjectRegexp: `^ml-release@example\.org$`, Issuer: inter}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := sign.CertificateAuthority([]*x509.Certificate{p.root}, tc.ids...)
			if err != nil {
				t.Fatal(err)
			}
			v, _ := sign.NewVerifier(a)
			res, err := v.VerifyFolder(ctx, dir, sign.VerifyFolderOptions{})
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				if res.Signer.Identity != "ml-release@example.com" {
					t.Errorf("signer %+v", res.Signer)
				}
				return
			}
			if !errors.Is(err, sign.ErrSignature) || !strings.Contains(err.Error(), "certificate identity") {
				t.Fatalf("err = %v, want ErrSignature naming the identity", err)
			}
		})
	}
	for _, bad := range []sign.Identity{
		{Subject: "a"}, // no issuer
		{Issuer: "b"},  // no subject
		{Subject: "a", SubjectRegexp: "a", Issuer: "b"}, // both
		{SubjectRegexp: "(", Issuer: "b"},               // bad regexp
	} {
		if _, err := sign.CertificateAuthority([]*x509.Certificate{p.root}, bad); err == nil {
			t.Errorf("identity %+v accepted", bad)
		}
	}
}

func TestSingleFileModel(t *testing.T) {
	priv, _ := sign.GenerateKey(p256())
	s := mustSigner(sign.NewKeySigner(priv))
	dir := writeTree(t, map[string]string{"weights.bin": "0123456789", "other": "x"})
	file := filepath.Join(dir, "weights.bin")
	st, err := sign.SignFolder(ctx, s, file, sign.SignFolderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Predicate.Resources) != 1 || st.Predicate.Resources[0].Name != "." || st.Subject[0].Name != "weights.bin" {
		t.Fatalf("statement %+v", st)
	}
	v := keyVerifier(t, &priv.PublicKey)
	if _, err := v.VerifyFolder(ctx, file, sign.VerifyFolderOptions{}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(file, []byte("0123456780"), 0o644)
	if _, err := v.VerifyFolder(ctx, file, sign.VerifyFolderOptions{}); !errors.Is(err, sign.ErrResources) {
		t.Fatalf("err = %v", err)
	}
}

func TestSymlinksAreRefusedUnlessAllowed(t *testing.T) {
	priv, _ := sign.GenerateKey(p256())
	s := mustSigner(sign.NewKeySigner(priv))
	dir := writeTree(t, map[string]string{"real": "data"})
	if err := os.Symlink("real", filepath.Join(dir, "link")); err != nil {
		t.Skip(err)
	}
	if _, err := sign.SignFolder(ctx, s, dir, sign.SignFolderOptions{}); !errors.Is(err, sign.ErrSymlink) {
		t.Fatalf("err = %v, want ErrSymlink", err)
	}
	st, err := sign.SignFolder(ctx, s, dir, sign.SignFolderOptions{FolderOptions: sign.FolderOptions{AllowSymlinks: true}})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Predicate.Resources) != 2 || !st.Predicate.Serialization.AllowSymlinks {
		t.Fatalf("statement %+v", st.Predicate)
	}
	if _, err := keyVerifier(t, &priv.PublicKey).VerifyFolder(ctx, dir, sign.VerifyFolderOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestCertificateMode(t *testing.T) {
	codeSigning := []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}
	good := newPKI(t, codeSigning, time.Now().Add(time.Hour))
	other := newPKI(t, codeSigning, time.Now().Add(time.Hour))
	serverOnly := newPKI(t, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, time.Now().Add(time.Hour))
	expired := newPKI(t, codeSigning, time.Now().Add(-time.Minute))
	for _, tc := range []struct {
		name   string
		signer *pki
		roots  *pki
		ok     bool
	}{
		{"a chain to the trusted root verifies", good, good, true},
		{"a chain to another root fails", good, other, false},
		{"a certificate not for code signing fails", serverOnly, serverOnly, false},
		{"an expired certificate fails", expired, expired, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The root given in the chain is dropped from the bundle.
			s := mustSigner(sign.NewCertificateSigner(tc.signer.leafKey, tc.signer.leaf, []*x509.Certificate{tc.signer.inter, tc.signer.root}))
			dir := writeTree(t, sampleModel)
			if _, err := sign.SignFolder(ctx, s, dir, sign.SignFolderOptions{}); err != nil {
				t.Fatal(err)
			}
			a, _ := sign.CertificateAuthority([]*x509.Certificate{tc.roots.root})
			v, _ := sign.NewVerifier(a)
			_, err := v.VerifyFolder(ctx, dir, sign.VerifyFolderOptions{})
			if tc.ok && err != nil {
				t.Fatal(err)
			}
			if !tc.ok && !errors.Is(err, sign.ErrSignature) {
				t.Fatalf("err = %v, want ErrSignature", err)
			}
		})
	}
	if _, err := sign.NewCertificateSigner(other.leafKey, good.leaf, nil); !errors.Is(err, sign.ErrKey) {
		t.Errorf("a certificate for another key: err = %v", err)
	}
}

func TestKeylessVirtualSigstore(t *testing.T) {
	vs := sigstore.New(t)
	rootPath := filepath.Join(t.TempDir(), "trusted_root.json")
	if err := os.WriteFile(rootPath, vs.TrustedRootJSON(t), 0o644); err != nil {
		t.Fatal(err)
	}
	tr, err := sign.LoadTrustedRoot(readFile(t, rootPath))
	if err != nil {
		t.Fatal(err)
	}
	const who, issuer = "ml-team@example.com", "https://accounts.example.com"

	signed := func(t *testing.T, edit func(b []byte) []byte) string {
		dir := writeTree(t, sampleModel)
		m, err := sign.HashFolder(ctx, dir, sign.FolderOptions{IgnorePaths: []string{"model.sig"}})
		if err != nil {
			t.Fatal(err)
		}
		st, _ := sign.NewStatement(m)
		payload, _ := json.Marshal(st)
		b := vs.Bundle(t, who, issuer, payload)
		if edit != nil {
			b = edit(b)
		}
		if err := os.WriteFile(filepath.Join(dir, "model.sig"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	tamperPayload := func(b []byte) []byte {
		var m map[string]any
		json.Unmarshal(b, &m)
		env := m["dsseEnvelope"].(map[string]any)
		p, _ := base64.StdEncoding.DecodeString(env["payload"].(string))
		p = bytes.Replace(p, []byte(`"config.json"`), []byte(`"config.jsoN"`), 1)
		env["payload"] = base64.StdEncoding.EncodeToString(p)
		out, _ := json.Marshal(m)
		return out
	}
	for _, tc := range []struct {
		name string
		id   sign.Identity
		edit func([]byte) []byte
		file bool // tamper with a file after signing
		want error
	}{
		{"the right identity and issuer verify", sign.Identity{Subject: who, Issuer: issuer}, nil, false, nil},
		{"identity and issuer regexps verify", sign.Identity{SubjectRegexp: `^[a-z-]+@example\.com$`, IssuerRegexp: `^https://accounts\.example\.com$`}, nil, false, nil},
		{"a wrong identity fails", sign.Identity{Subject: "mallory@example.com", Issuer: issuer}, nil, false, sign.ErrSignature},
		{"a wrong issuer fails", sign.Identity{Subject: who, Issuer: "https://token.actions.githubusercontent.com"}, nil, false, sign.ErrSignature},
		{"a tampered payload fails", sign.Identity{Subject: who, Issuer: issuer}, tamperPayload, false, sign.ErrSignature},
		{"a tampered file fails", sign.Identity{Subject: who, Issuer: issuer}, nil, true, sign.ErrResources},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := sign.KeylessAuthority(tr, tc.id)
			if err != nil {
				t.Fatal(err)
			}
			v, _ := sign.NewVerifier(a)
			dir := signed(t, tc.edit)
			if tc.file {
				os.WriteFile(filepath.Join(dir, "model.safetensors"), []byte("evil"), 0o644)
			}
			res, err := v.VerifyFolder(ctx, dir, sign.VerifyFolderOptions{})
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if res.Signer.Identity != who || res.Signer.Issuer != issuer {
					t.Errorf("signer %+v", res.Signer)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("a bundle from another Sigstore fails", func(t *testing.T) {
		other := sigstore.New(t)
		dir := writeTree(t, sampleModel)
		m, _ := sign.HashFolder(ctx, dir, sign.FolderOptions{IgnorePaths: []string{"model.sig"}})
		st, _ := sign.NewStatement(m)
		payload, _ := json.Marshal(st)
		os.WriteFile(filepath.Join(dir, "model.sig"), other.Bundle(t, who, issuer, payload), 0o644)
		a, _ := sign.KeylessAuthority(tr, sign.Identity{Subject: who, Issuer: issuer})
		v, _ := sign.NewVerifier(a)
		if _, err := v.VerifyFolder(ctx, dir, sign.VerifyFolderOptions{}); !errors.Is(err, sign.ErrSignature) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestMissingSignatureIsAVerificationFailure(t *testing.T) {
	priv, _ := sign.GenerateKey(p256())
	_, err := keyVerifier(t, &priv.PublicKey).VerifyFolder(ctx, writeTree(t, sampleModel), sign.VerifyFolderOptions{})
	if !errors.Is(err, sign.ErrNoSignature) || !sign.IsVerificationError(err) || !manifest.IsBadArtifact(err) {
		t.Fatalf("err = %v", err)
	}
}

func TestMalformedBundleIsNotAVerificationFailure(t *testing.T) {
	priv, _ := sign.GenerateKey(p256())
	dir := writeTree(t, sampleModel)
	os.WriteFile(filepath.Join(dir, "model.sig"), []byte("{not json"), 0o644)
	_, err := keyVerifier(t, &priv.PublicKey).VerifyFolder(ctx, dir, sign.VerifyFolderOptions{})
	if err == nil || sign.IsVerificationError(err) || manifest.IsBadArtifact(err) {
		t.Fatalf("err = %v, want a could-not-decide error", err)
	}
}

func TestEncryptedPrivateKey(t *testing.T) {
	priv, _ := sign.GenerateKey(p384())
	pemBytes, err := sign.MarshalPrivateKeyPEM(priv, []byte("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(pemBytes, []byte("ENCRYPTED PRIVATE KEY")) {
		t.Fatalf("not encrypted: %s", pemBytes)
	}
	got, err := sign.ParsePrivateKeyPEM(pemBytes, []byte("s3cret"))
	if err != nil || !got.Equal(priv) {
		t.Fatalf("round trip: %v", err)
	}
	if _, err := sign.ParsePrivateKeyPEM(pemBytes, []byte("wrong")); !errors.Is(err, sign.ErrPassword) {
		t.Errorf("wrong password: err = %v", err)
	}
	if _, err := sign.ParsePrivateKeyPEM(pemBytes, nil); !errors.Is(err, sign.ErrPassword) {
		t.Errorf("no password: err = %v", err)
	}
	// OpenSSL reads what we write (and so does Python's cryptography, which
	// the reference tool uses: both implement PBES2).
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	p := filepath.Join(t.TempDir(), "k.pem")
	os.WriteFile(p, pemBytes, 0o600)
	out, err := exec.Command(openssl, "pkey", "-in", p, "-passin", "pass:s3cret", "-pubout").CombinedOutput()
	if err != nil {
		t.Fatalf("openssl: %v\n%s", err, out)
	}
	pub, err := sign.ParsePublicKeyPEM(out)
	if err != nil || !pub.Equal(&priv.PublicKey) {
		t.Fatalf("openssl's public key differs: %v", err)
	}
	// And we read a key OpenSSL encrypted.
	p2 := filepath.Join(t.TempDir(), "k2.pem")
	if out, err := exec.Command(openssl, "pkcs8", "-topk8", "-in", p, "-passin", "pass:s3cret", "-passout", "pass:other", "-v2", "aes-128-cbc", "-out", p2).CombinedOutput(); err != nil {
		t.Fatalf("openssl: %v\n%s", err, out)
	}
	got, err = sign.ParsePrivateKeyPEM(readFile(t, p2), []byte("other"))
	if err != nil || !got.Equal(priv) {
		t.Fatalf("openssl-encrypted key: %v", err)
	}
}

func TestKeylessSignerOptionsAndServerErrors(t *testing.T) {
	for _, o := range []sign.KeylessOptions{
		{RekorURL: "http://127.0.0.1:1", IDToken: "t"},
		{FulcioURL: "http://127.0.0.1:1", IDToken: "t"},
		{FulcioURL: "http://127.0.0.1:1", RekorURL: "http://127.0.0.1:1"},
	} {
		if _, err := sign.NewKeylessSigner(o); err == nil {
			t.Errorf("%+v: accepted", o)
		}
	}
	// A Fulcio that refuses: signing fails, nothing is written.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusUnauthorized)
	}))
	defer srv.Close()
	s, err := sign.NewKeylessSigner(sign.KeylessOptions{FulcioURL: srv.URL, RekorURL: srv.URL, IDToken: "eyJ.e30.sig", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	dir := writeTree(t, sampleModel)
	if _, err := sign.SignFolder(ctx, s, dir, sign.SignFolderOptions{}); err == nil || sign.IsVerificationError(err) {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "model.sig")); err == nil {
		t.Error("a signature was written although signing failed")
	}
}

func TestKeylessSignThroughFulcioAndRekor(t *testing.T) {
	svc := sigstore.NewServices(t)
	tr, err := sign.LoadTrustedRoot(svc.TrustedRootJSON(t))
	if err != nil {
		t.Fatal(err)
	}
	const who, issuer = "release@example.com", "https://issuer.example.com"
	s, err := sign.NewKeylessSigner(sign.KeylessOptions{
		FulcioURL: svc.FulcioURL, RekorURL: svc.RekorURL, TSAURL: svc.TSAURL, IDToken: sigstore.IDToken(who, issuer), TrustedRoot: tr,
	})
	if err != nil {
		t.Fatal(err)
	}
	dir := writeTree(t, sampleModel)
	if _, err := sign.SignFolder(ctx, s, dir, sign.SignFolderOptions{}); err != nil {
		t.Fatal(err)
	}
	var b struct {
		VerificationMaterial struct {
			TlogEntries               []json.RawMessage `json:"tlogEntries"`
			TimestampVerificationData struct {
				Rfc3161Timestamps []json.RawMessage `json:"rfc3161Timestamps"`
			} `json:"timestampVerificationData"`
			Certificate struct {
				RawBytes string `json:"rawBytes"`
			} `json:"certificate"`
		} `json:"verificationMaterial"`
	}
	json.Unmarshal(readFile(t, filepath.Join(dir, "model.sig")), &b)
	vm := b.VerificationMaterial
	if len(vm.TlogEntries) != 1 || len(vm.TimestampVerificationData.Rfc3161Timestamps) != 1 || vm.Certificate.RawBytes == "" {
		t.Fatalf("the bundle lacks a certificate, a log entry or a timestamp: %+v", vm)
	}
	for _, tc := range []struct {
		id sign.Identity
		ok bool
	}{
		{sign.Identity{Subject: who, Issuer: issuer}, true},
		{sign.Identity{Subject: "else@example.com", Issuer: issuer}, false},
		{sign.Identity{Subject: who, Issuer: "https://accounts.google.com"}, false},
	} {
		a, _ := sign.KeylessAuthority(tr, tc.id)
		v, _ := sign.NewVerifier(a)
		res, err := v.VerifyFolder(ctx, dir, sign.VerifyFolderOptions{})
		if tc.ok && (err != nil || res.Signer.Identity != who || res.Signer.Issuer != issuer) {
			t.Errorf("%v: %v %+v", tc.id, err, res)
		}
		if !tc.ok && !errors.Is(err, sign.ErrSignature) {
			t.Errorf("%v: err = %v, want ErrSignature", tc.id, err)
		}
	}
}
