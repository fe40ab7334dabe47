// Package image assembles the container image of modelverify itself without
// a container engine: a static binary, a non-root user, the CA certificates
// of the build machine and OCI labels, one image per platform under an OCI
// image index. The result is written to an OCI image layout or pushed to a
// registry with go-containerregistry.
package image

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/match"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content/oci"

	"github.com/modelverify/modelverify/pkg/manifest"
)

// Paths and identity inside the image.
const (
	BinaryPath = "/usr/local/bin/modelverify"
	CAPath     = "/etc/ssl/certs/ca-certificates.crt"
	UID        = 65532 // "nonroot", as distroless images number it
	UserName   = "nonroot"
	HomeDir    = "/home/nonroot"
)

// OCI annotation keys used as labels (image-spec annotations.md).
const (
	LabelVersion  = "org.opencontainers.image.version"
	LabelSource   = "org.opencontainers.image.source"
	LabelRevision = "org.opencontainers.image.revision"
	LabelCreated  = "org.opencontainers.image.created"
	LabelTitle    = "org.opencontainers.image.title"
	LabelDesc     = "org.opencontainers.image.description"
	LabelLicenses = "org.opencontainers.image.licenses"
)

// ErrOptions reports options that cannot build an image.
var ErrOptions = errors.New("image options")

// Binary is the modelverify executable for one platform. Libs are the
// shared libraries a dynamically linked (cgo) binary loads, host paths that
// are copied to the same absolute paths in the image (symbolic links are
// followed and stored as the files they name); a static binary has none.
type Binary struct {
	Platform v1.Platform
	Path     string
	Libs     []string
}

// Options describe the image. Binaries and CACertificates are required.
type Options struct {
	Binaries       []Binary
	CACertificates string // PEM bundle copied to CAPath
	Version        string // LabelVersion; empty leaves it out
	Revision       string // LabelRevision (the commit)
	Source         string // LabelSource (the repository URL)
	// Created is the image creation time. The zero value is the Unix epoch,
	// so that the same inputs always give the same digest.
	Created time.Time
}

// ParsePlatform parses "os/arch[/variant]".
func ParsePlatform(s string) (v1.Platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return v1.Platform{}, fmt.Errorf("%w: platform %q: want os/arch[/variant]", ErrOptions, s)
	}
	p := v1.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}

// Build assembles the image index: one image per binary, in the order
// given, each with a single layer.
func Build(o Options) (v1.ImageIndex, error) {
	if len(o.Binaries) == 0 {
		return nil, fmt.Errorf("%w: no binary", ErrOptions)
	}
	if o.CACertificates == "" {
		return nil, fmt.Errorf("%w: no CA certificates", ErrOptions)
	}
	ca, err := os.ReadFile(o.CACertificates)
	if err != nil {
		return nil, fmt.Errorf("%w: CA certificates: %v", ErrOptions, err)
	}
	if !bytes.Contains(ca, []byte("-----BEGIN CERTIFICATE-----")) {
		return nil, fmt.Errorf("%w: %s holds no PEM certificate", ErrOptions, o.CACertificates)
	}
	created := o.Created
	if created.IsZero() {
		created = time.Unix(0, 0)
	}
	created = created.UTC()
	labels := map[string]string{
		LabelTitle:    "modelverify",
		LabelDesc:     "Scan, sign, verify and gate ML model artifacts",
		LabelLicenses: "Apache-2.0",
		LabelCreated:  created.Format(time.RFC3339),
	}
	for k, v := range map[string]string{LabelVersion: o.Version, LabelRevision: o.Revision, LabelSource: o.Source} {
		if v != "" {
			labels[k] = v
		}
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	seen := map[string]bool{}
	for _, b := range o.Binaries {
		key := b.Platform.String()
		if seen[key] {
			return nil, fmt.Errorf("%w: platform %s given twice", ErrOptions, key)
		}
		seen[key] = true
		img, err := platformImage(b, ca, labels, created)
		if err != nil {
			return nil, err
		}
		p := b.Platform
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &p},
		})
	}
	return mutate.Annotations(idx, labels).(v1.ImageIndex), nil
}

func platformImage(b Binary, ca []byte, labels map[string]string, created time.Time) (v1.Image, error) {
	bin, err := os.ReadFile(b.Path)
	if err != nil {
		return nil, fmt.Errorf("%w: binary for %s: %v", ErrOptions, b.Platform.String(), err)
	}
	libs := map[string][]byte{}
	for _, l := range b.Libs {
		if !filepath.IsAbs(l) || filepath.Clean(l) != l {
			return nil, fmt.Errorf("%w: library %q for %s: want a clean absolute path", ErrOptions, l, b.Platform.String())
		}
		body, err := os.ReadFile(l)
		if err != nil {
			return nil, fmt.Errorf("%w: library for %s: %v", ErrOptions, b.Platform.String(), err)
		}
		libs[l[1:]] = body
	}
	layerTar, err := rootfs(bin, ca, libs, created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:     layer,
		History:   v1.History{Created: v1.Time{Time: created}, CreatedBy: "modelverify tools/image", Comment: comment(b)},
		MediaType: types.OCILayer,
	})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS = b.Platform.OS
	cf.Architecture = b.Platform.Architecture
	cf.Variant = b.Platform.Variant
	cf.Created = v1.Time{Time: created}
	cf.Config.User = fmt.Sprintf("%d:%d", UID, UID)
	cf.Config.WorkingDir = HomeDir
	cf.Config.Entrypoint = []string{BinaryPath}
	cf.Config.Env = []string{
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"SSL_CERT_FILE=" + CAPath,
		"HOME=" + HomeDir,
	}
	cf.Config.Labels = labels
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, err
	}
	return mutate.Annotations(img, labels).(v1.Image), nil
}

func comment(b Binary) string {
	if len(b.Libs) > 0 {
		return "modelverify binary with the shared libraries it loads, CA certificates, nonroot user"
	}
	return "static modelverify binary, CA certificates, nonroot user"
}

// rootfs is the image's only layer, with fixed owners and times so that it
// is reproducible. libs maps paths relative to / to file contents; their
// folders are created as needed.
func rootfs(bin, ca []byte, libs map[string][]byte, created time.Time) ([]byte, error) {
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\n%s:x:%d:%d:%s:%s:/sbin/nologin\n", UserName, UID, UID, UserName, HomeDir)
	group := fmt.Sprintf("root:x:0:\n%s:x:%d:\n", UserName, UID)
	type entry struct {
		name string
		mode int64
		uid  int
		body []byte
		dir  bool
	}
	entries := []entry{
		{name: "etc/", mode: 0o755, dir: true},
		{name: "etc/group", mode: 0o644, body: []byte(group)},
		{name: "etc/passwd", mode: 0o644, body: []byte(passwd)},
		{name: "etc/ssl/", mode: 0o755, dir: true},
		{name: "etc/ssl/certs/", mode: 0o755, dir: true},
		{name: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, body: ca},
		{name: "home/", mode: 0o755, dir: true},
		{name: "home/nonroot/", mode: 0o700, uid: UID, dir: true},
		{name: "tmp/", mode: 0o1777, dir: true},
		{name: "usr/", mode: 0o755, dir: true},
		{name: "usr/local/", mode: 0o755, dir: true},
		{name: "usr/local/bin/", mode: 0o755, dir: true},
		{name: "usr/local/bin/modelverify", mode: 0o755, body: bin},
	}
	have := map[string]bool{}
	for _, e := range entries {
		have[e.name] = true
	}
	for name, body := range libs {
		if have[name] {
			return nil, fmt.Errorf("%w: library %s clashes with a file of the image", ErrOptions, name)
		}
		for d := path.Dir(name); d != "."; d = path.Dir(d) {
			if !have[d+"/"] {
				have[d+"/"] = true
				entries = append(entries, entry{name: d + "/", mode: 0o755, dir: true})
			}
		}
		have[name] = true
		entries = append(entries, entry{name: name, mode: 0o755, body: body})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{
			Name: e.name, Mode: e.mode, Uid: e.uid, Gid: e.uid, ModTime: created, Format: tar.FormatPAX,
			Typeflag: tar.TypeReg, Size: int64(len(e.body)),
		}
		if e.uid != 0 {
			h.Uname, h.Gname = UserName, UserName
		} else {
			h.Uname, h.Gname = "root", "root"
		}
		if e.dir {
			h.Typeflag, h.Size = tar.TypeDir, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteLayout writes idx to the OCI image layout dir (created if missing)
// and names it tag with org.opencontainers.image.ref.name. An existing
// entry with the same tag is replaced.
func WriteLayout(dir string, idx v1.ImageIndex, tag string) (v1.Hash, error) {
	d, err := idx.Digest()
	if err != nil {
		return v1.Hash{}, err
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		if p, err = layout.Write(dir, empty.Index); err != nil {
			return v1.Hash{}, fmt.Errorf("create layout %s: %w", dir, err)
		}
	}
	var opts []layout.Option
	if tag != "" {
		if err := p.RemoveDescriptors(match.Annotation("org.opencontainers.image.ref.name", tag)); err != nil {
			return v1.Hash{}, err
		}
		opts = append(opts, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": tag}))
	}
	if err := p.AppendIndex(idx, opts...); err != nil {
		return v1.Hash{}, fmt.Errorf("write layout %s: %w", dir, err)
	}
	return d, nil
}

// Push copies the index tagged tag in the OCI layout dir, with every
// manifest and blob it references and its referrers (signatures), to the
// registry reference ref
// (oci://HOST/REPO[:TAG]). Credentials and plain HTTP come from reg, as for
// every modelverify command. It returns the digest of the pushed index.
func Push(ctx context.Context, dir, tag, ref string, reg manifest.RegistryOptions) (v1.Hash, error) {
	src, err := oci.NewWithContext(ctx, dir)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("open layout %s: %w", dir, err)
	}
	r, err := manifest.ParseRef(ref)
	if err != nil || r.Scheme != manifest.SchemeRegistry {
		return v1.Hash{}, fmt.Errorf("%w: push reference %q: want oci://HOST/REPO[:TAG]", ErrOptions, ref)
	}
	dst, err := manifest.Open(ctx, r, reg)
	if err != nil {
		return v1.Hash{}, err
	}
	// ExtendedCopy also copies the index's referrers: its signatures.
	desc, err := oras.ExtendedCopy(ctx, src, tag, dst, r.TagOrDefault(), oras.DefaultExtendedCopyOptions)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("push %s: %w", ref, err)
	}
	return v1.NewHash(desc.Digest.String())
}

// imageLine matches a YAML "image:" value naming repo, with a tag, a digest
// or both.
func imageLine(repo string) *regexp.Regexp {
	return regexp.MustCompile(`(?m)^(\s*(?:-\s*)?image:\s*["']?)` + regexp.QuoteMeta(repo) + `(?::[\w][\w.-]*)?(?:@sha256:[0-9a-f]{64})?(["']?\s*)$`)
}

// PinDigest rewrites every "image:" line of a Kubernetes manifest that
// names repo so that it references the image by digest d. It reports
// ErrOptions when no line names repo, or when one names it in a form it
// cannot rewrite (so that nothing is left unpinned silently).
func PinDigest(manifest []byte, repo string, d v1.Hash) ([]byte, error) {
	if d.Algorithm != "sha256" || len(d.Hex) != 64 {
		return nil, fmt.Errorf("%w: digest %q", ErrOptions, d)
	}
	re := imageLine(repo)
	if !re.Match(manifest) {
		return nil, fmt.Errorf("%w: no image: line names %s", ErrOptions, repo)
	}
	out := re.ReplaceAll(manifest, []byte("${1}"+repo+"@"+d.String()+"${2}"))
	for _, r := range ImageRefs(out, repo) {
		if r != repo+"@"+d.String() {
			return nil, fmt.Errorf("%w: image %q is not a reference this tool can pin", ErrOptions, r)
		}
	}
	return out, nil
}

// ImageRefs returns the values of the "image:" lines that name repo (with
// a tag, a digest, both or neither; not another repository that merely
// starts with the same name).
func ImageRefs(manifest []byte, repo string) []string {
	re := regexp.MustCompile(`(?m)^\s*(?:-\s*)?image:\s*["']?(` + regexp.QuoteMeta(repo) + `(?:[:@][^\s"']*)?)["']?\s*$`)
	var out []string
	for _, m := range re.FindAllSubmatch(manifest, -1) {
		out = append(out, string(m[1]))
	}
	return out
}
