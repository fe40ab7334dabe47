package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/modelverify/modelverify/pkg/admission"
	"github.com/modelverify/modelverify/pkg/admission/oci"
)

func init() { subcommands = append(subcommands, newAdmitCmd) }

func newAdmitCmd() *cobra.Command {
	var (
		reg        registryOptions
		policyFile string
		format     string
	)
	cmd := &cobra.Command{
		Use:   "admit --policy FILE REF...",
		Short: "Decide, as the admission webhook would, whether models may be deployed",
		Long: `Admit evaluates the admission policy for each model reference, exactly as the
webhook does, and prints one line per model: admitted or not, the digest that
was checked, the rule, and why. Tags are resolved to digests first.

Exit codes: 0 every model is admitted (in warn mode, failures are printed as
warnings and the exit code is still 0), 1 a model is denied, 2 a model could
not be checked (registry or network error: fail closed), 3 usage or policy
error.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if policyFile == "" {
				return usageErrorf("--policy is required")
			}
			if format != "text" && format != "json" {
				return usageErrorf("--format %q: want text or json", format)
			}
			doc, err := admission.LoadPolicy(policyFile)
			if err != nil {
				return withCode(exitUsage, err)
			}
			p, err := oci.New(oci.Options{Registry: reg.RegistryOptions()}).Compile(doc, admission.Options{})
			if err != nil {
				return withCode(exitUsage, err)
			}
			models := make([]admission.Model, len(args))
			for i, a := range args {
				if _, err := admission.ParseReference(a); err != nil {
					return usageErrorf("%v (want [oci://]HOST/REPO[:TAG][@DIGEST])", err)
				}
				models[i] = admission.Model{Ref: a}
			}
			d := p.Evaluate(cmd.Context(), models, admission.EvalOptions{ResolveTags: true})
			out := cmd.OutOrStdout()
			if format == "json" {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(d); err != nil {
					return err
				}
			} else {
				for _, m := range d.Models {
					ref := m.Ref
					if m.Pinned != "" {
						ref = m.Pinned
					}
					rule := ""
					if m.Rule != "" {
						rule = " (rule " + m.Rule + ")"
					}
					fmt.Fprintf(out, "%-10s %s%s: %s\n", m.Outcome, ref, rule, m.Reason)
				}
				for _, w := range d.Warnings() {
					fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w)
				}
			}
			if d.Allowed() {
				return nil
			}
			// A model the policy refuses outweighs one that could not be
			// checked: the answer is no either way.
			for _, m := range d.Failures() {
				if m.Outcome == admission.Denied {
					return withCode(exitViolated, errors.New(d.Message()))
				}
			}
			return withCode(exitFailed, errors.New(d.Message()))
		},
	}
	reg.AddFlags(cmd)
	cmd.Flags().StringVar(&policyFile, "policy", "", "ModelPolicy YAML file")
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	return cmd
}
