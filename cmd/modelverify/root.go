package main

import (
	"github.com/spf13/cobra"

	"github.com/modelverify/modelverify/internal/version"
)

// subcommands is filled by each command file's init, so that commands live
// in files of their own and root.go does not change when one is added.
var subcommands []func() *cobra.Command

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "modelverify",
		Short: "Scan, sign, verify and gate ML model artifacts",
		Long: `modelverify protects self-hosted ML models against supply-chain attacks.

It scans model files statically for code that would run when they are loaded,
signs and verifies models stored as folders or OCI artifacts in the OpenSSF Model
Signing format, and gates deployment in pipelines and as a Kubernetes admission
webhook.

Exit codes: 0 success, 1 policy violation (dangerous finding, failed verification,
denied), 2 could not decide (malformed input, limit hit, registry error),
3 usage or configuration error.`,
		Version:       version.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return withCode(exitUsage, err)
	})
	for _, newCmd := range subcommands {
		c := newCmd()
		wrapArgs(c)
		root.AddCommand(c)
	}
	return root
}

// wrapArgs makes argument-count errors usage errors (exit 3).
func wrapArgs(c *cobra.Command) {
	if c.Args != nil {
		args := c.Args
		c.Args = func(cmd *cobra.Command, a []string) error {
			if err := args(cmd, a); err != nil {
				return withCode(exitUsage, err)
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		wrapArgs(sub)
	}
}
