package sign

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	"github.com/sigstore/sigstore-go/pkg/root"
	sgsign "github.com/sigstore/sigstore-go/pkg/sign"
	"google.golang.org/protobuf/encoding/protojson"
)

// Signer signs statements into Sigstore bundles in one trust mode. It is
// safe for concurrent use.
type Signer struct {
	keypair func() (sgsign.Keypair, error)
	opts    sgsign.BundleOptions
}

// ecKeypair adapts an ECDSA key to sigstore-go's Keypair with the OMS key
// hint. The key may live elsewhere (a PKCS#11 token): only its
// crypto.Signer is used.
type ecKeypair struct {
	priv crypto.Signer
	pub  *ecdsa.PublicKey
	hash crypto.Hash
	hint string
}

var _ sgsign.Keypair = (*ecKeypair)(nil)

func newECKeypair(priv crypto.Signer) (*ecKeypair, error) {
	pub, ok := priv.Public().(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: a %T key; only ECDSA keys sign", ErrUnsupported, priv.Public())
	}
	h, err := hashForKey(pub)
	if err != nil {
		return nil, err
	}
	hint, err := KeyHint(pub)
	if err != nil {
		return nil, err
	}
	return &ecKeypair{priv: priv, pub: pub, hash: h, hint: hint}, nil
}

func (k *ecKeypair) GetHashAlgorithm() protocommon.HashAlgorithm {
	switch k.hash {
	case crypto.SHA384:
		return protocommon.HashAlgorithm_SHA2_384
	case crypto.SHA512:
		return protocommon.HashAlgorithm_SHA2_512
	}
	return protocommon.HashAlgorithm_SHA2_256
}

func (k *ecKeypair) GetSigningAlgorithm() protocommon.PublicKeyDetails {
	switch k.hash {
	case crypto.SHA384:
		return protocommon.PublicKeyDetails_PKIX_ECDSA_P384_SHA_384
	case crypto.SHA512:
		return protocommon.PublicKeyDetails_PKIX_ECDSA_P521_SHA_512
	}
	return protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256
}

func (k *ecKeypair) GetHint() []byte                { return []byte(k.hint) }
func (k *ecKeypair) GetKeyAlgorithm() string        { return "ECDSA" }
func (k *ecKeypair) GetPublicKey() crypto.PublicKey { return k.pub }

func (k *ecKeypair) GetPublicKeyPem() (string, error) {
	p, err := MarshalPublicKeyPEM(k.pub)
	return string(p), err
}

func (k *ecKeypair) SignData(_ context.Context, data []byte) ([]byte, []byte, error) {
	h := k.hash.New()
	h.Write(data)
	digest := h.Sum(nil)
	// ECDSA signers, in memory or in a token, return ASN.1 signatures.
	sig, err := k.priv.Sign(rand.Reader, digest, k.hash)
	return sig, digest, err
}

// NewKeySigner signs with an ECDSA private key. The bundle carries the key
// hint (see KeyHint), not the key.
func NewKeySigner(priv *ecdsa.PrivateKey) (*Signer, error) {
	return NewCryptoSigner(priv)
}

// NewCryptoSigner signs with an ECDSA key behind a crypto.Signer: a key in
// memory, or one held by a PKCS#11 token or a KMS that never leaves it.
// Its Sign must return ASN.1 DER signatures, as ECDSA signers do.
func NewCryptoSigner(priv crypto.Signer) (*Signer, error) {
	kp, err := newECKeypair(priv)
	if err != nil {
		return nil, err
	}
	return &Signer{keypair: func() (sgsign.Keypair, error) { return kp, nil }}, nil
}

type staticChain [][]byte

func (c staticChain) GetCertificateChain(context.Context, sgsign.Keypair, *sgsign.CertificateProviderOptions) ([][]byte, error) {
	return c, nil
}

// NewCertificateSigner signs with an ECDSA private key whose certificate is
// cert; chain holds the intermediates (self-signed roots in it are left out
// of the bundle, the verifier has them).
func NewCertificateSigner(priv *ecdsa.PrivateKey, cert *x509.Certificate, chain []*x509.Certificate) (*Signer, error) {
	kp, err := newECKeypair(priv)
	if err != nil {
		return nil, err
	}
	if !priv.PublicKey.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("%w: the certificate's public key does not match the private key", ErrKey)
	}
	certs := staticChain{cert.Raw}
	for _, c := range chain {
		if c.CheckSignatureFrom(c) == nil {
			continue
		}
		certs = append(certs, c.Raw)
	}
	return &Signer{
		keypair: func() (sgsign.Keypair, error) { return kp, nil },
		opts:    sgsign.BundleOptions{CertificateChainProvider: certs},
	}, nil
}

// KeylessOptions configure Sigstore keyless signing. Nothing has a default:
// the caller names its Fulcio and Rekor (public-good or private).
type KeylessOptions struct {
	FulcioURL string // required
	RekorURL  string // required
	TSAURL    string // optional RFC 3161 timestamp authority
	// IDToken is the OIDC identity token sent to Fulcio.
	IDToken string
	// TrustedRoot, when set, verifies each bundle right after signing.
	TrustedRoot root.TrustedMaterial
	// Timeout of each request; 0 means 30s.
	Timeout time.Duration
}

// NewKeylessSigner signs with an ephemeral key certified by Fulcio for the
// identity in the ID token, and records the signature in Rekor.
func NewKeylessSigner(o KeylessOptions) (*Signer, error) {
	if o.FulcioURL == "" || o.RekorURL == "" {
		return nil, errors.New("keyless signing needs a Fulcio URL and a Rekor URL")
	}
	if o.IDToken == "" {
		return nil, errors.New("keyless signing needs an OIDC identity token")
	}
	timeout := o.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	opts := sgsign.BundleOptions{
		CertificateProvider:        sgsign.NewFulcio(&sgsign.FulcioOptions{BaseURL: o.FulcioURL, Timeout: timeout}),
		CertificateProviderOptions: &sgsign.CertificateProviderOptions{IDToken: o.IDToken},
		TransparencyLogs:           []sgsign.Transparency{sgsign.NewRekor(&sgsign.RekorOptions{BaseURL: o.RekorURL, Timeout: timeout})},
		TrustedRoot:                o.TrustedRoot,
	}
	if o.TSAURL != "" {
		opts.TimestampAuthorities = []*sgsign.TimestampAuthority{sgsign.NewTimestampAuthority(&sgsign.TimestampAuthorityOptions{URL: o.TSAURL, Timeout: timeout})}
	}
	return &Signer{
		keypair: func() (sgsign.Keypair, error) { return sgsign.NewEphemeralKeypair(nil) },
		opts:    opts,
	}, nil
}

// Sign wraps statement (any JSON-serializable in-toto statement) in DSSE
// and returns the Sigstore bundle v0.3 as JSON.
func (s *Signer) Sign(ctx context.Context, statement any) ([]byte, error) {
	bs, err := s.SignEach(ctx, statement)
	if err != nil {
		return nil, err
	}
	return bs[0], nil
}

// SignEach signs each statement into its own bundle with one key: in keyless
// mode, one ephemeral key and one Fulcio certificate serve all of them (each
// signature still gets its own transparency-log entry).
func (s *Signer) SignEach(ctx context.Context, statements ...any) ([][]byte, error) {
	kp, err := s.keypair()
	if err != nil {
		return nil, err
	}
	opts := s.opts
	opts.Context = ctx
	if opts.CertificateProvider != nil {
		opts.CertificateProvider = &onceCertificate{p: opts.CertificateProvider}
	}
	out := make([][]byte, 0, len(statements))
	for _, st := range statements {
		payload, err := json.Marshal(st)
		if err != nil {
			return nil, fmt.Errorf("encode statement: %w", err)
		}
		pb, err := sgsign.Bundle(&sgsign.DSSEData{Data: payload, PayloadType: PayloadTypeInToto}, kp, opts)
		if err != nil {
			return nil, fmt.Errorf("sign: %w", err)
		}
		b, err := protojson.Marshal(pb)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// onceCertificate asks its provider for a certificate once and hands the
// same one out afterwards; it is used for one keypair only.
type onceCertificate struct {
	p    sgsign.CertificateProvider
	cert []byte
}

func (o *onceCertificate) GetCertificate(ctx context.Context, kp sgsign.Keypair, opts *sgsign.CertificateProviderOptions) ([]byte, error) {
	if o.cert != nil {
		return o.cert, nil
	}
	c, err := o.p.GetCertificate(ctx, kp, opts)
	if err != nil {
		return nil, err
	}
	o.cert = c
	return c, nil
}
