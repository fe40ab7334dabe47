package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

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
		objects    []string
	)
	cmd := &cobra.Command{
		Use:   "admit --policy FILE [REF...] [--object FILE]...",
		Short: "Decide, as the admission webhook would, whether models may be deployed",
		Long: `Admit evaluates the admission policy for each model reference, exactly as the
webhook does, and prints one line per model: admitted or not, the digest that
was checked, the rule, and why. Tags are resolved to digests first.

--object reads Kubernetes manifests (YAML or JSON, several documents, "-"
for standard input) and checks every model reference the webhook would
find in them: container images, image volumes, the models annotation, and
the storage URIs of KServe InferenceServices and LLMInferenceServices.
Storage URIs other than oci:// cannot be verified and are denied unless a
rule with action allow names them.

Exit codes: 0 every model is admitted (in warn mode, failures are printed as
warnings and the exit code is still 0), 1 a model is denied, 2 a model could
not be checked (registry or network error: fail closed), 3 usage or policy
error.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if policyFile == "" {
				return usageErrorf("--policy is required")
			}
			if len(args) == 0 && len(objects) == 0 {
				return usageErrorf("name at least one model reference or --object file")
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
			models := make([]admission.Model, 0, len(args))
			for _, a := range args {
				if s := admission.URIScheme(a); s != "" && s != "oci" {
					// Judged (and denied unless allowed) like a storageUri.
					models = append(models, admission.Model{Ref: a, URI: true})
					continue
				}
				if _, err := admission.ParseReference(a); err != nil {
					return usageErrorf("%v (want [oci://]HOST/REPO[:TAG][@DIGEST])", err)
				}
				models = append(models, admission.Model{Ref: a})
			}
			for _, file := range objects {
				found, err := readObjects(cmd, file)
				if err != nil {
					return err
				}
				models = append(models, admission.Models(found)...)
			}
			if len(models) == 0 {
				fmt.Fprintln(cmd.ErrOrStderr(), "no model references found")
				return nil
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
					if m.Source != "" {
						ref = m.Source + " " + ref
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
					return withCode(exitViolated, errors.New(strings.TrimPrefix(d.Message(), "modelverify ")))
				}
			}
			return withCode(exitFailed, errors.New(strings.TrimPrefix(d.Message(), "modelverify ")))
		},
	}
	reg.AddFlags(cmd)
	cmd.Flags().StringVar(&policyFile, "policy", "", "ModelPolicy YAML file")
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	cmd.Flags().StringArrayVar(&objects, "object", nil, "Kubernetes manifest file whose model references to check (\"-\" for standard input; repeatable)")
	return cmd
}

// readObjects extracts the model references of the objects in a manifest
// file. A file that cannot be read or parsed exits 2.
func readObjects(cmd *cobra.Command, file string) ([]admission.Found, error) {
	var r io.Reader = cmd.InOrStdin()
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return nil, withCode(exitFailed, err)
		}
		defer f.Close()
		r = f
	}
	found, _, err := admission.ExtractManifests(r)
	if err != nil {
		return nil, withCode(exitFailed, fmt.Errorf("%s: %w", file, err))
	}
	return found, nil
}
