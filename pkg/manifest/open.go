package manifest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content/oci"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"
	"oras.land/oras-go/v2/registry/remote/retry"

	"github.com/modelverify/modelverify/internal/version"
)

// Target is where models are stored: a *remote.Repository for oci:// and an
// oras *oci.Store for oci-layout://. Both list referrers through
// [Referrers]; use [ReferrersSupported] to learn whether a registry implements
// the referrers API or needs the tag-schema fallback.
type Target interface {
	oras.GraphTarget
}

var (
	_ Target = (*remote.Repository)(nil)
	_ Target = (*oci.Store)(nil)
)

// RegistryOptions configure Open. The zero value talks HTTPS to registries,
// reads credentials as docker does, and refuses to create a missing layout.
type RegistryOptions struct {
	// PlainHTTP talks HTTP instead of HTTPS to the registry.
	PlainHTTP bool

	// DockerConfig is the path of a Docker config.json to read credentials
	// (and credential helpers) from. Empty means $DOCKER_CONFIG/config.json
	// or ~/.docker/config.json, as docker, oras and cosign read them. A
	// missing file means anonymous access.
	DockerConfig string

	// Credential, when set, is used instead of the Docker config.
	Credential auth.CredentialFunc

	// CreateLayout creates the oci-layout directory when it does not exist
	// (push needs it; pull and inspect must not create anything).
	CreateLayout bool

	// HTTPClient is the base HTTP client; nil means oras' retrying client
	// (with the TLS settings below). When set, the TLS settings below are
	// ignored: the client's own apply.
	HTTPClient *http.Client

	// CAFile is a PEM file of certificates trusted for the registry's TLS
	// certificate, besides the system roots (as oras --ca-file).
	CAFile string

	// InsecureSkipVerifyUnsafe accepts any TLS certificate from the
	// registry (as oras --insecure): anyone on the network path can then
	// serve other content. Digests are still verified, so a pinned digest
	// remains safe; a tag does not.
	InsecureSkipVerifyUnsafe bool

	// UserAgent overrides "modelverify/VERSION".
	UserAgent string
}

// Open returns the Target that ref points to. It does no network I/O.
func Open(ctx context.Context, ref Ref, opts RegistryOptions) (Target, error) {
	switch ref.Scheme {
	case SchemeLayout:
		return openLayout(ctx, ref, opts)
	case SchemeRegistry:
		return openRemote(ref, opts)
	default:
		return nil, fmt.Errorf("%w: unknown scheme %q", ErrInvalidReference, ref.Scheme)
	}
}

func openLayout(ctx context.Context, ref Ref, opts RegistryOptions) (Target, error) {
	fi, err := os.Stat(ref.Layout)
	switch {
	case errors.Is(err, fs.ErrNotExist) && !opts.CreateLayout:
		return nil, fmt.Errorf("open %s: %w", ref, errdef.ErrNotFound)
	case err == nil && !fi.IsDir():
		return nil, fmt.Errorf("open %s: not a directory", ref)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("open %s: %w", ref, err)
	}
	s, err := oci.NewWithContext(ctx, ref.Layout)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", ref, err)
	}
	return s, nil
}

func openRemote(ref Ref, opts RegistryOptions) (Target, error) {
	repo, err := remote.NewRepository(ref.Registry + "/" + ref.Repository)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalidReference, ref, err)
	}
	repo.PlainHTTP = opts.PlainHTTP
	cred := opts.Credential
	if cred == nil {
		var store credentials.Store
		if opts.DockerConfig != "" {
			store, err = credentials.NewStore(opts.DockerConfig, credentials.StoreOptions{})
		} else {
			store, err = credentials.NewStoreFromDocker(credentials.StoreOptions{})
		}
		if err != nil {
			return nil, fmt.Errorf("read docker credentials: %w", err)
		}
		cred = credentials.Credential(store)
	}
	base := opts.HTTPClient
	if base == nil {
		base = retry.DefaultClient
		if opts.CAFile != "" || opts.InsecureSkipVerifyUnsafe {
			tlsConfig, err := registryTLS(opts)
			if err != nil {
				return nil, err
			}
			t := http.DefaultTransport.(*http.Transport).Clone()
			t.TLSClientConfig = tlsConfig
			base = &http.Client{Transport: retry.NewTransport(t)}
		}
	}
	ua := opts.UserAgent
	if ua == "" {
		ua = "modelverify/" + version.Version
	}
	client := &auth.Client{
		Client:     base,
		Cache:      auth.NewCache(),
		Credential: cred,
		Header:     http.Header{"User-Agent": {ua}},
	}
	repo.Client = client
	return repo, nil
}

// registryTLS is the TLS configuration that opts ask for.
func registryTLS(opts RegistryOptions) (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: opts.InsecureSkipVerifyUnsafe} //nolint:gosec // asked for by name
	if opts.CAFile != "" {
		pem, err := os.ReadFile(opts.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read CA file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s: no PEM certificate in it", opts.CAFile)
		}
		c.RootCAs = pool
	}
	return c, nil
}

// ReferrersSupported reports whether target implements the OCI referrers
// API. A local layout always does (oras indexes predecessors itself). For a
// registry it asks GET /v2/REPO/referrers/DIGEST once and records the answer
// in the repository (remote.Repository.SetReferrersCapability), so that
// Referrers and pushes with a subject use the tag-schema fallback when it
// returns false. The repository must exist.
func ReferrersSupported(ctx context.Context, target Target) (bool, error) {
	repo, ok := target.(*remote.Repository)
	if !ok {
		return true, nil
	}
	// Listing the referrers of a digest that cannot exist makes oras ping the
	// referrers endpoint and record the registry's capability; the result is
	// then read back by trying to set the opposite capability.
	var zero ocispec.Descriptor
	zero.MediaType = ocispec.MediaTypeImageManifest
	zero.Digest = "sha256:0000000000000000000000000000000000000000000000000000000000000000"
	err := repo.Referrers(ctx, zero, "", func([]ocispec.Descriptor) error { return nil })
	if err != nil && !errors.Is(err, errdef.ErrNotFound) {
		return false, fmt.Errorf("referrers capability of %s: %w", repo.Reference, err)
	}
	if err := repo.SetReferrersCapability(true); err != nil {
		if errors.Is(err, remote.ErrReferrersCapabilityAlreadySet) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// Referrers lists the manifests whose subject is desc, optionally only those
// of artifactType, through the referrers API or the tag-schema fallback.
//
// Some registries (go-containerregistry's among them) report a referrer's
// config media type as its artifactType even when the manifest has an
// artifactType of its own. So when filtering, a referrer listed with no
// artifactType or with the empty-config media type is fetched (bounded by
// MaxManifestBytes) and judged by the artifactType in its manifest.
// Callers must still verify what they fetch: an artifactType is a label, not
// a proof.
func Referrers(ctx context.Context, target Target, desc ocispec.Descriptor, artifactType string) ([]ocispec.Descriptor, error) {
	all, err := registry.Referrers(ctx, target, desc, "")
	if err != nil {
		return nil, fmt.Errorf("referrers of %s: %w", desc.Digest, err)
	}
	if artifactType == "" {
		return all, nil
	}
	var out []ocispec.Descriptor
	for _, d := range all {
		switch d.ArtifactType {
		case artifactType:
			out = append(out, d)
			continue
		case "", ocispec.MediaTypeEmptyJSON:
		default:
			continue
		}
		if d.MediaType != ocispec.MediaTypeImageManifest {
			continue
		}
		b, err := fetchBounded(ctx, target, d, MaxManifestBytes)
		if err != nil {
			return nil, fmt.Errorf("referrers of %s: fetch %s: %w", desc.Digest, d.Digest, err)
		}
		var m struct {
			ArtifactType string `json:"artifactType"`
		}
		if json.Unmarshal(b, &m) == nil && m.ArtifactType == artifactType {
			d.ArtifactType = artifactType
			out = append(out, d)
		}
	}
	return out, nil
}
