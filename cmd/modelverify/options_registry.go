package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/modelverify/modelverify/pkg/manifest"
)

// registryOptions are the flags of every command that reads or writes OCI
// references (push, pull, inspect, and the sign, verify and scan commands).
type registryOptions struct {
	plainHTTP      bool
	registryConfig string
	insecure       bool
	caFile         string
}

// AddFlags registers the registry flags on cmd.
func (o *registryOptions) AddFlags(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&o.plainHTTP, "plain-http", false, "talk HTTP instead of HTTPS to the registry")
	cmd.Flags().BoolVar(&o.insecure, "insecure", false, "accept any TLS certificate from the registry (digests are still checked; a tag can then be redirected)")
	cmd.Flags().StringVar(&o.caFile, "ca-file", "", "PEM certificates to trust for the registry's TLS certificate, besides the system roots")
	cmd.Flags().StringVar(&o.registryConfig, "registry-config", "", "Docker config file with credentials and credential helpers (default $DOCKER_CONFIG/config.json or ~/.docker/config.json)")
}

// RegistryOptions returns the library options the flags describe.
func (o *registryOptions) RegistryOptions() manifest.RegistryOptions {
	return manifest.RegistryOptions{PlainHTTP: o.plainHTTP, DockerConfig: o.registryConfig,
		CAFile: o.caFile, InsecureSkipVerifyUnsafe: o.insecure}
}

// Open parses s and opens its target. A bad reference is a usage error
// (exit 3); createLayout lets a missing oci-layout directory be created.
func (o *registryOptions) Open(ctx context.Context, s string, createLayout bool) (manifest.Target, manifest.Ref, error) {
	ref, err := manifest.ParseRef(s)
	if err != nil {
		return nil, manifest.Ref{}, withCode(exitUsage, err)
	}
	if o.caFile != "" {
		if _, err := os.Stat(o.caFile); err != nil {
			return nil, manifest.Ref{}, usageErrorf("--ca-file: %v", err)
		}
	}
	opts := o.RegistryOptions()
	opts.CreateLayout = createLayout
	target, err := manifest.Open(ctx, ref, opts)
	if err != nil {
		if errors.Is(err, manifest.ErrInvalidReference) {
			return nil, manifest.Ref{}, withCode(exitUsage, err)
		}
		return nil, manifest.Ref{}, withCode(exitFailed, err)
	}
	return target, ref, nil
}

// transferOptions are the output and parallelism flags of push and pull.
type transferOptions struct {
	quiet       bool
	concurrency int
	format      string
}

func (o *transferOptions) AddFlags(cmd *cobra.Command) {
	cmd.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "no progress or summary on stderr")
	cmd.Flags().StringVar(&o.format, "format", "text", "output on stdout: text (the reference with its digest) or json (reference, digest and files)")
	cmd.Flags().IntVar(&o.concurrency, "concurrency", manifest.DefaultConcurrency, "files transferred at once")
}

// progress returns a progress bar on stderr when stderr is a terminal and
// --quiet is not set, or nil.
func (o *transferOptions) progress(cmd *cobra.Command, verb string) *progressBar {
	if o.quiet {
		return nil
	}
	f, ok := cmd.ErrOrStderr().(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return newProgressBar(f, verb)
}

// progressBar draws one status line: phase, bytes done of the total, rate.
type progressBar struct {
	w    io.Writer
	verb string

	mu       sync.Mutex
	hashed   int64
	total    int64
	done     int64
	files    int
	finished int
	start    time.Time

	stop chan struct{}
	wg   sync.WaitGroup
}

func newProgressBar(w io.Writer, verb string) *progressBar {
	p := &progressBar{w: w, verb: verb, stop: make(chan struct{}), start: time.Now()}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.draw()
			}
		}
	}()
	return p
}

// Func returns the library progress callback (nil for a nil bar).
func (p *progressBar) Func() manifest.ProgressFunc {
	if p == nil {
		return nil
	}
	return func(e manifest.Event) {
		p.mu.Lock()
		defer p.mu.Unlock()
		switch e.Phase {
		case manifest.PhaseHash:
			p.hashed += e.N
		case manifest.PhasePlan:
			if p.files == 0 {
				p.start = time.Now()
			}
			p.total += e.Total
			p.files++
		default:
			p.done += e.N
			if e.Done {
				p.finished++
				if e.Skipped {
					p.done += e.Total
				}
			}
		}
	}
}

func (p *progressBar) draw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	var line string
	if p.files == 0 {
		line = fmt.Sprintf("hashing %s", humanBytes(p.hashed))
	} else {
		pct := 100.0
		if p.total > 0 {
			pct = float64(p.done) * 100 / float64(p.total)
		}
		rate := float64(p.done) / time.Since(p.start).Seconds()
		line = fmt.Sprintf("%s %d/%d files  %s / %s  %3.0f%%  %s/s",
			p.verb, p.finished, p.files, humanBytes(p.done), humanBytes(p.total), pct, humanBytes(int64(rate)))
	}
	fmt.Fprintf(p.w, "\r\x1b[K%s", line)
}

// Close stops drawing and clears the line.
func (p *progressBar) Close() {
	if p == nil {
		return
	}
	close(p.stop)
	p.wg.Wait()
	fmt.Fprint(p.w, "\r\x1b[K")
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// registryExit maps a library error to an exit code: bad references are
// usage errors, everything else (hostile manifests, digest mismatches,
// registry and network errors) could not be decided.
func registryExit(err error) error {
	if err == nil {
		return nil
	}
	var e *exitError
	if errors.As(err, &e) {
		return err
	}
	if errors.Is(err, manifest.ErrInvalidReference) {
		return withCode(exitUsage, err)
	}
	return withCode(exitFailed, err)
}

// parseAnnotations turns KEY=VALUE flags into a map.
func parseAnnotations(kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usageErrorf("--annotation %q: want KEY=VALUE", kv)
		}
		out[k] = v
	}
	return out, nil
}

func (o *transferOptions) checkFormat() error {
	if o.format != "text" && o.format != "json" {
		return usageErrorf("--format must be text or json")
	}
	return nil
}

// transferred is push's and pull's JSON output.
type transferred struct {
	Reference string              `json:"reference"`
	Digest    string              `json:"digest"`
	Files     []manifest.Resource `json:"files"`
}

// printTransfer writes the pushed or pulled reference, as text or JSON.
func (o *transferOptions) printTransfer(cmd *cobra.Command, ref manifest.Ref, desc ocispec.Descriptor, files []manifest.Resource) error {
	pinned := ref.WithDigest(desc.Digest)
	if o.format != "json" {
		_, err := fmt.Fprintln(cmd.OutOrStdout(), pinned)
		return err
	}
	if files == nil {
		files = []manifest.Resource{}
	}
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetIndent("", "  ")
	return enc.Encode(transferred{Reference: pinned.String(), Digest: desc.Digest.String(), Files: files})
}
