package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/modelverify/modelverify/pkg/manifest"
)

func init() { subcommands = append(subcommands, newPullCmd) }

func newPullCmd() *cobra.Command {
	var (
		reg       registryOptions
		xfer      transferOptions
		imagePath string
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
nothing behind.`,
		Example: `  modelverify pull oci://registry.example.com/models/llama:v1 ./llama
  modelverify pull oci-layout://./store@sha256:... ./llama
  modelverify pull --path /models oci://registry.example.com/modelcars/llama:v1 ./llama`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			target, ref, err := reg.Open(ctx, args[0], false)
			if err != nil {
				return err
			}
			bar := xfer.progress(cmd, "downloading")
			res, err := manifest.PullModel(ctx, target, ref, args[1], manifest.PullOptions{
				Concurrency: xfer.concurrency,
				Progress:    bar.Func(),
				ImagePath:   imagePath,
			})
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
			fmt.Fprintln(cmd.OutOrStdout(), ref.WithDigest(res.Descriptor.Digest))
			return nil
		},
	}
	reg.AddFlags(cmd)
	xfer.AddFlags(cmd)
	cmd.Flags().StringVar(&imagePath, "path", "", "for a container image: extract only this folder of its filesystem (for example /models)")
	return cmd
}
