// Package oci connects admission policies to OCI registries: it resolves
// references to manifest digests and compiles policy authorities into
// verifiers that check the signatures and scan attestations stored as
// referrers of a model manifest, with pkg/sign.
package oci

import (
	"context"
	"fmt"
	"sync"

	"github.com/modelverify/modelverify/pkg/admission"
	"github.com/modelverify/modelverify/pkg/manifest"
)

// Options configure registry access.
type Options struct {
	Registry manifest.RegistryOptions
}

// Registry opens repositories once and keeps them, so that connections
// and tokens are reused across admission requests. It implements
// admission.Resolver and admission.AuthorityCompiler.
type Registry struct {
	opts    Options
	mu      sync.Mutex
	targets map[string]manifest.Target
	cache   *contentCache
}

var (
	_ admission.Resolver          = (*Registry)(nil)
	_ admission.AuthorityCompiler = (*Registry)(nil)
)

// New returns a Registry.
func New(opts Options) *Registry {
	return &Registry{opts: opts, targets: map[string]manifest.Target{}, cache: newContentCache()}
}

// maxTargets bounds the repositories kept open; beyond it they are reopened.
const maxTargets = 1024

func (r *Registry) open(ctx context.Context, ref admission.Reference) (manifest.Target, manifest.Ref, error) {
	mref, err := manifest.ParseRef("oci://" + ref.String())
	if err != nil {
		return nil, manifest.Ref{}, err
	}
	key := ref.Name()
	r.mu.Lock()
	t, ok := r.targets[key]
	r.mu.Unlock()
	if ok {
		return t, mref, nil
	}
	t, err = manifest.Open(ctx, mref, r.opts.Registry)
	if err != nil {
		return nil, manifest.Ref{}, err
	}
	t = withCache(t, key, r.cache)
	r.mu.Lock()
	if len(r.targets) >= maxTargets {
		clear(r.targets)
	}
	r.targets[key] = t
	r.mu.Unlock()
	return t, mref, nil
}

// Resolve returns the digest of the manifest that ref names.
func (r *Registry) Resolve(ctx context.Context, ref admission.Reference) (string, error) {
	t, mref, err := r.open(ctx, ref)
	if err != nil {
		return "", err
	}
	name := mref.Tag
	if mref.Digest != "" {
		name = mref.Digest.String()
	}
	if name == "" {
		name = manifest.DefaultTag
	}
	desc, err := t.Resolve(ctx, name)
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", ref, err)
	}
	return desc.Digest.String(), nil
}

// Compile compiles doc against the registries this Registry reaches.
func (r *Registry) Compile(doc *admission.PolicyDocument, opts admission.Options) (*admission.Policy, error) {
	opts.Resolver, opts.Authorities = r, r
	return admission.Compile(doc, opts)
}
