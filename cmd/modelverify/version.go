package main

import (
	"encoding/json"
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/modelverify/modelverify/internal/version"
	"github.com/modelverify/modelverify/pkg/scan/pickle"
)

func init() { subcommands = append(subcommands, newVersionCmd) }

// versionInfo is what `modelverify version` prints. The allowlist version
// names the built-in scanner lists, so that a pipeline can tell whether two
// scans were judged by the same rules.
type versionInfo struct {
	Version          string `json:"version"`
	Commit           string `json:"commit"`
	GoVersion        string `json:"goVersion"`
	Platform         string `json:"platform"`
	AllowlistVersion string `json:"allowlistVersion"`
}

func currentVersion() versionInfo {
	return versionInfo{
		Version:          version.Version,
		Commit:           version.Commit,
		GoVersion:        version.GoVersion(),
		Platform:         runtime.GOOS + "/" + runtime.GOARCH,
		AllowlistVersion: pickle.ListVersion,
	}
}

func newVersionCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit, Go version and scanner allowlist version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := currentVersion()
			out := cmd.OutOrStdout()
			switch format {
			case "json":
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(v)
			case "text":
				fmt.Fprintf(out, "modelverify %s\ncommit:    %s\ngo:        %s\nplatform:  %s\nallowlist: %s\n",
					v.Version, v.Commit, v.GoVersion, v.Platform, v.AllowlistVersion)
				return nil
			}
			return usageErrorf("--format %q: want text or json", format)
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	return cmd
}
