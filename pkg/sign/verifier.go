package sign

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/signature"
	"google.golang.org/protobuf/encoding/protojson"
)

// maxBundleSize bounds a bundle we parse.
const maxBundleSize = 64 << 20

// ParseBundle decodes a Sigstore bundle. Fields unknown to the protobuf
// schema are ignored, so bundles from OMS releases before 1.1 (which put the
// PEM public key into the verification material) parse; certificate chains
// are allowed in v0.3 bundles, as the OMS certificate mode writes them.
func ParseBundle(data []byte) (*bundle.Bundle, error) {
	if len(data) > maxBundleSize {
		return nil, fmt.Errorf("bundle of %d bytes is larger than %d", len(data), maxBundleSize)
	}
	pb := new(protobundle.Bundle)
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(data, pb); err != nil {
		return nil, fmt.Errorf("parse bundle: %w", err)
	}
	// A root certificate in the chain adds nothing (the verifier has its
	// own roots) and sigstore-go refuses it.
	if chain := pb.GetVerificationMaterial().GetX509CertificateChain(); chain != nil && len(chain.Certificates) > 1 {
		kept := chain.Certificates[:1]
		for _, c := range chain.Certificates[1:] {
			if cert, err := x509.ParseCertificate(c.GetRawBytes()); err == nil && cert.CheckSignatureFrom(cert) == nil {
				continue
			}
			kept = append(kept, c)
		}
		chain.Certificates = kept
	}
	b, err := bundle.NewBundle(pb, bundle.AllowCertificateChain())
	if err != nil {
		return nil, fmt.Errorf("parse bundle: %w", err)
	}
	if b.GetDsseEnvelope() == nil {
		return nil, fmt.Errorf("parse bundle: %w", ErrNoEnvelope)
	}
	return b, nil
}

// ErrNoEnvelope: the bundle signs a message, not a DSSE envelope.
var ErrNoEnvelope = errors.New("bundle has no DSSE envelope")

// Authority is one party whose signature is accepted: a key, a set of
// certificate roots, or a keyless identity. Build them with KeyAuthority,
// CertificateAuthority and KeylessAuthority.
type Authority interface {
	// String names the authority in messages.
	String() string
	verify(b *bundle.Bundle) error
}

// SignerInfo describes who signed, as far as the authority that accepted the
// bundle can tell.
type SignerInfo struct {
	Authority string `json:"authority"`
	// Identity is the certificate's subject alternative name (keyless).
	Identity string `json:"identity,omitempty"`
	// Issuer is the OIDC issuer recorded in the certificate (keyless).
	Issuer string `json:"issuer,omitempty"`
}

type sgAuthority struct {
	name   string
	v      *verify.Verifier
	policy verify.PolicyBuilder
}

var (
	_ Authority = (*sgAuthority)(nil)
	_ Authority = (*keyAuthority)(nil)
	_ Authority = (*certAuthority)(nil)
)

func (a *sgAuthority) String() string { return a.name }

func (a *sgAuthority) verify(b *bundle.Bundle) error {
	_, err := a.v.Verify(b, a.policy)
	return err
}

// keyMaterial is trusted material holding one public key. The bundle's key
// hint, when present, must name that key (hex SHA-256 of its PEM, as OMS
// writes it, or base64 SHA-256 of its DER, as cosign writes it; hex is
// compared without case, base64 exactly); bundles without a hint (OMS
// before 1.1) are tried against the key directly.
type keyMaterial struct {
	root.BaseTrustedMaterial
	key   *root.ExpiringKey
	hints []string
}

func (k *keyMaterial) PublicKeyVerifier(hint string) (root.TimeConstrainedVerifier, error) {
	if hint == "" {
		return k.key, nil
	}
	if slices.ContainsFunc(k.hints, func(h string) bool { return hintMatches(h, hint) }) {
		return k.key, nil
	}
	return nil, fmt.Errorf("key hint %q does not match the public key", hint)
}

// hintMatches compares a key hint we computed with one a bundle carries:
// hex hints without case, others (cosign's base64) exactly.
func hintMatches(ours, theirs string) bool {
	if _, err := hex.DecodeString(ours); err == nil && len(ours) == 64 {
		return strings.EqualFold(ours, theirs)
	}
	return ours == theirs
}

// KeyAuthority accepts bundles signed with the private half of pub (ECDSA
// P-256, P-384 or P-521, with SHA-256, -384 or -512 respectively).
func KeyAuthority(pub *ecdsa.PublicKey) (Authority, error) {
	h, err := hashForKey(pub)
	if err != nil {
		return nil, err
	}
	sv, err := signature.LoadECDSAVerifier(pub, h)
	if err != nil {
		return nil, err
	}
	hint, err := KeyHint(pub)
	if err != nil {
		return nil, err
	}
	cosignHint, err := CosignKeyHint(pub)
	if err != nil {
		return nil, err
	}
	hints := []string{hint, cosignHint}
	tm := &keyMaterial{key: root.NewExpiringKey(sv, time.Time{}, time.Time{}), hints: hints}
	v, err := verify.NewVerifier(tm, verify.WithNoObserverTimestamps())
	if err != nil {
		return nil, err
	}
	return &keyAuthority{
		sgAuthority: sgAuthority{
			name:   "key " + hint[:16],
			v:      v,
			policy: verify.NewPolicy(verify.WithoutArtifactUnsafe(), verify.WithKey()),
		},
		pub:   pub,
		hints: hints,
	}, nil
}

// keyAuthority verifies key bundles with sigstore-go and, when that fails,
// tries the signature over the encoding of early reference-tool releases
// (legacyPAE), which sigstore-go does not know.
type keyAuthority struct {
	sgAuthority
	pub   *ecdsa.PublicKey
	hints []string
}

func (a *keyAuthority) verify(b *bundle.Bundle) error {
	err := a.sgAuthority.verify(b)
	if err == nil {
		return nil
	}
	vm := b.GetVerificationMaterial()
	if vm.GetPublicKey() == nil {
		return err
	}
	if h := vm.GetPublicKey().GetHint(); h != "" && !slices.ContainsFunc(a.hints, func(ours string) bool { return hintMatches(ours, h) }) {
		return err
	}
	if verifyLegacyDSSE(b.GetDsseEnvelope(), a.pub) {
		return nil
	}
	return err
}

type certAuthority struct {
	name  string
	roots *x509.CertPool
	ids   []certIdentity
	now   func() time.Time
}

func (a *certAuthority) String() string { return a.name }

// verify checks the bundle's certificate chain against the roots, for code
// signing, at the current time, then the DSSE signature with the leaf's key,
// then the leaf's identity when identities were given. sigstore-go's
// verifier is not used here because it requires a subject alternative name,
// which certificates from a private PKI need not have.
func (a *certAuthority) verify(b *bundle.Bundle) error {
	vm := b.GetVerificationMaterial()
	var raws [][]byte
	switch {
	case vm.GetX509CertificateChain() != nil:
		for _, c := range vm.GetX509CertificateChain().GetCertificates() {
			raws = append(raws, c.GetRawBytes())
		}
	case vm.GetCertificate() != nil:
		raws = append(raws, vm.GetCertificate().GetRawBytes())
	default:
		return errors.New("the bundle carries no certificate")
	}
	if len(raws) == 0 {
		return errors.New("the bundle carries no certificate")
	}
	leaf, err := x509.ParseCertificate(raws[0])
	if err != nil {
		return fmt.Errorf("signing certificate: %w", err)
	}
	inter := x509.NewCertPool()
	for _, raw := range raws[1:] {
		c, err := x509.ParseCertificate(raw)
		if err != nil {
			return fmt.Errorf("chain certificate: %w", err)
		}
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{
		Roots: a.roots, Intermediates: inter, CurrentTime: a.now(),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}); err != nil {
		return fmt.Errorf("certificate chain: %w", err)
	}
	pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return fmt.Errorf("%w: certificate key %T is not ECDSA", ErrKey, leaf.PublicKey)
	}
	if err := verifyDSSE(b.GetDsseEnvelope(), pub); err != nil {
		return err
	}
	return matchCertIdentity(leaf, a.ids)
}

// CertificateAuthority accepts bundles whose signing certificate chains up
// to one of roots for code signing and is valid now; intermediates come from
// the bundle, and the DSSE signature must verify with the certificate's key.
// With identities, the certificate must also carry one of them (see
// Identity); without, any certificate the roots issued is accepted.
func CertificateAuthority(roots []*x509.Certificate, identities ...Identity) (Authority, error) {
	if len(roots) == 0 {
		return nil, errors.New("certificate authority with no root certificate")
	}
	pool := x509.NewCertPool()
	var names []string
	for _, r := range roots {
		pool.AddCert(r)
		names = append(names, r.Subject.String())
	}
	name := "certificate roots " + strings.Join(names, ", ")
	var ids []certIdentity
	for _, id := range identities {
		ci, err := compileCertIdentity(id)
		if err != nil {
			return nil, err
		}
		ids = append(ids, ci)
	}
	if len(identities) > 0 {
		var s []string
		for _, id := range identities {
			s = append(s, id.String())
		}
		name += " for " + strings.Join(s, " or ")
	}
	return &certAuthority{name: name, roots: pool, ids: ids, now: time.Now}, nil
}

// certIdentity is a compiled Identity for certificates from a private PKI.
type certIdentity struct {
	subject, issuer string
	subjectRE       *regexp.Regexp
	issuerRE        *regexp.Regexp
}

func compileCertIdentity(id Identity) (certIdentity, error) {
	if (id.Subject == "") == (id.SubjectRegexp == "") {
		return certIdentity{}, errors.New("a certificate identity needs exactly one of a subject and a subject regexp")
	}
	if (id.Issuer == "") == (id.IssuerRegexp == "") {
		return certIdentity{}, errors.New("a certificate identity needs exactly one of an issuer and an issuer regexp")
	}
	ci := certIdentity{subject: id.Subject, issuer: id.Issuer}
	var err error
	if id.SubjectRegexp != "" {
		if ci.subjectRE, err = regexp.Compile(id.SubjectRegexp); err != nil {
			return ci, fmt.Errorf("subject regexp: %w", err)
		}
	}
	if id.IssuerRegexp != "" {
		if ci.issuerRE, err = regexp.Compile(id.IssuerRegexp); err != nil {
			return ci, fmt.Errorf("issuer regexp: %w", err)
		}
	}
	return ci, nil
}

func (ci certIdentity) matches(subjects, issuers []string) bool {
	match := func(want string, re *regexp.Regexp, got []string) bool {
		for _, g := range got {
			if (re != nil && re.MatchString(g)) || (re == nil && g == want) {
				return true
			}
		}
		return false
	}
	return match(ci.subject, ci.subjectRE, subjects) && match(ci.issuer, ci.issuerRE, issuers)
}

// matchCertIdentity checks leaf against ids (none: anything matches). A
// certificate's subjects are its subject alternative names (emails, URIs,
// DNS names, IP addresses) and its subject's common name; its issuers are
// the issuing CA's distinguished name as Go prints it (RFC 2253 order,
// "CN=Signing CA,O=Example") and, for Fulcio certificates, the OIDC issuer
// they record.
func matchCertIdentity(leaf *x509.Certificate, ids []certIdentity) error {
	if len(ids) == 0 {
		return nil
	}
	var subjects []string
	subjects = append(subjects, leaf.EmailAddresses...)
	for _, u := range leaf.URIs {
		subjects = append(subjects, u.String())
	}
	subjects = append(subjects, leaf.DNSNames...)
	for _, ip := range leaf.IPAddresses {
		subjects = append(subjects, ip.String())
	}
	if leaf.Subject.CommonName != "" {
		subjects = append(subjects, leaf.Subject.CommonName)
	}
	issuers := []string{leaf.Issuer.String()}
	if oi := oidcIssuer(leaf); oi != "" {
		issuers = append(issuers, oi)
	}
	for _, id := range ids {
		if id.matches(subjects, issuers) {
			return nil
		}
	}
	return fmt.Errorf("certificate identity: %q issued by %q is none of the trusted identities", subjects, issuers)
}

// Identity is the certificate identity a keyless signature must carry, or a
// certificate from a private PKI (see CertificateAuthority). Set exactly one
// of Subject and SubjectRegexp, and one of Issuer and IssuerRegexp (regular
// expressions are Go RE2, anchored by the caller).
type Identity struct {
	Subject       string
	SubjectRegexp string
	Issuer        string
	IssuerRegexp  string
}

func (id Identity) String() string {
	s, i := id.Subject, id.Issuer
	if s == "" {
		s = "~" + id.SubjectRegexp
	}
	if i == "" {
		i = "~" + id.IssuerRegexp
	}
	return s + " from " + i
}

// KeylessAuthority accepts Sigstore keyless bundles whose Fulcio certificate
// chains to trusted, whose signature is recorded in one of its transparency
// logs (inclusion proof or promise, checked offline) at a time the
// certificate was valid, and whose certificate names id.
func KeylessAuthority(trusted root.TrustedMaterial, id Identity) (Authority, error) {
	if trusted == nil {
		return nil, errors.New("keyless verification needs a trusted root")
	}
	if (id.Subject == "") == (id.SubjectRegexp == "") {
		return nil, errors.New("keyless verification needs exactly one of a certificate identity and an identity regexp")
	}
	if (id.Issuer == "") == (id.IssuerRegexp == "") {
		return nil, errors.New("keyless verification needs exactly one of an OIDC issuer and an issuer regexp")
	}
	cid, err := verify.NewShortCertificateIdentity(id.Issuer, id.IssuerRegexp, id.Subject, id.SubjectRegexp)
	if err != nil {
		return nil, err
	}
	v, err := verify.NewVerifier(trusted, verify.WithTransparencyLog(1), verify.WithObserverTimestamps(1))
	if err != nil {
		return nil, err
	}
	return &sgAuthority{
		name:   "keyless " + id.String(),
		v:      v,
		policy: verify.NewPolicy(verify.WithoutArtifactUnsafe(), verify.WithCertificateIdentity(cid)),
	}, nil
}

// LoadTrustedRoot reads a Sigstore trusted root JSON file.
func LoadTrustedRoot(data []byte) (*root.TrustedRoot, error) {
	return root.NewTrustedRootFromJSON(data)
}

// Verifier checks bundles against a fixed set of authorities. Build it once
// with NewVerifier and reuse it; it is safe for concurrent use.
type Verifier struct {
	authorities []Authority
}

// NewVerifier compiles a verifier that accepts a bundle when any of
// authorities accepts it.
func NewVerifier(authorities ...Authority) (*Verifier, error) {
	if len(authorities) == 0 {
		return nil, errors.New("a verifier needs at least one authority")
	}
	for _, a := range authorities {
		if a == nil {
			return nil, errors.New("nil authority")
		}
	}
	return &Verifier{authorities: authorities}, nil
}

// Verified is a bundle that passed the signature and identity checks, with
// its payload.
type Verified struct {
	Signer      SignerInfo
	PayloadType string
	Payload     []byte
}

// VerifyBundle parses bundleJSON and checks its signature against the
// authorities. A bundle that does not parse is an error (could not decide);
// a bundle no authority accepts is a *VerificationError.
func (v *Verifier) VerifyBundle(bundleJSON []byte) (*Verified, error) {
	b, err := ParseBundle(bundleJSON)
	if err != nil {
		return nil, err
	}
	var errs []string
	for _, a := range v.authorities {
		if err := a.verify(b); err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", a, err))
			continue
		}
		info := SignerInfo{Authority: a.String()}
		if vc, err := b.VerificationContent(); err == nil {
			if c := vc.Certificate(); c != nil {
				info.Identity = firstSAN(c)
				info.Issuer = oidcIssuer(c)
			}
		}
		env := b.GetDsseEnvelope()
		return &Verified{Signer: info, PayloadType: env.GetPayloadType(), Payload: env.GetPayload()}, nil
	}
	return nil, &VerificationError{Reason: ErrSignature, Detail: strings.Join(errs, "; ")}
}

// VerifyStatement verifies the bundle and decodes its OMS statement,
// checking predicate type and subject digest.
func (v *Verifier) VerifyStatement(bundleJSON []byte) (*Statement, *Verified, error) {
	vb, err := v.VerifyBundle(bundleJSON)
	if err != nil {
		return nil, nil, err
	}
	if vb.PayloadType != PayloadTypeInToto {
		return nil, nil, verificationErrorf(ErrPredicate, nil, "DSSE payload type %q, want %q", vb.PayloadType, PayloadTypeInToto)
	}
	st, err := ParseStatement(vb.Payload)
	if err != nil {
		return nil, nil, err
	}
	return st, vb, nil
}

func firstSAN(c *x509.Certificate) string {
	switch {
	case len(c.EmailAddresses) > 0:
		return c.EmailAddresses[0]
	case len(c.URIs) > 0:
		return c.URIs[0].String()
	case len(c.DNSNames) > 0:
		return c.DNSNames[0]
	}
	return c.Subject.String()
}

// oidcIssuer reads the Fulcio issuer extension (v2, a DER UTF8String; then
// v1, raw bytes).
func oidcIssuer(c *x509.Certificate) string {
	for _, e := range c.Extensions {
		if e.Id.String() == "1.3.6.1.4.1.57264.1.8" {
			var v string
			if _, err := asn1.UnmarshalWithParams(e.Value, &v, "utf8"); err == nil {
				return v
			}
		}
	}
	for _, e := range c.Extensions {
		if e.Id.String() == "1.3.6.1.4.1.57264.1.1" {
			return string(e.Value)
		}
	}
	return ""
}
