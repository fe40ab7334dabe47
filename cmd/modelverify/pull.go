package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/modelverify/modelverify/pkg/manifest"
	"github.com/modelverify/modelverify/pkg/sign"
)

func init() { subcommands = append(subcommands, newPullCmd) }

func newPullCmd() *cobra.Command {
	var (
		reg       registryOptions
		xfer      transferOptions
		imagePath string
		vo        verifierOptions
		verify    bool
	)
	cmd := &cobra.Command{
		Use:   "pull REF DIR",
		Short: "Download a model artifact into a directory",
		Long: `Pull writes the files of the model artifact REF under DIR (created if needed).

Every blob's size and sha256 are checked while it streams to a temporary file,
which is renamed into place only when they match. Pull never writes outside DIR:
a manifest with an absolute path, "..", a duplicate path, or a path under a
symlink in DIR is refused before anything is written (exit 2). Prints the pulled
reference with its digest.

Tar layers (.tar, .tar+gzip, .tar+zstd) are unpacked; links, devices and unsafe
paths in them are refused. A container image (a KServe modelcar) is extracted
with its layers applied in order (whiteouts honoured, links and devices
skipped); --path /models keeps one folder of it. Files are staged inside DIR
and renamed into place only when every layer verified: a failed pull leaves
nothing behind.

--verify, with the trust flags of verify (--key, --certificate-chain, or a
keyless identity with --trusted-root), verifies the artifact's signature before
anything is written, pulls exactly the manifest it verified, and writes the
verified bundle as DIR/model.sig, so that "modelverify verify --key K DIR" then
verifies the folder offline. A signature that does not verify exits 1 and
writes nothing.`,
		Example: `  modelverify pull oci://registry.example.com/models/llama:v1 ./llama
  modelverify pull oci-layout://./store@sha256:... ./llama
  modelverify pull --verify --key release.pub oci://registry.example.com/models/llama:v1 ./llama
  modelverify pull --path /models oci://registry.example.com/modelcars/llama:v1 ./llama`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := xfer.checkFormat(); err != nil {
				return err
			}
			ctx := cmd.Context()
			target, ref, err := reg.Open(ctx, args[0], false)
			if err != nil {
				return err
			}
			opts := manifest.PullOptions{Concurrency: xfer.concurrency, ImagePath: imagePath}
			if verify {
				v, err := vo.newVerifier(ctx)
				if err != nil {
					return err
				}
				a, err := manifest.ResolveArtifact(ctx, target, ref)
				if err != nil {
					return registryExit(err)
				}
				vr, err := v.VerifyOCI(ctx, target, a.Descriptor)
				if err != nil {
					return verifyExit(err)
				}
				ref = ref.WithDigest(a.Descriptor.Digest)
				opts.Extra = map[string][]byte{sign.SignatureFileName: vr.Bundle}
				if !xfer.quiet {
					fmt.Fprintf(cmd.ErrOrStderr(), "verified %s: signed by %s\n", ref, vr.Signer.Authority)
				}
			} else if cmd.Flags().Changed("key") || cmd.Flags().Changed("certificate-chain") || cmd.Flags().Changed("trusted-root") {
				return usageErrorf("pull: trust flags need --verify")
			}
			bar := xfer.progress(cmd, "downloading")
			opts.Progress = bar.Func()
			res, err := manifest.PullModel(ctx, target, ref, args[1], opts)
			bar.Close()
			if err != nil {
				return registryExit(err)
			}
			if !xfer.quiet {
				var total int64
				for _, r := range res.Resources {
					total += r.Size
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "pulled %d files, %s\n", len(res.Resources), humanBytes(total))
			}
			return xfer.printTransfer(cmd, ref, res.Descriptor, res.Resources)
		},
	}
	reg.AddFlags(cmd)
	xfer.AddFlags(cmd)
	vo.AddFlags(cmd)
	cmd.Flags().BoolVar(&verify, "verify", false, "verify the signature first (trust flags as for verify) and write it as DIR/model.sig")
	cmd.Flags().StringVar(&imagePath, "path", "", "for a container image: extract only this folder of its filesystem (for example /models)")
	return cmd
}
