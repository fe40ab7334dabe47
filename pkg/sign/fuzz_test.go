package sign_test

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/modelverify/modelverify/pkg/sign"
)

// interopBundles are the reference tool's bundles, the fuzz seeds.
func interopBundles(f *testing.F) [][]byte {
	paths, _ := filepath.Glob(filepath.Join(interop, "*", "model.sig"))
	more, _ := filepath.Glob(filepath.Join(releases, "*", "model.sig"))
	paths = append(paths, more...)
	var out [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	if len(out) == 0 {
		f.Fatal("no seed bundles in testdata/interop")
	}
	return out
}

func FuzzParseBundle(f *testing.F) {
	for _, b := range interopBundles(f) {
		f.Add(b)
	}
	priv, _ := sign.GenerateKey(p256())
	v := keyVerifier(&testing.T{}, &priv.PublicKey)
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := sign.ParseBundle(data)
		if err == nil && b.GetDsseEnvelope() == nil {
			t.Fatal("a parsed bundle without an envelope")
		}
		// Whatever the input, verification says no without panicking.
		if _, err := v.VerifyBundle(data); err == nil {
			t.Fatal("a fuzzed bundle verified with a fresh key")
		}
	})
}

func FuzzParseStatement(f *testing.F) {
	for _, b := range interopBundles(f) {
		var bundle struct {
			DsseEnvelope struct {
				Payload string `json:"payload"`
			} `json:"dsseEnvelope"`
		}
		if err := json.Unmarshal(b, &bundle); err != nil {
			f.Fatal(err)
		}
		p, _ := base64.StdEncoding.DecodeString(bundle.DsseEnvelope.Payload)
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := sign.ParseStatement(data)
		if err != nil {
			return
		}
		// An accepted statement is self-consistent.
		root, err := sign.RootDigest(st.Predicate.Resources)
		if err != nil || root != st.SubjectDigest() {
			t.Fatalf("accepted a statement whose root digest %s != subject %s (%v)", root, st.SubjectDigest(), err)
		}
	})
}

func FuzzParsePrivateKeyPEM(f *testing.F) {
	priv, _ := sign.GenerateKey(p256())
	plain, _ := sign.MarshalPrivateKeyPEM(priv, nil)
	f.Add(plain, []byte(""))
	pub, _ := sign.MarshalPublicKeyPEM(&priv.PublicKey)
	f.Add(pub, []byte("x"))
	f.Add(readFileF(f, filepath.Join(interop, "keys/signing-key-pub.pem")), []byte(""))
	f.Fuzz(func(t *testing.T, data, password []byte) {
		// Encrypted keys are left out: each try would run PBKDF2 or scrypt
		// in full (cosign's files even with an empty password).
		if len(data) > 40 && data[0] == '-' && string(data[11:20]) == "ENCRYPTED" {
			return
		}
		sign.ParsePrivateKeyPEM(data, password)
		sign.ParsePublicKeyPEM(data)
		sign.ParseCertificatesPEM(data)
	})
}

func readFileF(f *testing.F, p string) []byte {
	b, err := os.ReadFile(p)
	if err != nil {
		f.Fatal(err)
	}
	return b
}
