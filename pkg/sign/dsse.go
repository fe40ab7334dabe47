package sign

import (
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

// verifyDSSE checks that one of env's signatures verifies with pub.
func verifyDSSE(env *protodsse.Envelope, pub *ecdsa.PublicKey) error {
	if env == nil {
		return ErrNoEnvelope
	}
	h, err := hashForKey(pub)
	if err != nil {
		return err
	}
	d := h.New()
	d.Write(pae(env.GetPayloadType(), env.GetPayload()))
	digest := d.Sum(nil)
	if len(env.GetSignatures()) == 0 {
		return errors.New("DSSE envelope has no signature")
	}
	for _, s := range env.GetSignatures() {
		if ecdsa.VerifyASN1(pub, digest, s.GetSig()) {
			return nil
		}
	}
	return fmt.Errorf("DSSE signature does not verify with the certificate's key")
}
