package oci

import (
	"bytes"
	"container/list"
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry"

	"github.com/modelverify/modelverify/pkg/manifest"
)

// Content fetched by digest never changes, so the manifests and signature
// bundles that one admission reads for its signature check and again for its
// scan check (and later admissions of the same model) come from memory.
// Only content addressed by digest is kept; tags and referrer lists are
// always asked of the registry.
const (
	cacheMaxBytes = 16 << 20 // all entries together
	cacheMaxItem  = 1 << 20  // a larger blob is never kept
)

// contentCache is a byte-bounded LRU of verified content, keyed by
// repository and digest (a digest seen in one repository says nothing of
// another).
type contentCache struct {
	mu    sync.Mutex
	bytes int
	order *list.List // of *cacheEntry, most recent first
	items map[string]*list.Element
}

type cacheEntry struct {
	key  string
	data []byte
	desc ocispec.Descriptor
}

func newContentCache() *contentCache {
	return &contentCache{order: list.New(), items: map[string]*list.Element{}}
}

func (c *contentCache) get(key string) (*cacheEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*cacheEntry), true
}

func (c *contentCache) put(e *cacheEntry) {
	if len(e.data) > cacheMaxItem {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[e.key]; ok {
		c.bytes -= len(el.Value.(*cacheEntry).data)
		c.order.Remove(el)
	}
	c.items[e.key] = c.order.PushFront(e)
	c.bytes += len(e.data)
	for c.bytes > cacheMaxBytes {
		last := c.order.Back()
		old := last.Value.(*cacheEntry)
		c.order.Remove(last)
		delete(c.items, old.key)
		c.bytes -= len(old.data)
	}
}

// cachedTarget reads through the cache for content fetched by digest and
// for digests resolved to descriptors; everything else goes to the
// registry. It wraps only repositories with a Referrers method (remote
// ones, which use the referrers API or the tag-schema fallback themselves).
type cachedTarget struct {
	manifest.Target
	lister registry.ReferrerLister
	repo   string
	cache  *contentCache
}

var (
	_ manifest.Target         = (*cachedTarget)(nil)
	_ registry.ReferrerLister = (*cachedTarget)(nil)
)

// withCache wraps t if it lists referrers itself, and returns it as it is
// otherwise.
func withCache(t manifest.Target, repo string, c *contentCache) manifest.Target {
	l, ok := t.(registry.ReferrerLister)
	if !ok {
		return t
	}
	return &cachedTarget{Target: t, lister: l, repo: repo, cache: c}
}

// Fetch returns small content from the cache, or fetches it, checks its
// size and digest, and keeps it.
func (t *cachedTarget) Fetch(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	if desc.Size < 0 || desc.Size > cacheMaxItem {
		return t.Target.Fetch(ctx, desc)
	}
	key := t.repo + "@" + desc.Digest.String()
	if e, ok := t.cache.get(key); ok && e.data != nil && int64(len(e.data)) == desc.Size {
		return io.NopCloser(bytes.NewReader(e.data)), nil
	}
	data, err := content.FetchAll(ctx, t.Target, desc) // verifies size and digest
	if err != nil {
		return nil, err
	}
	t.cache.put(&cacheEntry{key: key, data: data, desc: desc})
	return io.NopCloser(bytes.NewReader(data)), nil
}

// Resolve answers for a digest from the cache once the registry has
// resolved it; a tag is always resolved by the registry. A digest is
// resolved with one GET where the repository can, and the manifest it
// returns is kept too, so that fetching it next costs nothing.
func (t *cachedTarget) Resolve(ctx context.Context, reference string) (ocispec.Descriptor, error) {
	d, err := digest.Parse(reference)
	if err != nil {
		return t.Target.Resolve(ctx, reference)
	}
	key := t.repo + "#" + d.String()
	if e, ok := t.cache.get(key); ok {
		return e.desc, nil
	}
	desc, err := t.resolveDigest(ctx, d)
	if err != nil {
		return desc, err
	}
	if desc.Digest != d {
		return ocispec.Descriptor{}, fmt.Errorf("resolve %s: registry returned %s", d, desc.Digest)
	}
	t.cache.put(&cacheEntry{key: key, desc: desc})
	return desc, nil
}

func (t *cachedTarget) resolveDigest(ctx context.Context, d digest.Digest) (ocispec.Descriptor, error) {
	rf, ok := t.Target.(registry.ReferenceFetcher)
	if !ok {
		return t.Target.Resolve(ctx, d.String())
	}
	desc, rc, err := rf.FetchReference(ctx, d.String())
	if err != nil {
		return desc, err
	}
	defer rc.Close()
	if desc.Size < 0 || desc.Size > cacheMaxItem {
		return desc, nil // too large to keep: only the descriptor is used
	}
	data, err := content.ReadAll(rc, desc) // checks size and digest
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	t.cache.put(&cacheEntry{key: t.repo + "@" + desc.Digest.String(), data: data, desc: desc})
	return desc, nil
}

// Referrers lists as the wrapped repository does; listings are never
// cached.
func (t *cachedTarget) Referrers(ctx context.Context, desc ocispec.Descriptor, artifactType string, fn func([]ocispec.Descriptor) error) error {
	return t.lister.Referrers(ctx, desc, artifactType, fn)
}
