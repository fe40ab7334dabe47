package sign

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/modelverify/modelverify/pkg/sign/kms"
	"github.com/modelverify/modelverify/pkg/sign/pkcs11"
)

// Trust says whose signatures are accepted: public keys (as PEM, or held
// in a KMS or a PKCS#11 token), certificate roots with the identities they
// may certify, and keyless identities under a Sigstore trusted root. The
// verify command's flags and each authority of an admission policy fill
// one, and Verifier turns it into authorities; keys in services are
// resolved here and nowhere else.
type Trust struct {
	// Keys are trusted public keys.
	Keys []TrustedKey
	// CertificateRoots, when set, accept certificates that chain to them,
	// for any of CertificateIdentities (none: any identity).
	CertificateRoots      []*x509.Certificate
	CertificateIdentities []Identity
	// TrustedRoot, when set, accepts keyless (Fulcio) certificates for each
	// of KeylessIdentities, which must not be empty.
	TrustedRoot       *root.TrustedRoot
	KeylessIdentities []Identity
}

// TrustedKey is one trusted public key: PEM data, or the URI of a key in a
// KMS (awskms://, gcpkms://, azurekms://, hashivault://) or a PKCS#11 token
// (pkcs11:), whose public half is fetched when the verifier is built. Name
// says where it came from, for messages (a file name, a policy entry).
type TrustedKey struct {
	Name string
	PEM  []byte
	URI  string
}

// ErrKeyService wraps the errors of a KMS or a PKCS#11 token that could not
// give a key's public half (unreachable, no such key, refused credentials):
// the question could not be decided. Any other error of Trust.Verifier is a
// configuration error.
var ErrKeyService = errors.New("key service")

// Verifier builds the authorities of t and a verifier accepting any of
// them. ctx bounds the fetch of public keys from services.
func (t Trust) Verifier(ctx context.Context) (*Verifier, error) {
	auths, err := t.Authorities(ctx)
	if err != nil {
		return nil, err
	}
	return NewVerifier(auths...)
}

// Authorities builds one authority per key, one for the certificate roots
// and one per keyless identity.
func (t Trust) Authorities(ctx context.Context) ([]Authority, error) {
	var out []Authority
	for _, k := range t.Keys {
		pub, err := k.PublicKey(ctx)
		if err != nil {
			return nil, err
		}
		a, err := KeyAuthority(pub)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out = append(out, a)
	}
	if len(t.CertificateRoots) > 0 {
		a, err := CertificateAuthority(t.CertificateRoots, t.CertificateIdentities...)
		if err != nil {
			return nil, fmt.Errorf("certificate: %w", err)
		}
		out = append(out, a)
	} else if len(t.CertificateIdentities) > 0 {
		return nil, errors.New("certificate identities without certificate roots")
	}
	if t.TrustedRoot != nil {
		if len(t.KeylessIdentities) == 0 {
			return nil, errors.New("keyless trust needs at least one identity")
		}
		for _, id := range t.KeylessIdentities {
			a, err := KeylessAuthority(t.TrustedRoot, id)
			if err != nil {
				return nil, fmt.Errorf("keyless identity: %w", err)
			}
			out = append(out, a)
		}
	} else if len(t.KeylessIdentities) > 0 {
		return nil, errors.New("keyless identities without a trusted root")
	}
	if len(out) == 0 {
		return nil, errors.New("no key, certificate roots or keyless identity is trusted")
	}
	return out, nil
}

// String names the key for messages.
func (k TrustedKey) String() string {
	switch {
	case k.Name != "":
		return k.Name
	case k.URI != "":
		return k.URI
	}
	return "inline key"
}

// Validate checks the key's form without contacting anything: a PEM public
// key, or a well-formed KMS or PKCS#11 URI (PKCS#11 in builds that have it).
func (k TrustedKey) Validate() error {
	if k.PEM != nil && k.URI == "" {
		_, err := k.parsePEM()
		return err
	}
	return k.validateURI()
}

func (k TrustedKey) parsePEM() (*ecdsa.PublicKey, error) {
	pub, err := ParsePublicKeyPEM(k.PEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", k, err)
	}
	return pub, nil
}

// validateURI checks that k holds exactly a URI, well formed for its kind.
func (k TrustedKey) validateURI() error {
	switch {
	case (k.URI == "") == (k.PEM == nil):
		return fmt.Errorf("%s: set exactly one of PEM and URI", k)
	case kms.IsURI(k.URI):
		return kms.Validate(k.URI)
	case pkcs11.IsURI(k.URI):
		_, err := pkcs11.ParseURI(k.URI)
		return err
	}
	return fmt.Errorf("%s: not a key URI (want pkcs11: or one of %v)", k, kms.Schemes())
}

// PublicKey returns the key: parsed from PEM, or fetched from its service.
func (k TrustedKey) PublicKey(ctx context.Context) (*ecdsa.PublicKey, error) {
	if k.PEM != nil && k.URI == "" {
		return k.parsePEM()
	}
	if err := k.validateURI(); err != nil {
		return nil, err
	}
	if kms.IsURI(k.URI) {
		pub, err := kms.PublicKey(ctx, k.URI)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrKeyService, err)
		}
		return pub, nil
	}
	priv, closeToken, err := pkcs11.Open(k.URI)
	if errors.Is(err, pkcs11.ErrNotBuilt) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeyService, err)
	}
	defer closeToken()
	pub, ok := priv.Public().(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%s: a %T key; only ECDSA keys sign models", k, priv.Public())
	}
	return pub, nil
}
