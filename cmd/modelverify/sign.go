package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/modelverify/modelverify/pkg/manifest"
	"io"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/modelverify/modelverify/pkg/sign"
	"github.com/modelverify/modelverify/pkg/sign/kms"
	"github.com/modelverify/modelverify/pkg/sign/pkcs11"
)

func init() { subcommands = append(subcommands, newSignCmd) }

// signerOptions are the trust-mode flags of every command that signs
// (sign, scan --attest).
type signerOptions struct {
	key           string
	certificate   string
	chain         []string
	fulcioURL     string
	rekorURL      string
	tsaURL        string
	identityToken string
	trustedRoot   string
}

func (o *signerOptions) AddFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.key, "key", "", "sign with this ECDSA private key (PEM, or cosign's encrypted key file; password in $"+passwordEnv+", or $"+cosignPasswordEnv+" for cosign's files), a key in a KMS (awskms:///alias/NAME, gcpkms://projects/..., azurekms://VAULT.vault.azure.net/KEY, hashivault://KEY), or a key in a PKCS#11 token (pkcs11:token=...;object=...?module-path=...&pin-value=..., in builds with -tags pkcs11)")
	f.StringVar(&o.certificate, "certificate", "", "signing certificate of --key (certificate mode)")
	f.StringSliceVar(&o.chain, "certificate-chain", nil, "intermediate certificates of --certificate (PEM, repeatable)")
	f.StringVar(&o.fulcioURL, "fulcio-url", "", "keyless: Fulcio URL")
	f.StringVar(&o.rekorURL, "rekor-url", "", "keyless: Rekor URL")
	f.StringVar(&o.tsaURL, "tsa-url", "", "keyless: RFC 3161 timestamp authority URL (optional)")
	f.StringVar(&o.identityToken, "identity-token", "", "keyless: OIDC identity token (default $SIGSTORE_ID_TOKEN)")
	f.StringVar(&o.trustedRoot, "trusted-root", "", "keyless: trusted root JSON to check the new bundle against (optional)")
}

// Enabled reports whether any signing flag was given.
func (o *signerOptions) Enabled() bool {
	return o.key != "" || o.fulcioURL != "" || o.rekorURL != ""
}

// newSigner builds the signer the flags describe. Flag misuse is a usage
// error (exit 3). A KMS signer calls the service with ctx.
func (o *signerOptions) newSigner(ctx context.Context) (*sign.Signer, error) {
	keyless := o.fulcioURL != "" || o.rekorURL != "" || o.tsaURL != "" || o.identityToken != ""
	switch {
	case o.key != "" && keyless:
		return nil, usageErrorf("--key and the keyless flags (--fulcio-url, --rekor-url, ...) are exclusive")
	case o.certificate != "" && o.key == "":
		return nil, usageErrorf("--certificate needs --key")
	case len(o.chain) > 0 && o.certificate == "":
		return nil, usageErrorf("--certificate-chain needs --certificate")
	case pkcs11.IsURI(o.key):
		if o.certificate != "" {
			return nil, usageErrorf("--certificate with a PKCS#11 key is not supported")
		}
		if _, err := pkcs11.ParseURI(o.key); err != nil {
			return nil, withCode(exitUsage, err)
		}
		// The token's session lives as long as the command.
		key, _, err := pkcs11.Open(o.key)
		if errors.Is(err, pkcs11.ErrNotBuilt) {
			return nil, withCode(exitUsage, err)
		}
		if err != nil {
			return nil, withCode(exitFailed, err)
		}
		return sign.NewCryptoSigner(key)
	case kms.IsURI(o.key):
		if o.certificate != "" {
			return nil, usageErrorf("--certificate with a KMS key is not supported")
		}
		if err := kms.Validate(o.key); err != nil {
			return nil, withCode(exitUsage, err)
		}
		key, err := kms.Open(ctx, o.key)
		if err != nil {
			return nil, withCode(exitFailed, err)
		}
		s, err := sign.NewCryptoSigner(key)
		if err != nil {
			return nil, withCode(exitUsage, fmt.Errorf("%s: %w", o.key, err))
		}
		return s, nil
	case o.key != "":
		if err := unknownKeyURI(o.key); err != nil {
			return nil, err
		}
		data, err := os.ReadFile(o.key)
		if err != nil {
			return nil, withCode(exitUsage, fmt.Errorf("read key: %w", err))
		}
		priv, err := sign.ParsePrivateKeyPEM(data, []byte(keyPassword(data)))
		if err != nil {
			return nil, withCode(exitUsage, fmt.Errorf("%s: %w", o.key, err))
		}
		if o.certificate == "" {
			return sign.NewKeySigner(priv)
		}
		certs, err := readCerts(o.certificate)
		if err != nil {
			return nil, err
		}
		var chain = certs[1:]
		for _, p := range o.chain {
			c, err := readCerts(p)
			if err != nil {
				return nil, err
			}
			chain = append(chain, c...)
		}
		s, err := sign.NewCertificateSigner(priv, certs[0], chain)
		if err != nil {
			return nil, withCode(exitUsage, err)
		}
		return s, nil
	case keyless:
		if o.fulcioURL == "" || o.rekorURL == "" {
			return nil, usageErrorf("keyless signing needs --fulcio-url and --rekor-url (nothing is contacted implicitly)")
		}
		token := o.identityToken
		if token == "" {
			token = os.Getenv("SIGSTORE_ID_TOKEN")
		}
		if token == "" {
			return nil, usageErrorf("keyless signing needs --identity-token or $SIGSTORE_ID_TOKEN")
		}
		ko := sign.KeylessOptions{FulcioURL: o.fulcioURL, RekorURL: o.rekorURL, TSAURL: o.tsaURL, IDToken: token}
		if o.trustedRoot != "" {
			tr, err := loadTrustedRoot(o.trustedRoot)
			if err != nil {
				return nil, err
			}
			ko.TrustedRoot = tr
		}
		return sign.NewKeylessSigner(ko)
	}
	return nil, usageErrorf("choose a trust mode: --key, --key with --certificate, or --fulcio-url/--rekor-url")
}

// uriScheme is an RFC 3986 scheme.
var uriScheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*$`)

// unknownKeyURI is a usage error for a --key that looks like a key URI of
// a scheme modelverify does not serve (a misspelt awskms://, or a KMS
// only cosign's plugins reach) and is not a file; nil otherwise.
func unknownKeyURI(key string) error {
	scheme, _, ok := strings.Cut(key, "://")
	if !ok || !uriScheme.MatchString(scheme) {
		return nil
	}
	if _, err := os.Stat(key); err == nil {
		return nil
	}
	return usageErrorf("--key %q: unknown key URI scheme %s:// (want a file, pkcs11:, or one of %s)", key, scheme, strings.Join(kms.Schemes(), ", "))
}

func readCerts(path string) ([]*x509.Certificate, error) {
	return readConfigFile(path, "certificate", sign.ParseCertificatesPEM)
}

// readConfigFile reads and parses a file a flag names; both failures are
// configuration errors (exit 3).
func readConfigFile[T any](path, what string, parse func([]byte) (T, error)) (T, error) {
	var zero T
	data, err := os.ReadFile(path)
	if err != nil {
		return zero, withCode(exitUsage, fmt.Errorf("read %s: %w", what, err))
	}
	v, err := parse(data)
	if err != nil {
		return zero, withCode(exitUsage, fmt.Errorf("%s: %w", path, err))
	}
	return v, nil
}

// folderFlags are the serialization flags of sign and verify.
type folderFlags struct {
	signature     string
	ignorePaths   []string
	method        string
	shardSize     int64
	allowSymlinks bool
	noProgress    bool
}

func isOCIRef(s string) bool {
	return strings.HasPrefix(s, "oci://") || strings.HasPrefix(s, "oci-layout://")
}

// bareRef turns a registry reference typed without its scheme
// (localhost:5000/models/bert:v1, registry.example.com/models/bert@sha256:...)
// into an oci:// reference, for commands whose target may also be a path.
// Anything that exists on disk, starts like a path, or does not parse as a
// reference is left as it is.
func bareRef(s string) string {
	if isOCIRef(s) || strings.HasPrefix(s, ".") || strings.HasPrefix(s, "/") || strings.Contains(s, "://") {
		return s
	}
	if _, err := os.Lstat(s); err == nil {
		return s
	}
	if _, err := manifest.ParseRef(s); err == nil {
		return "oci://" + s
	}
	return s
}

func newSignCmd() *cobra.Command {
	var so signerOptions
	var ff folderFlags
	var ro registryOptions
	var format string
	cmd := &cobra.Command{
		Use:   "sign [flags] TARGET",
		Short: "Sign a model folder, file or OCI artifact (OpenSSF Model Signing)",
		Long: `Sign a model in the OpenSSF Model Signing format: an in-toto statement listing
every file's sha256, wrapped in DSSE, in a Sigstore bundle v0.3.

TARGET is a folder, a single file, or an oci:// or oci-layout:// reference. For a
folder or file the bundle is written to model.sig in the folder (--signature to
choose); model.sig, .git/ and --ignore-paths are not signed. For an OCI artifact
the resources are the layers' digests (nothing is downloaded) and the bundle is
pushed as a referrer of the model manifest.

Trust modes: --key FILE; --key FILE --certificate CERT [--certificate-chain CHAIN];
--key with a key held elsewhere (awskms://, gcpkms://, azurekms://, hashivault://,
pkcs11:), which never leaves it; keyless with --fulcio-url, --rekor-url [--tsa-url]
and --identity-token.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" {
				return usageErrorf("--format must be text or json")
			}
			s, err := so.newSigner(cmd.Context())
			if err != nil {
				return err
			}
			target := bareRef(args[0])
			if isOCIRef(target) {
				return signOCI(cmd, s, target, &ro, format)
			}
			if ff.method != sign.MethodFiles && ff.method != sign.MethodShards {
				return usageErrorf("--method must be %s or %s", sign.MethodFiles, sign.MethodShards)
			}
			if _, err := os.Stat(target); err != nil {
				return withCode(exitFailed, err)
			}
			progress, done := hashProgress(cmd, "hashing", ff.noProgress)
			st, err := sign.SignFolder(cmd.Context(), s, target, sign.SignFolderOptions{
				SignaturePath: ff.signature,
				FolderOptions: sign.FolderOptions{
					Method: ff.method, ShardSize: ff.shardSize, IgnorePaths: ff.ignorePaths,
					AllowSymlinks: ff.allowSymlinks, Progress: progress,
				},
			})
			done()
			if err != nil {
				if errors.Is(err, sign.ErrSymlink) || errors.Is(err, sign.ErrSpecialFile) {
					return withCode(exitFailed, err)
				}
				return err
			}
			sigPath := ff.signature
			if sigPath == "" {
				sigPath = sign.DefaultSignaturePath(target)
			}
			if format == "json" {
				return printSigned(cmd, signed{Target: target, RootDigest: "sha256:" + st.SubjectDigest(),
					Resources: len(st.Predicate.Resources), Signature: sigPath})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "signed %s: %d resources, sha256:%s\nsignature: %s\n",
				target, len(st.Predicate.Resources), st.SubjectDigest(), sigPath)
			return nil
		},
	}
	so.AddFlags(cmd)
	ff.addFlags(cmd, true)
	ro.AddFlags(cmd)
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json (target, digests, resources, signature or referrers)")
	return cmd
}

func (ff *folderFlags) addFlags(cmd *cobra.Command, signing bool) {
	f := cmd.Flags()
	f.StringVar(&ff.signature, "signature", "", "signature file (default model.sig in the model folder)")
	f.StringSliceVar(&ff.ignorePaths, "ignore-paths", nil, "paths in the model that are not signed (relative to the model, or absolute inside it)")
	f.BoolVar(&ff.noProgress, "no-progress", false, "do not show a progress bar")
	if signing {
		f.StringVar(&ff.method, "method", sign.MethodFiles, "serialization: files (one sha256 per file) or shards (for huge files, hashed in parallel)")
		f.Int64Var(&ff.shardSize, "shard-size", sign.DefaultShardSize, "shard size in bytes for --method shards")
		f.BoolVar(&ff.allowSymlinks, "allow-symlinks", false, "follow symbolic links instead of refusing them")
	}
}

// hashProgress returns a progress callback that draws on stderr when it is a
// terminal, and a function that ends the line.
func hashProgress(cmd *cobra.Command, label string, off bool) (func(done, total int64), func()) {
	w := cmd.ErrOrStderr()
	if off || !isTerminal(w) {
		return nil, func() {}
	}
	var mu sync.Mutex
	var last time.Time
	drawn := false
	return func(done, total int64) {
			mu.Lock()
			defer mu.Unlock()
			if time.Since(last) < 100*time.Millisecond && done != total {
				return
			}
			last = time.Now()
			pct := 100.0
			if total > 0 {
				pct = float64(done) * 100 / float64(total)
			}
			const width = 30
			n := int(pct * width / 100)
			fmt.Fprintf(w, "\r%s [%s%s] %5.1f%% %d/%d MiB", label, strings.Repeat("=", n), strings.Repeat(" ", width-n), pct, done>>20, total>>20)
			drawn = true
		}, func() {
			mu.Lock()
			defer mu.Unlock()
			if drawn {
				fmt.Fprintln(w)
			}
		}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// signOCI signs the model manifest that ref names and pushes the bundle as
// its referrer.
func signOCI(cmd *cobra.Command, s *sign.Signer, target string, ro *registryOptions, format string) error {
	t, ref, err := ro.Open(cmd.Context(), target, false)
	if err != nil {
		return err
	}
	desc, _, err := manifest.Resolve(cmd.Context(), t, ref)
	if err != nil {
		return registryExit(err)
	}
	st, refs, err := sign.SignOCIReferrers(cmd.Context(), s, t, desc, ref.Repository)
	if err != nil {
		return registryExit(err)
	}
	if format == "json" {
		return printSigned(cmd, signed{
			Target: ref.WithDigest(desc.Digest).String(), ManifestDigest: desc.Digest.String(),
			RootDigest: "sha256:" + st.SubjectDigest(), Resources: len(st.Predicate.Resources),
			Referrers: &signedReferrers{OMS: refs.OMS.Digest.String(), Manifest: refs.Manifest.Digest.String()},
		})
	}
	fmt.Fprintf(cmd.OutOrStdout(), "signed %s@%s: %d layers, sha256:%s\nsignature: %s (OMS statement)\nsignature: %s (manifest digest)\n",
		target, desc.Digest, len(st.Predicate.Resources), st.SubjectDigest(), refs.OMS.Digest, refs.Manifest.Digest)
	return nil
}

// signed is sign's JSON output.
type signed struct {
	Target         string           `json:"target"`
	ManifestDigest string           `json:"manifestDigest,omitempty"`
	RootDigest     string           `json:"rootDigest"`
	Resources      int              `json:"resources"`
	Signature      string           `json:"signature,omitempty"` // a folder's bundle file
	Referrers      *signedReferrers `json:"referrers,omitempty"`
}

// signedReferrers are the digests of the two bundle referrers of an OCI
// model.
type signedReferrers struct {
	OMS      string `json:"oms"`
	Manifest string `json:"manifest"`
}

func printSigned(cmd *cobra.Command, s signed) error {
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

// cosignPasswordEnv is where cosign reads the password of its key files.
const cosignPasswordEnv = "COSIGN_PASSWORD"

// keyPassword is the password for the private key PEM data: $MODELVERIFY_PASSWORD,
// or, when that is empty and the key is one of cosign's encrypted files,
// $COSIGN_PASSWORD.
func keyPassword(data []byte) string {
	if p := os.Getenv(passwordEnv); p != "" {
		return p
	}
	if bytes.Contains(data, []byte("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----")) || bytes.Contains(data, []byte("-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----")) {
		return os.Getenv(cosignPasswordEnv)
	}
	return ""
}
