// Package remote scans model artifacts stored in OCI registries (oci://REF)
// and local OCI layouts (oci-layout://DIR[:TAG|@DIGEST]): it resolves the
// model manifest, fetches each file layer with its digest verified, and
// scans it through the same dispatcher as a file on disk, reporting it by
// the file path its layer annotates; the files inside tar layers (.tar,
// .tar+gzip, .tar+zstd) are scanned one by one under the paths the tar
// gives them.
package remote

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/modelverify/modelverify/pkg/manifest"
	"github.com/modelverify/modelverify/pkg/scan"
)

// ErrDigest is returned for a layer whose content does not match its digest.
var ErrDigest = errors.New("layer digest mismatch")

// IsRef reports whether target names an OCI reference rather than a path.
func IsRef(target string) bool {
	return len(target) > len("oci://") && target[:len("oci://")] == "oci://" ||
		len(target) > len("oci-layout://") && target[:len("oci-layout://")] == "oci-layout://"
}

// Scan scans every file layer of the model artifact that ref names and
// returns one target per file, with Path "REF/FILEPATH" and Digest the
// layer's verified digest. Resolving the reference and fetching the manifest
// are the only errors returned (a registry or network error); a layer that
// cannot be fetched or does not match its digest becomes a malformed target.
func Scan(ctx context.Context, sc *scan.Scanner, ref string, opts manifest.RegistryOptions) ([]scan.Target, error) {
	r, err := manifest.ParseRef(ref)
	if err != nil {
		return nil, err
	}
	target, err := manifest.Open(ctx, r, opts)
	if err != nil {
		return nil, err
	}
	_, m, err := manifest.Resolve(ctx, target, r)
	if err != nil {
		return nil, err
	}
	raw, tars, err := manifest.PlanLayers(m)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	out := make([][]scan.Target, len(raw)+len(tars))
	var wg sync.WaitGroup
	sem := make(chan struct{}, manifest.DefaultConcurrency)
	run := func(i int, fn func() []scan.Target) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			out[i] = fn()
		}()
	}
	for i, f := range raw {
		d := ocispec.Descriptor{MediaType: f.MediaType, Digest: f.Digest, Size: f.Size}
		run(i, func() []scan.Target { return []scan.Target{scanLayer(ctx, sc, target, d, ref+"/"+f.Path)} })
	}
	for i, t := range tars {
		run(len(raw)+i, func() []scan.Target { return scanTarLayer(ctx, sc, target, t, ref) })
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var all []scan.Target
	for _, ts := range out {
		all = append(all, ts...)
	}
	return all, nil
}

// scanTarLayer scans every file of a tar layer, each reported as
// "REF/PATH" with the file's own sha256 (the digest a signature binds). A
// layer that cannot be read completely, or whose blob does not match its
// digest, adds a malformed target named after the layer; the files read
// before that are still reported (a dangerous file is dangerous whatever
// follows it).
func scanTarLayer(ctx context.Context, sc *scan.Scanner, target manifest.Target, t manifest.TarLayer, ref string) []scan.Target {
	var out []scan.Target
	err := manifest.ReadTarBlob(ctx, target, t, manifest.TarLimits{}, func(rel string, size int64, r io.Reader) error {
		tmp, err := os.CreateTemp("", "modelverify-layer-*")
		if err != nil {
			return err
		}
		defer os.Remove(tmp.Name())
		defer tmp.Close()
		h := sha256.New()
		n, err := io.Copy(io.MultiWriter(tmp, h), r)
		if err != nil {
			return err
		}
		tg := sc.ScanReaderAt(ctx, ref+"/"+rel, tmp, n)
		tg.Digest = "sha256:" + hex.EncodeToString(h.Sum(nil))
		out = append(out, tg)
		return nil
	})
	if err != nil {
		label := t.Path
		if label == "" {
			label = t.Desc.Digest.String()
		}
		out = append(out, malformed(ref+"/"+label, t.Desc.Size, err))
	}
	return out
}

func malformed(display string, size int64, err error) scan.Target {
	return scan.Target{
		Path: display, Size: size, Format: "unknown", Verdict: scan.VerdictMalformed, Error: err.Error(),
		Findings: []scan.Finding{{RuleID: scan.RuleMalformed, Offset: -1, Message: err.Error()}},
	}
}

// scanLayer fetches one layer into a temporary file, verifying its size and
// digest while it streams, then scans it.
func scanLayer(ctx context.Context, sc *scan.Scanner, target manifest.Target, desc ocispec.Descriptor, display string) scan.Target {
	bad := func(err error) scan.Target { return malformed(display, desc.Size, err) }
	rc, err := target.Fetch(ctx, desc)
	if err != nil {
		return bad(fmt.Errorf("fetch %s: %w", desc.Digest, err))
	}
	defer rc.Close()
	tmp, err := os.CreateTemp("", "modelverify-layer-*")
	if err != nil {
		return bad(err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(rc, desc.Size+1))
	if err != nil {
		return bad(fmt.Errorf("fetch %s: %w", desc.Digest, err))
	}
	got := hex.EncodeToString(h.Sum(nil))
	if n != desc.Size || got != desc.Digest.Encoded() {
		return bad(fmt.Errorf("%w: %s: got sha256:%s (%d bytes)", ErrDigest, desc.Digest, got, n))
	}
	t := sc.ScanReaderAt(ctx, display, tmp, n)
	t.Digest = desc.Digest.String()
	return t
}
