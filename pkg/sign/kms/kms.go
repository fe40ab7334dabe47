// Package kms signs with an ECDSA key held by a cloud key management service
// or HashiCorp Vault, named by a key URI:
//
//	awskms:///alias/model-signing               AWS KMS (key id, key ARN, alias or alias ARN)
//	awskms://kms.eu-west-1.amazonaws.com/alias/model-signing   the same, at this HTTPS endpoint
//	gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K[/cryptoKeyVersions/V]
//	azurekms://VAULT.vault.azure.net/KEY[/VERSION]
//	hashivault://KEY                            Vault's transit engine (openbao:// for OpenBao)
//
// The key never leaves the service: Open returns a crypto.Signer for
// sign.NewCryptoSigner, and PublicKey fetches the public half for
// verification. Credentials, regions and endpoints come from each
// provider's usual configuration (for AWS the SDK's environment and files:
// AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL_KMS, ...; for Google Cloud the
// application default credentials; for Azure AZURE_TENANT_ID and the other
// azidentity variables; for Vault VAULT_ADDR and VAULT_TOKEN). The clients
// are sigstore's KMS signers (github.com/sigstore/sigstore/pkg/signature/kms),
// called directly, so that an unknown scheme never reaches sigstore's
// plugin lookup, which runs programs found on $PATH.
//
// The package knows nothing of signing formats; it is pure Go, so the
// default static build carries every provider.
package kms

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/sigstore/sigstore/pkg/signature/kms/aws"
	"github.com/sigstore/sigstore/pkg/signature/kms/azure"
	"github.com/sigstore/sigstore/pkg/signature/kms/gcp"
	"github.com/sigstore/sigstore/pkg/signature/kms/hashivault"
	"github.com/sigstore/sigstore/pkg/signature/options"

	sigkms "github.com/sigstore/sigstore/pkg/signature/kms"
)

// ErrURI is the root of the errors for a key URI that is not well formed:
// a configuration error, found without contacting anything.
var ErrURI = errors.New("kms: invalid key URI")

// maxURI bounds the length of a key URI.
const maxURI = 4096

// provider is one KMS scheme: how its URIs are checked and its client made.
type provider struct {
	scheme string
	form   string // the URI's shape, for error messages
	valid  func(string) error
	load   func(ctx context.Context, uri string) (sigkms.SignerVerifier, error)
}

var providers = []provider{
	{aws.ReferenceScheme, "awskms://[ENDPOINT]/KEY-ID|KEY-ARN|alias/NAME|ALIAS-ARN", aws.ValidReference,
		func(ctx context.Context, uri string) (sigkms.SignerVerifier, error) {
			return aws.LoadSignerVerifier(ctx, uri)
		}},
	{gcp.ReferenceScheme, "gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K[/cryptoKeyVersions/V]", gcp.ValidReference,
		func(ctx context.Context, uri string) (sigkms.SignerVerifier, error) {
			return gcp.LoadSignerVerifier(ctx, uri)
		}},
	{azure.ReferenceScheme, "azurekms://VAULT.vault.azure.net/KEY[/VERSION]", azure.ValidReference,
		func(ctx context.Context, uri string) (sigkms.SignerVerifier, error) {
			return azure.LoadSignerVerifier(ctx, uri)
		}},
	{hashivault.ReferenceScheme, "hashivault://KEY", hashivault.ValidReference, loadVault},
	{hashivault.AlternativeScheme, "openbao://KEY", hashivault.ValidReference, loadVault},
}

func loadVault(ctx context.Context, uri string) (sigkms.SignerVerifier, error) {
	// The hash is the default only: every signature names its own.
	return hashivault.LoadSignerVerifier(uri, crypto.SHA256, options.WithContext(ctx))
}

// Schemes lists the URI schemes this package serves, with "://".
func Schemes() []string {
	out := make([]string, len(providers))
	for i, p := range providers {
		out[i] = p.scheme
	}
	return out
}

func find(s string) (provider, bool) {
	for _, p := range providers {
		if strings.HasPrefix(s, p.scheme) {
			return p, true
		}
	}
	return provider{}, false
}

// IsURI reports whether s starts with one of the KMS schemes. Such a
// string is never taken for a file name.
func IsURI(s string) bool {
	_, ok := find(s)
	return ok
}

// Validate checks that uri is a well-formed key URI of its scheme, without
// contacting the service. Its errors wrap ErrURI.
func Validate(uri string) error {
	p, ok := find(uri)
	if !ok {
		return fmt.Errorf("%w: %q does not start with %s", ErrURI, uri, strings.Join(Schemes(), ", "))
	}
	if len(uri) > maxURI {
		return fmt.Errorf("%w: longer than %d bytes", ErrURI, maxURI)
	}
	if err := p.valid(uri); err != nil {
		return fmt.Errorf("%w: %q: want %s", ErrURI, uri, p.form)
	}
	return nil
}

func load(ctx context.Context, uri string) (sigkms.SignerVerifier, error) {
	if err := Validate(uri); err != nil {
		return nil, err
	}
	p, _ := find(uri)
	sv, err := p.load(ctx, uri)
	if err != nil {
		return nil, fmt.Errorf("kms: %s: %w", uri, err)
	}
	return sv, nil
}

// PublicKey fetches the public key of the key uri names. Only ECDSA keys
// are accepted, as only they sign models.
func PublicKey(ctx context.Context, uri string) (*ecdsa.PublicKey, error) {
	sv, err := load(ctx, uri)
	if err != nil {
		return nil, err
	}
	return publicKey(ctx, uri, sv)
}

func publicKey(ctx context.Context, uri string, sv sigkms.SignerVerifier) (*ecdsa.PublicKey, error) {
	pub, err := sv.PublicKey(options.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("kms: %s: public key: %w", uri, err)
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("kms: %s: a %T key; only ECDSA keys sign models", uri, pub)
	}
	return ec, nil
}

// Open returns a signer for the key uri names. Its public key is fetched
// once, here; every Sign is a call to the service, made with ctx, so ctx
// must outlive the signer's use (the crypto.Signer interface has no
// context of its own).
func Open(ctx context.Context, uri string) (crypto.Signer, error) {
	sv, err := load(ctx, uri)
	if err != nil {
		return nil, err
	}
	pub, err := publicKey(ctx, uri, sv)
	if err != nil {
		return nil, err
	}
	s, _, err := sv.CryptoSigner(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("kms: %s: %w", uri, err)
	}
	return &signer{uri: uri, pub: pub, s: s}, nil
}

// signer answers Public from the key fetched by Open, so that Public never
// makes a call that could fail (sigstore's signers return nil then).
type signer struct {
	uri string
	pub *ecdsa.PublicKey
	s   crypto.Signer
}

var _ crypto.Signer = (*signer)(nil)

func (s *signer) Public() crypto.PublicKey { return s.pub }

// Sign signs digest in the service; ECDSA signatures come back ASN.1 DER.
// The signature is checked against the public key before it is returned, so
// that a service that signs with another key or in another encoding is
// caught here and not by the verifier of a published model.
func (s *signer) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	sig, err := s.s.Sign(rand, digest, opts)
	if err != nil {
		return nil, fmt.Errorf("kms: %s: sign: %w", s.uri, err)
	}
	if !ecdsa.VerifyASN1(s.pub, digest, sig) {
		return nil, fmt.Errorf("kms: %s: the service's signature does not verify with the key's public key", s.uri)
	}
	return sig, nil
}
