package sign

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"strconv"

	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
)

// pae is the DSSE v1 pre-authentication encoding.
func pae(payloadType string, payload []byte) []byte {
	out := []byte("DSSEv1 " + strconv.Itoa(len(payloadType)) + " " + payloadType + " " + strconv.Itoa(len(payload)) + " ")
	return append(out, payload...)
}

// legacyPAE is the encoding that reference-tool releases before 0.3 signed
// in place of the DSSE one, for keys and certificates: "DSSEV1", the
// lengths, and the payload as Python prints a bytes object (b'...', with
// escapes). The reference tool still accepts it, and so do we, for those
// two trust modes only: a keyless bundle is checked by sigstore-go, which
// holds the correct encoding.
func legacyPAE(payloadType string, payload []byte) []byte {
	out := []byte("DSSEV1 " + strconv.Itoa(len(payloadType)) + " " + payloadType + " " + strconv.Itoa(len(payload)) + " ")
	return appendPyBytesRepr(out, payload)
}

// appendPyBytesRepr appends repr(b) as CPython writes it for a bytes object:
// single quotes unless b holds a single quote and no double quote; \t, \n,
// \r, the quote and the backslash escaped; other bytes outside printable
// ASCII as \xhh.
func appendPyBytesRepr(out, b []byte) []byte {
	quote := byte('\'')
	if bytes.IndexByte(b, '\'') >= 0 && bytes.IndexByte(b, '"') < 0 {
		quote = '"'
	}
	const hexdigits = "0123456789abcdef"
	out = append(out, 'b', quote)
	for _, c := range b {
		switch {
		case c == quote || c == '\\':
			out = append(out, '\\', c)
		case c == '\t':
			out = append(out, '\\', 't')
		case c == '\n':
			out = append(out, '\\', 'n')
		case c == '\r':
			out = append(out, '\\', 'r')
		case c < ' ' || c >= 0x7f:
			out = append(out, '\\', 'x', hexdigits[c>>4], hexdigits[c&0xf])
		default:
			out = append(out, c)
		}
	}
	return append(out, quote)
}

// verifyDSSE checks that one of env's signatures verifies with pub, over the
// DSSE encoding or, for bundles from early reference-tool releases, over
// legacyPAE (which those releases hashed with SHA-256 whatever the curve).
func verifyDSSE(env *protodsse.Envelope, pub *ecdsa.PublicKey) error {
	if env == nil {
		return ErrNoEnvelope
	}
	if len(env.GetSignatures()) == 0 {
		return errors.New("DSSE envelope has no signature")
	}
	h, err := hashForKey(pub)
	if err != nil {
		return err
	}
	if verifyEncoded(env, pub, pae(env.GetPayloadType(), env.GetPayload()), h) || verifyLegacyDSSE(env, pub) {
		return nil
	}
	return fmt.Errorf("DSSE signature does not verify with the certificate's key")
}

// verifyLegacyDSSE reports whether one of env's signatures verifies with
// pub over legacyPAE.
func verifyLegacyDSSE(env *protodsse.Envelope, pub *ecdsa.PublicKey) bool {
	h, err := hashForKey(pub)
	if env == nil || err != nil {
		return false
	}
	msg := legacyPAE(env.GetPayloadType(), env.GetPayload())
	return verifyEncoded(env, pub, msg, h) || (h != crypto.SHA256 && verifyEncoded(env, pub, msg, crypto.SHA256))
}

// verifyEncoded reports whether one of env's signatures verifies with pub
// over msg hashed with h.
func verifyEncoded(env *protodsse.Envelope, pub *ecdsa.PublicKey, msg []byte, h crypto.Hash) bool {
	d := h.New()
	d.Write(msg)
	digest := d.Sum(nil)
	for _, s := range env.GetSignatures() {
		if ecdsa.VerifyASN1(pub, digest, s.GetSig()) {
			return true
		}
	}
	return false
}
