package sign

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"testing"

	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
)

func TestPyBytesReprMatchesCPython(t *testing.T) {
	// Each want is what CPython 3.11 prints for repr(in).
	cases := []struct{ in, want string }{
		{"", `b''`},
		{"{\n  \"a\": 1\n}", `b'{\n  "a": 1\n}'`},
		{"it's", `b"it's"`},
		{`both ' and "`, `b'both \' and "'`},
		{`\ back`, `b'\\ back'`},
		{"\t\r\x00\x1f\x7f\x80\xff", `b'\t\r\x00\x1f\x7f\x80\xff'`},
		{"caf\u00e9", `b'caf\xc3\xa9'`},
	}
	for _, c := range cases {
		if got := string(appendPyBytesRepr(nil, []byte(c.in))); got != c.want {
			t.Errorf("repr(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestLegacyEncodingIsOnlyAFallback(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	payload := []byte("{\n  \"_type\": \"x\"\n}")
	sign := func(msg []byte) *protodsse.Envelope {
		d := sha256.Sum256(msg)
		sig, err := ecdsa.SignASN1(rand.Reader, key, d[:])
		if err != nil {
			t.Fatal(err)
		}
		return &protodsse.Envelope{Payload: payload, PayloadType: PayloadTypeInToto, Signatures: []*protodsse.Signature{{Sig: sig}}}
	}
	wantLegacy := "DSSEV1 28 application/vnd.in-toto+json 18 b'{\\n  \"_type\": \"x\"\\n}'"
	if got := string(legacyPAE(PayloadTypeInToto, payload)); got != wantLegacy {
		t.Fatalf("legacyPAE = %s, want %s", got, wantLegacy)
	}
	for name, env := range map[string]*protodsse.Envelope{
		"DSSE":   sign(pae(PayloadTypeInToto, payload)),
		"legacy": sign(legacyPAE(PayloadTypeInToto, payload)),
	} {
		if err := verifyDSSE(env, &key.PublicKey); err != nil {
			t.Errorf("%s encoding: %v", name, err)
		}
		env.Payload = []byte("{\n  \"_type\": \"y\"\n}")
		if err := verifyDSSE(env, &key.PublicKey); err == nil {
			t.Errorf("%s encoding: a changed payload verified", name)
		}
	}
	if err := verifyDSSE(sign([]byte("DSSEV1 something else")), &key.PublicKey); err == nil {
		t.Error("a signature over another message verified")
	}
}
