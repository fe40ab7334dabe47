// Package sign signs and verifies ML models in the OpenSSF Model Signing
// (OMS) format: an in-toto Statement v1 with predicate type
// https://model_signing/signature/v1.0, wrapped in DSSE, inside a Sigstore
// bundle v0.3.
//
// # Signing
//
// A Signer is built once for one trust mode and signs any number of
// statements:
//
//	s, err := sign.NewKeySigner(priv)                         // ECDSA P-256/P-384 key
//	s, err := sign.NewCertificateSigner(priv, cert, chain)    // key + X.509 chain
//	s, err := sign.NewKeylessSigner(sign.KeylessOptions{...}) // Fulcio + Rekor (+ TSA)
//	m, err := sign.HashFolder(ctx, dir, sign.FolderOptions{})
//	stmt, err := sign.NewStatement(m)
//	bundleJSON, err := s.Sign(ctx, stmt)
//
// SignFolder does the three steps and writes DIR/model.sig; SignOCI signs a
// model manifest from its layer digests and pushes the bundle as a
// referrer. The key hint of a key-signed bundle is the hex SHA-256 of the
// public key's PEM encoding, as the OMS reference tool writes and checks it.
//
// # Verifying
//
// A Verifier is compiled once from a set of authorities and checks many
// models (the admission webhook keeps one per policy rule):
//
//	key, err := sign.KeyAuthority(pub)
//	roots, err := sign.CertificateAuthority(rootCerts)
//	keyless, err := sign.KeylessAuthority(trustedRoot, sign.Identity{SubjectRegexp: "...", Issuer: "..."})
//	v, err := sign.NewVerifier(key, roots, keyless)
//	res, err := v.VerifyFolder(ctx, dir, sign.VerifyFolderOptions{})
//	res, err := v.VerifyOCI(ctx, target, manifestDesc)
//	scanRes, err := v.VerifyScanOCI(ctx, target, manifestDesc) // then scanRes.Satisfies(failOn)
//
// A bundle is accepted when at least one authority accepts it. The checks run
// in this order: the bundle parses and its signature verifies for the
// authority (including the certificate identity and the transparency log
// entry or timestamp for keyless); the payload is an in-toto statement with
// the OMS predicate type; the subject digest is the SHA-256 over the
// resources' digests; the resources match the files on disk or the layers
// of the OCI manifest.
//
// Errors: a *VerificationError (test with errors.As or IsVerificationError)
// means the artifact is bad — unsigned, signed by someone else, tampered
// with. Any other error means the question could not be decided (I/O,
// registry, malformed configuration); callers fail closed on both, but a CLI
// maps the first to exit code 1 and the second to 2.
//
// Scan attestations: NewScanStatement builds an in-toto statement with
// predicate type https://modelverify.dev/scan/v1 about a model digest, and
// Verifier.VerifyScanAttestation checks one and returns its verdict.
//
// Nothing in this package fetches trust material implicitly: trusted roots,
// keys and certificates are passed in by the caller.
package sign
