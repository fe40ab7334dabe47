// Command mkimage builds the modelverify container image (`make image`):
//
//	mkimage build --binary linux/amd64=PATH --binary linux/arm64=PATH \
//	    --layout DIR --tag TAG [--push oci://HOST/REPO:TAG [--plain-http]] [--digest-file F]
//	mkimage pin --digest-file F --repo REPO FILE...
//	mkimage verify --key PUB --ref oci://HOST/REPO:TAG|oci-layout://DIR:TAG
//
// build writes the image index to an OCI layout, signs it with --sign-key
// (a Sigstore bundle stored as the index's referrer, as model signatures
// are) and, with --push, copies it with its signature to a registry; pin
// rewrites the image lines of Kubernetes manifests to reference the image by
// digest; verify checks the signature.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"oras.land/oras-go/v2/content/oci"

	"github.com/modelverify/modelverify/pkg/manifest"
	"github.com/modelverify/modelverify/pkg/sign"
	"github.com/modelverify/modelverify/tools/image"
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
	case "verify":
		err = verify(ctx, os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q: want build, pin or verify", os.Args[1])
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
	p, path, err := platformPath(s)
	if err != nil {
		return err
	}
	*b = append(*b, image.Binary{Platform: p, Path: path})
	return nil
}

// platformPath parses a PLATFORM=PATH flag value.
func platformPath(s string) (v1.Platform, string, error) {
	plat, path, ok := strings.Cut(s, "=")
	if !ok {
		return v1.Platform{}, "", fmt.Errorf("want PLATFORM=PATH, got %q", s)
	}
	p, err := image.ParsePlatform(plat)
	return p, path, err
}

// libraries are the --lib flags: PLATFORM=PATH, added to that platform's
// binary.
type libraries map[string][]string

func (l libraries) String() string { return fmt.Sprint(map[string][]string(l)) }
func (l libraries) Set(s string) error {
	p, path, err := platformPath(s)
	if err != nil {
		return err
	}
	l[p.String()] = append(l[p.String()], path)
	return nil
}

func build(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("build", flag.ContinueOnError)
	var bins binaries
	libs := libraries{}
	fs.Var(&bins, "binary", "PLATFORM=PATH of a modelverify binary (repeatable)")
	fs.Var(libs, "lib", "PLATFORM=PATH of a shared library that PLATFORM's (cgo) binary loads, copied to the same path (repeatable)")
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
	signKey := fs.String("sign-key", "", "sign the index with this private key (password in $MODELVERIFY_PASSWORD); the bundle is stored as its referrer")
	repo := fs.String("repo", "ghcr.io/modelverify/modelverify", "repository named in the signature statement")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", image.ErrOptions, err)
	}
	if *dir == "" {
		return fmt.Errorf("%w: --layout is required", image.ErrOptions)
	}
	for plat := range libs {
		if !slices.ContainsFunc(bins, func(b image.Binary) bool { return b.Platform.String() == plat }) {
			return fmt.Errorf("%w: --lib for %s, which has no --binary", image.ErrOptions, plat)
		}
	}
	for i := range bins {
		bins[i].Libs = libs[bins[i].Platform.String()]
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
	if *signKey != "" {
		signer, err := keySigner(*signKey)
		if err != nil {
			return err
		}
		store, err := oci.NewWithContext(ctx, *dir)
		if err != nil {
			return err
		}
		sd, err := image.SignIndex(ctx, signer, store, *tag, *repo)
		if err != nil {
			return fmt.Errorf("sign: %w", err)
		}
		fmt.Printf("signed %s: signature %s\n", d, sd.Digest)
	}
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

func keySigner(path string) (*sign.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", image.ErrOptions, err)
	}
	priv, err := sign.ParsePrivateKeyPEM(b, []byte(os.Getenv("MODELVERIFY_PASSWORD")))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", image.ErrOptions, path, err)
	}
	return sign.NewKeySigner(priv)
}

// verify checks the signature of an image index in a layout or a registry.
// Exit codes as modelverify's: 1 when no signature verifies.
func verify(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	key := fs.String("key", "", "public key (PEM) of the signer (required)")
	ref := fs.String("ref", "", "the image: oci://HOST/REPO[:TAG|@DIGEST] or oci-layout://DIR[:TAG] (required)")
	plainHTTP := fs.Bool("plain-http", false, "talk HTTP instead of HTTPS to the registry")
	regConfig := fs.String("registry-config", "", "Docker config file with credentials")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", image.ErrOptions, err)
	}
	if *key == "" || *ref == "" {
		return fmt.Errorf("%w: --key and --ref are required", image.ErrOptions)
	}
	b, err := os.ReadFile(*key)
	if err != nil {
		return fmt.Errorf("%w: %v", image.ErrOptions, err)
	}
	pub, err := sign.ParsePublicKeyPEM(b)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", image.ErrOptions, *key, err)
	}
	a, err := sign.KeyAuthority(pub)
	if err != nil {
		return fmt.Errorf("%w: %v", image.ErrOptions, err)
	}
	v, err := sign.NewVerifier(a)
	if err != nil {
		return fmt.Errorf("%w: %v", image.ErrOptions, err)
	}
	r, err := manifest.ParseRef(*ref)
	if err != nil {
		return fmt.Errorf("%w: %v", image.ErrOptions, err)
	}
	target, err := manifest.Open(ctx, r, manifest.RegistryOptions{PlainHTTP: *plainHTTP, DockerConfig: *regConfig})
	if err != nil {
		return err
	}
	st, err := image.VerifyIndex(ctx, v, target, r.Reference())
	if err != nil {
		if errors.Is(err, image.ErrUnsigned) {
			fmt.Fprintln(os.Stderr, "mkimage:", err)
			os.Exit(1)
		}
		return err
	}
	fmt.Printf("verified %s: %d resources signed\n", *ref, len(st.Predicate.Resources))
	return nil
}
