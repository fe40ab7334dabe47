package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/modelverify/modelverify/pkg/manifest"
	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/attest"
	"github.com/modelverify/modelverify/pkg/sign"
)

// attestOptions are the flags of `scan --attest`: sign the scan report as an
// in-toto attestation about the model and store it beside the model's
// signature (model.scan.sig, or a referrer of the OCI manifest).
type attestOptions struct {
	enabled   bool
	signature string
	signer    signerOptions
	registry  registryOptions
}

// AddFlags registers --attest, --attestation and the signing flags. The
// registry flags are registered only when the command has none yet.
func (o *attestOptions) AddFlags(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&o.enabled, "attest", false, "sign the scan result as an attestation about the model (needs --key or the keyless flags)")
	cmd.Flags().StringVar(&o.signature, "attestation", "", "where a folder's attestation goes (default model.scan.sig beside model.sig)")
	o.signer.AddFlags(cmd)
	if cmd.Flags().Lookup("plain-http") == nil {
		o.registry.AddFlags(cmd)
	}
}

// Enabled reports whether --attest was given.
func (o *attestOptions) Enabled() bool { return o.enabled }

// attest signs rep about each target and stores the attestation. Errors
// carry exit codes: usage 3, anything else 2.
func (o *attestOptions) attest(ctx context.Context, cmd *cobra.Command, targets []string, rep *scan.Report) error {
	if !o.enabled {
		return nil
	}
	if len(targets) != 1 {
		return usageErrorf("--attest takes exactly one TARGET (the model)")
	}
	s, err := o.signer.newSigner(ctx)
	if err != nil {
		return err
	}
	target := targets[0]
	out := cmd.ErrOrStderr()
	if isOCIRef(target) {
		// The registry flags may belong to the command (scan has its own).
		ro := o.registry
		if v, err := cmd.Flags().GetBool("plain-http"); err == nil {
			ro.plainHTTP = v
		}
		if v, err := cmd.Flags().GetString("registry-config"); err == nil {
			ro.registryConfig = v
		}
		t, ref, err := ro.Open(ctx, target, false)
		if err != nil {
			return err
		}
		desc, _, err := manifest.Resolve(ctx, t, ref)
		if err != nil {
			return withCode(exitFailed, err)
		}
		h, err := sign.SubjectHex(desc)
		if err != nil {
			return withCode(exitFailed, fmt.Errorf("attest: %w", err))
		}
		d, err := sign.AttestOCI(ctx, s, t, desc, attest.New(ref.Repository, h, rep), attest.PredicateType)
		if err != nil {
			return withCode(exitFailed, fmt.Errorf("attest: %w", err))
		}
		fmt.Fprintf(out, "scan attestation for %s pushed as %s\n", desc.Digest, d.Digest)
		return nil
	}
	if _, err := os.Stat(target); err != nil {
		return withCode(exitFailed, err)
	}
	root, err := sign.AttestFolder(ctx, s, target, o.signature, sign.FolderOptions{}, func(name, root string) any {
		return attest.New(name, root, rep)
	})
	if err != nil {
		return withCode(exitFailed, fmt.Errorf("attest: %w", err))
	}
	where := o.signature
	if where == "" {
		where = sign.DefaultAttestationPath(target)
	}
	fmt.Fprintf(out, "scan attestation for sha256:%s written to %s\n", root, where)
	return nil
}
