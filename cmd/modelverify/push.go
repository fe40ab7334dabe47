package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/modelverify/modelverify/pkg/manifest"
)

func init() { subcommands = append(subcommands, newPushCmd) }

func newPushCmd() *cobra.Command {
	var (
		reg         registryOptions
		xfer        transferOptions
		ignore      []string
		annotations []string
		layerFormat string
	)
	cmd := &cobra.Command{
		Use:   "push DIR REF",
		Short: "Store a model directory as an OCI artifact",
		Long: `Push stores every file of DIR as one uncompressed layer of a ModelPack OCI
artifact (artifactType application/vnd.cncf.model.manifest.v1+json) and tags it.

REF is oci://HOST/REPO[:TAG] for a registry or oci-layout://DIR[:TAG] for a local
OCI image layout (created if missing). Without a tag, "latest" is used. Blobs
that the target already has are not uploaded again. Git metadata (.git, .gitattributes,
.github, .gitignore), model.sig and model.scan.sig are left out unless --ignore
is given. Prints the pushed reference with its digest.

--layer-format tar, tar+gzip or tar+zstd stores each file in a tar layer of the
same kind (application/vnd.cncf.model.weight.v1.tar+gzip, ...) instead, as other
ModelPack tools can write them; raw layers keep a layer digest equal to the
file's sha256.`,
		Example: `  modelverify push ./llama oci://registry.example.com/models/llama:v1
  modelverify push ./llama oci-layout://./store:v1`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := xfer.checkFormat(); err != nil {
				return err
			}
			dir := args[0]
			if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
				return usageErrorf("push: %s is not a directory", dir)
			}
			form, err := manifest.ParseLayerFormat(layerFormat)
			if err != nil {
				return usageErrorf("push: --%v", err)
			}
			ann, err := parseAnnotations(annotations)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			target, ref, err := reg.Open(ctx, args[1], true)
			if err != nil {
				return err
			}
			opts := manifest.PushOptions{Concurrency: xfer.concurrency, Annotations: ann, LayerFormat: form}
			if cmd.Flags().Changed("ignore") {
				opts.Ignore = append([]string{}, ignore...)
			}
			bar := xfer.progress(cmd, "uploading")
			opts.Progress = bar.Func()
			res, err := manifest.PushModel(ctx, dir, target, ref, opts)
			bar.Close()
			if err != nil {
				return registryExit(err)
			}
			if !xfer.quiet {
				fmt.Fprintf(cmd.ErrOrStderr(), "pushed %d files: %d blobs uploaded, %d already present\n",
					len(res.Manifest.Layers), res.Uploaded, res.Skipped)
			}
			return xfer.printTransfer(cmd, ref, res.Descriptor, res.Resources)
		},
	}
	reg.AddFlags(cmd)
	xfer.AddFlags(cmd)
	cmd.Flags().StringSliceVar(&ignore, "ignore", nil, "paths relative to DIR to leave out (replaces the default "+strings.Join(manifest.DefaultIgnore, ",")+")")
	cmd.Flags().StringVar(&layerFormat, "layer-format", "raw", "layer form: raw, tar, tar+gzip or tar+zstd")
	cmd.Flags().StringArrayVar(&annotations, "annotation", nil, "KEY=VALUE annotation on the manifest (repeatable)")
	return cmd
}
