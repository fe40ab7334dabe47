// Command mkimage builds the modelverify container image (`make image`):
//
//	mkimage build --binary linux/amd64=PATH --binary linux/arm64=PATH \
//	    --layout DIR --tag TAG [--push oci://HOST/REPO:TAG [--plain-http]] [--digest-file F]
//	mkimage pin --digest-file F --repo REPO FILE...
//
// build writes the image index to an OCI layout and, with --push, copies it
// to a registry; pin rewrites the image lines of Kubernetes manifests to
// reference the image by digest.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/modelverify/modelverify/internal/image"
	"github.com/modelverify/modelverify/pkg/manifest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: mkimage build|pin [flags]")
		os.Exit(3)
	}
	var err error
	switch os.Args[1] {
	case "build":
		err = build(ctx, os.Args[2:])
	case "pin":
		err = pin(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q: want build or pin", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		if errors.Is(err, image.ErrOptions) || errors.Is(err, flag.ErrHelp) {
			os.Exit(3)
		}
		os.Exit(2)
	}
}

type binaries []image.Binary

func (b *binaries) String() string { return fmt.Sprint(*b) }
func (b *binaries) Set(s string) error {
	plat, path, ok := strings.Cut(s, "=")
	if !ok {
		return fmt.Errorf("want PLATFORM=PATH, got %q", s)
	}
	p, err := image.ParsePlatform(plat)
	if err != nil {
		return err
	}
	*b = append(*b, image.Binary{Platform: p, Path: path})
	return nil
}

func build(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("build", flag.ContinueOnError)
	var bins binaries
	fs.Var(&bins, "binary", "PLATFORM=PATH of a static modelverify binary (repeatable)")
	ca := fs.String("ca-certificates", "/etc/ssl/certs/ca-certificates.crt", "CA certificate bundle to copy into the image")
	ver := fs.String("version", "", "org.opencontainers.image.version")
	rev := fs.String("revision", "", "org.opencontainers.image.revision")
	src := fs.String("source", "", "org.opencontainers.image.source")
	created := fs.String("created", "", "creation time (RFC 3339); default $SOURCE_DATE_EPOCH, else the Unix epoch")
	dir := fs.String("layout", "", "OCI image layout directory to write (required)")
	tag := fs.String("tag", "latest", "tag of the index in the layout")
	push := fs.String("push", "", "also push to this registry reference, oci://HOST/REPO[:TAG]")
	plainHTTP := fs.Bool("plain-http", false, "talk HTTP instead of HTTPS to the registry")
	regConfig := fs.String("registry-config", "", "Docker config file with credentials (default as docker reads it)")
	digestFile := fs.String("digest-file", "", "write the index digest to this file")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", image.ErrOptions, err)
	}
	if *dir == "" {
		return fmt.Errorf("%w: --layout is required", image.ErrOptions)
	}
	o := image.Options{Binaries: bins, CACertificates: *ca, Version: *ver, Revision: *rev, Source: *src}
	switch {
	case *created != "":
		t, err := time.Parse(time.RFC3339, *created)
		if err != nil {
			return fmt.Errorf("%w: --created: %v", image.ErrOptions, err)
		}
		o.Created = t
	case os.Getenv("SOURCE_DATE_EPOCH") != "":
		sec, err := strconv.ParseInt(os.Getenv("SOURCE_DATE_EPOCH"), 10, 64)
		if err != nil {
			return fmt.Errorf("%w: SOURCE_DATE_EPOCH: %v", image.ErrOptions, err)
		}
		o.Created = time.Unix(sec, 0)
	}
	idx, err := image.Build(o)
	if err != nil {
		return err
	}
	d, err := image.WriteLayout(*dir, idx, *tag)
	if err != nil {
		return err
	}
	fmt.Printf("wrote %s:%s %s\n", *dir, *tag, d)
	if *push != "" {
		pd, err := image.Push(ctx, *dir, *tag, *push, manifest.RegistryOptions{PlainHTTP: *plainHTTP, DockerConfig: *regConfig})
		if err != nil {
			return err
		}
		if pd != d {
			return fmt.Errorf("pushed digest %s differs from the layout's %s", pd, d)
		}
		fmt.Printf("pushed %s@%s\n", strings.TrimPrefix(*push, "oci://"), d)
	}
	if *digestFile != "" {
		if err := os.WriteFile(*digestFile, []byte(d.String()+"\n"), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func pin(args []string) error {
	fs := flag.NewFlagSet("pin", flag.ContinueOnError)
	digest := fs.String("digest", "", "image index digest (sha256:...)")
	digestFile := fs.String("digest-file", "", "read the digest from this file (as build --digest-file wrote it)")
	repo := fs.String("repo", "ghcr.io/modelverify/modelverify", "image repository whose references are pinned")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", image.ErrOptions, err)
	}
	if *digestFile != "" {
		b, err := os.ReadFile(*digestFile)
		if err != nil {
			return fmt.Errorf("%w: %v", image.ErrOptions, err)
		}
		*digest = strings.TrimSpace(string(b))
	}
	h, err := v1.NewHash(*digest)
	if err != nil {
		return fmt.Errorf("%w: digest %q: %v", image.ErrOptions, *digest, err)
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("%w: name the manifests to pin", image.ErrOptions)
	}
	for _, f := range fs.Args() {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		out, err := image.PinDigest(b, *repo, h)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		if err := os.WriteFile(f, out, 0o644); err != nil {
			return err
		}
		fmt.Printf("pinned %s to %s@%s\n", f, *repo, h)
	}
	return nil
}
