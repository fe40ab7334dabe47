package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/spf13/cobra"

	"github.com/modelverify/modelverify/pkg/manifest"
	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/attest"
	"github.com/modelverify/modelverify/pkg/sign"
	"github.com/modelverify/modelverify/pkg/sign/kms"
	"github.com/modelverify/modelverify/pkg/sign/pkcs11"
)

func init() { subcommands = append(subcommands, newVerifyCmd) }

// verifierOptions are the trust flags of verify: which authorities are
// accepted. Several may be given; one of them must have signed.
type verifierOptions struct {
	key              []string
	certificateChain []string
	identity         string
	identityRegexp   string
	oidcIssuer       string
	oidcIssuerRegexp string
	trustedRoot      string
	certIssuer       string
	certIssuerRegexp string
}

func (o *verifierOptions) AddFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringSliceVar(&o.key, "key", nil, "accept signatures by this ECDSA public key (PEM, repeatable), or by a key in a KMS (awskms://..., gcpkms://..., azurekms://..., hashivault://...) or a PKCS#11 token (pkcs11:..., in builds with -tags pkcs11), whose public key is fetched")
	f.StringSliceVar(&o.certificateChain, "certificate-chain", nil, "accept certificates that chain to these root certificates (PEM, repeatable)")
	f.StringVar(&o.identity, "certificate-identity", "", "the signer's identity: keyless, an email or URI in the certificate; with --certificate-chain, also a DNS name or the subject's common name")
	f.StringVar(&o.identityRegexp, "certificate-identity-regexp", "", "a regular expression for the signer's identity")
	f.StringVar(&o.certIssuer, "certificate-issuer", "", "with --certificate-chain and an identity: the issuing CA's distinguished name, as in CN=Signing CA,O=Example (default any CA under the roots)")
	f.StringVar(&o.certIssuerRegexp, "certificate-issuer-regexp", "", "with --certificate-chain: a regular expression for the issuing CA's distinguished name")
	f.StringVar(&o.oidcIssuer, "certificate-oidc-issuer", "", "keyless: the OIDC issuer of the identity")
	f.StringVar(&o.oidcIssuerRegexp, "certificate-oidc-issuer-regexp", "", "keyless: a regular expression for the OIDC issuer")
	f.StringVar(&o.trustedRoot, "trusted-root", "", "keyless: Sigstore trusted root JSON (never fetched implicitly)")
}

// trustedKey reads a --key of verify: a PEM file, or the URI of a key in a
// KMS or a PKCS#11 token. A malformed URI or a file that cannot be read is a
// usage error (exit 3), found before any service is contacted.
func trustedKey(key string) (sign.TrustedKey, error) {
	if kms.IsURI(key) || pkcs11.IsURI(key) {
		k := sign.TrustedKey{URI: key}
		if err := k.Validate(); err != nil {
			return k, withCode(exitUsage, err)
		}
		return k, nil
	}
	if err := unknownKeyURI(key); err != nil {
		return sign.TrustedKey{}, err
	}
	data, err := os.ReadFile(key)
	if err != nil {
		return sign.TrustedKey{}, withCode(exitUsage, fmt.Errorf("read key: %w", err))
	}
	// A key that is not PEM fails when the verifier is built (exit 3).
	return sign.TrustedKey{Name: key, PEM: data}, nil
}

func loadTrustedRoot(path string) (*root.TrustedRoot, error) {
	return readConfigFile(path, "trusted root", sign.LoadTrustedRoot)
}

// trust reads the files the flags name into the trust specification.
func (o *verifierOptions) trust() (sign.Trust, error) {
	var t sign.Trust
	for _, p := range o.key {
		k, err := trustedKey(p)
		if err != nil {
			return t, err
		}
		t.Keys = append(t.Keys, k)
	}
	if len(o.certificateChain) > 0 {
		for _, p := range o.certificateChain {
			c, err := readCerts(p)
			if err != nil {
				return t, err
			}
			t.CertificateRoots = append(t.CertificateRoots, c...)
		}
		if o.identity != "" || o.identityRegexp != "" {
			id := sign.Identity{Subject: o.identity, SubjectRegexp: o.identityRegexp, Issuer: o.certIssuer, IssuerRegexp: o.certIssuerRegexp}
			if id.Issuer == "" && id.IssuerRegexp == "" {
				id.IssuerRegexp = ".*" // any CA under the roots
			}
			t.CertificateIdentities = append(t.CertificateIdentities, id)
		}
	}
	if (o.certIssuer != "" || o.certIssuerRegexp != "") && (len(o.certificateChain) == 0 || (o.identity == "" && o.identityRegexp == "")) {
		return t, usageErrorf("--certificate-issuer[-regexp] goes with --certificate-chain and --certificate-identity[-regexp]")
	}
	// Identity flags are keyless ones when a trusted root or an OIDC issuer
	// is named, or when no certificate chain is.
	identity := o.identity != "" || o.identityRegexp != ""
	oidc := o.oidcIssuer != "" || o.oidcIssuerRegexp != ""
	keyless := o.trustedRoot != "" || oidc || (identity && len(o.certificateChain) == 0)
	switch {
	case keyless && o.trustedRoot == "":
		return t, usageErrorf("keyless verification needs --trusted-root (nothing is fetched implicitly)")
	case keyless && (!identity || !oidc):
		return t, usageErrorf("--trusted-root needs --certificate-identity[-regexp] and --certificate-oidc-issuer[-regexp]")
	case keyless:
		tr, err := loadTrustedRoot(o.trustedRoot)
		if err != nil {
			return t, err
		}
		t.TrustedRoot = tr
		t.KeylessIdentities = []sign.Identity{{
			Subject: o.identity, SubjectRegexp: o.identityRegexp,
			Issuer: o.oidcIssuer, IssuerRegexp: o.oidcIssuerRegexp,
		}}
	}
	if len(t.Keys) == 0 && len(t.CertificateRoots) == 0 && t.TrustedRoot == nil {
		return t, usageErrorf("name who must have signed: --key, --certificate-chain, or --certificate-identity/--certificate-oidc-issuer with --trusted-root")
	}
	return t, nil
}

// newVerifier compiles the authorities the flags name. The public keys of
// KMS and PKCS#11 keys are fetched with ctx; a service that cannot give one
// is exit 2, any other problem a usage error.
func (o *verifierOptions) newVerifier(ctx context.Context) (*sign.Verifier, error) {
	t, err := o.trust()
	if err != nil {
		return nil, err
	}
	v, err := t.Verifier(ctx)
	if errors.Is(err, sign.ErrKeyService) {
		return nil, withCode(exitFailed, err)
	}
	if err != nil {
		return nil, withCode(exitUsage, err)
	}
	return v, nil
}

// verifyExit maps a verification error to an exit code: the artifact is bad
// (1) or the question could not be decided (2).
func verifyExit(err error) error {
	if err == nil {
		return nil
	}
	var e *exitError
	if errors.As(err, &e) {
		return err
	}
	if sign.IsVerificationError(err) || errors.Is(err, attest.ErrStatement) || errors.Is(err, attest.ErrRejected) {
		return withCode(exitViolated, fmt.Errorf("verification failed: %w", err))
	}
	return withCode(exitFailed, err)
}

// scanAttestation is a verified scan attestation: who signed it and what
// the scan found.
type scanAttestation struct {
	Signer    sign.SignerInfo   `json:"signer"`
	Predicate *attest.Predicate `json:"predicate"`
}

// verifyScanAttestation verifies a folder's scan attestation about the
// model with OMS root digest rootHex.
func verifyScanAttestation(v *sign.Verifier, bundleJSON []byte, rootHex string) (*scanAttestation, error) {
	a, err := v.VerifyAttestation(bundleJSON, attest.PredicateType, rootHex)
	if err != nil {
		return nil, err
	}
	p, err := attest.Parse(a.Payload, rootHex)
	if err != nil {
		return nil, err
	}
	return &scanAttestation{a.Signer, p}, nil
}

// verifyScanOCI finds the scan attestations about the manifest desc that
// an authority signed; with several, the most recent scan is the one that
// counts.
func verifyScanOCI(ctx context.Context, v *sign.Verifier, t manifest.Target, desc ocispec.Descriptor) (*scanAttestation, error) {
	atts, err := v.VerifyAttestationsOCI(ctx, t, desc, attest.PredicateType)
	if err != nil {
		return nil, err
	}
	i, p, err := attest.ParseLatest(sign.Payloads(atts), desc.Digest.Encoded())
	if err != nil {
		return nil, err
	}
	return &scanAttestation{atts[i].Signer, p}, nil
}

func newVerifyCmd() *cobra.Command {
	var vo verifierOptions
	var ff folderFlags
	var ro registryOptions
	var requireScan, format string
	cmd := &cobra.Command{
		Use:   "verify [flags] TARGET",
		Short: "Verify a signed model folder, file or OCI artifact",
		Long: `Verify a model signed in the OpenSSF Model Signing format.

Checks, in order: the bundle, its signature and the signer's identity; the
predicate type; the subject digest against the resources; the resources against
the files (a changed, missing or added file fails) or the OCI layers. For an OCI
artifact every signature referrer is verified and one that passes is enough.

Exit codes: 0 verified, 1 verification failed, 2 could not decide, 3 usage.`,
		Example: `  modelverify verify --key signer.pub ./model
  modelverify verify --key awskms:///alias/model-signing oci://registry.example/models/bert:1
  modelverify verify --certificate-chain ca.pem ./model
  modelverify verify --certificate-chain ca.pem --certificate-identity ml-release@example.com \
      --certificate-issuer "CN=Model Signing CA,O=Example" ./model
  modelverify verify --certificate-identity me@example.com \
      --certificate-oidc-issuer https://accounts.google.com --trusted-root root.json ./model
  modelverify verify --key signer.pub --require-scan=high oci://registry.example/models/bert:1`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" {
				return usageErrorf("--format must be text or json")
			}
			var failOn scan.Severity
			if cmd.Flags().Changed("require-scan") {
				s, err := scan.ParseSeverity(requireScan)
				if err != nil {
					return usageErrorf("--require-scan: %v", err)
				}
				failOn = s
			}
			v, err := vo.newVerifier(cmd.Context())
			if err != nil {
				return err
			}
			target := bareRef(args[0])
			var res *sign.Result
			var scanRes *scanAttestation
			if isOCIRef(target) {
				t, ref, err := ro.Open(cmd.Context(), target, false)
				if err != nil {
					return err
				}
				desc, _, err := manifest.Resolve(cmd.Context(), t, ref)
				if err != nil {
					return registryExit(err)
				}
				if res, err = v.VerifyOCI(cmd.Context(), t, desc); err != nil {
					return verifyExit(err)
				}
				if cmd.Flags().Changed("require-scan") {
					if scanRes, err = verifyScanOCI(cmd.Context(), v, t, desc); err != nil {
						return verifyExit(err)
					}
				}
			} else {
				if _, err := os.Stat(target); err != nil {
					return withCode(exitFailed, err)
				}
				progress, done := hashProgress(cmd, "verifying", ff.noProgress)
				res, err = v.VerifyFolder(cmd.Context(), target, sign.VerifyFolderOptions{
					SignaturePath: ff.signature, IgnorePaths: ff.ignorePaths, Progress: progress,
				})
				done()
				if err != nil {
					return verifyExit(err)
				}
				if cmd.Flags().Changed("require-scan") {
					sigPath := sign.DefaultAttestationPath(target)
					if ff.signature != "" {
						sigPath = strings.TrimSuffix(ff.signature, ".sig") + ".scan.sig"
					}
					data, err := sign.ReadSignatureFile(sigPath)
					if err != nil {
						return verifyExit(err)
					}
					if scanRes, err = verifyScanAttestation(v, data, res.Digest); err != nil {
						return verifyExit(err)
					}
				}
			}
			if scanRes != nil {
				if err := (attest.Requirement{FailOn: failOn}).Check(scanRes.Predicate); err != nil {
					return verifyExit(err)
				}
			}
			out := cmd.OutOrStdout()
			if format == "json" {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(struct {
					Verified bool             `json:"verified"`
					Model    *sign.Result     `json:"model"`
					Scan     *scanAttestation `json:"scan,omitempty"`
				}{true, res, scanRes})
			}
			if res.PredicateType == sign.PredicateTypeManifest {
				// Signed by cosign: the manifest statement alone.
				fmt.Fprintf(out, "verified %s: manifest %s (%d layers), signed by %s", target, res.ManifestDigest, res.Resources, res.Signer.Authority)
			} else {
				fmt.Fprintf(out, "verified %s: %d resources, sha256:%s, signed by %s", target, res.Resources, res.Digest, res.Signer.Authority)
			}
			if res.Signer.Issuer != "" {
				fmt.Fprintf(out, " (%s, %s)", res.Signer.Identity, res.Signer.Issuer)
			}
			fmt.Fprintln(out)
			if res.PredicateType == sign.PredicateTypeDigests {
				fmt.Fprintf(cmd.ErrOrStderr(), "note: the signature uses the predicate %s of reference-tool releases before 0.3; every file is checked, but no root digest or model name was signed. Sign again to upgrade.\n", sign.PredicateTypeDigests)
			}
			if scanRes != nil {
				fmt.Fprintf(out, "scan attestation: %s, max severity %s, by %s\n", scanRes.Predicate.Verdict, scanRes.Predicate.MaxSeverity, scanRes.Signer.Authority)
			}
			return nil
		},
	}
	vo.AddFlags(cmd)
	ff.addFlags(cmd, false)
	ro.AddFlags(cmd)
	cmd.Flags().StringVar(&requireScan, "require-scan", "", "also require a signed scan attestation with no finding at or above this severity (off unless given; --require-scan alone means high)")
	cmd.Flags().Lookup("require-scan").NoOptDefVal = "high"
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	return cmd
}
