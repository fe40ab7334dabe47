package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/modelverify/modelverify/pkg/manifest"
)

func init() { subcommands = append(subcommands, newInspectCmd) }

func newInspectCmd() *cobra.Command {
	var (
		reg    registryOptions
		format string
	)
	cmd := &cobra.Command{
		Use:   "inspect REF",
		Short: "Show a model artifact's digest, type and files",
		Long: `Inspect resolves REF and prints the manifest digest, the artifact type, the
model config and a table of files (path, size, digest, media type). It reads the
manifest and config only, never a layer. --format json prints the same as JSON.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" {
				return usageErrorf("--format %q: want text or json", format)
			}
			ctx := cmd.Context()
			target, ref, err := reg.Open(ctx, args[0], false)
			if err != nil {
				return err
			}
			info, err := manifest.Inspect(ctx, target, ref)
			if err != nil {
				return registryExit(err)
			}
			if format == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(info)
			}
			return printInfo(cmd.OutOrStdout(), info)
		},
	}
	reg.AddFlags(cmd)
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	return cmd
}

func printInfo(w io.Writer, info manifest.Info) error {
	var total int64
	for _, f := range info.Files {
		total += f.Size
	}
	fmt.Fprintf(w, "Reference:      %s\n", info.Reference)
	fmt.Fprintf(w, "Digest:         %s\n", info.Digest)
	fmt.Fprintf(w, "Artifact type:  %s\n", info.ArtifactType)
	if c := info.Config; c != nil {
		if c.Config.Architecture != "" {
			fmt.Fprintf(w, "Architecture:   %s\n", c.Config.Architecture)
		}
		if c.Config.Format != "" {
			fmt.Fprintf(w, "Format:         %s\n", c.Config.Format)
		}
		if c.Config.Precision != "" {
			fmt.Fprintf(w, "Precision:      %s\n", c.Config.Precision)
		}
	}
	fmt.Fprintf(w, "Files:          %d, %s\n\n", len(info.Files), humanBytes(total))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PATH\tSIZE\tDIGEST\tMEDIA TYPE")
	for _, f := range info.Files {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", f.Path, f.Size, f.Digest, f.MediaType)
	}
	return tw.Flush()
}
