package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/modelverify/modelverify/internal/version"
	"github.com/modelverify/modelverify/pkg/manifest"
	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/all"
	"github.com/modelverify/modelverify/pkg/scan/pickle"
	"github.com/modelverify/modelverify/pkg/scan/remote"
)

func init() { subcommands = append(subcommands, newScanCmd) }

// limitFlags exposes every scan.Limits field as a flag.
type limitFlags struct{ l scan.Limits }

func (f *limitFlags) AddFlags(cmd *cobra.Command) {
	d := scan.DefaultLimits
	fs := cmd.Flags()
	fs.IntVar(&f.l.MaxDepth, "max-depth", d.MaxDepth, "deepest nesting of archives and compressed streams")
	fs.IntVar(&f.l.MaxEntries, "max-entries", d.MaxEntries, "most members read from one archive")
	fs.Int64Var(&f.l.MaxExpandedBytes, "max-expanded-bytes", d.MaxExpandedBytes, "most decompressed bytes read for one target")
	fs.Int64Var(&f.l.MaxRatio, "max-ratio", d.MaxRatio, "highest decompression ratio of a stream past its first MiB")
	fs.IntVar(&f.l.MaxMemo, "max-memo", d.MaxMemo, "most pickle memo entries")
	fs.IntVar(&f.l.MaxStack, "max-stack", d.MaxStack, "deepest pickle stack and mark stack")
	fs.Int64Var(&f.l.MaxOpcodes, "max-opcodes", d.MaxOpcodes, "most pickle opcodes executed in one stream")
	fs.Int64Var(&f.l.MaxHeaderBytes, "max-header-bytes", d.MaxHeaderBytes, "largest metadata header read into memory (safetensors, GGUF, npy)")
	fs.Int64Var(&f.l.MaxLiteral, "max-literal", d.MaxLiteral, "largest pickle literal held in memory")
	fs.IntVar(&f.l.MaxNesting, "max-nesting", d.MaxNesting, "deepest nesting of structured metadata (protobuf messages, JSON configs, template expressions)")
	fs.Int64Var(&f.l.MaxWindowBytes, "max-window-bytes", d.MaxWindowBytes, "largest window or dictionary a decompressor may allocate (xz, lzma, zstd)")
}

type scanOptions struct {
	format      string
	output      string
	sarifBase   string
	html        string
	failOn      string
	policy      string
	quiet       bool
	noProgress  bool
	workers     int
	digestLimit int64
	limits      limitFlags
	registry    registryOptions
	attest      attestOptions
}

func newScanCmd() *cobra.Command {
	o := &scanOptions{}
	cmd := &cobra.Command{
		Use:   "scan [flags] TARGET...",
		Short: "Scan model files for code that runs when they are loaded",
		Long: `Scan model files statically, without ever unpickling or importing anything,
and report whether loading them can run code, touch files or the network.

TARGET is a file, a directory (scanned recursively), an oci://HOST/REPO[:TAG|@DIGEST]
reference (oci:// may be left out: HOST/REPO:TAG that is no path on disk is a
reference) or an oci-layout://DIR[:TAG|@DIGEST] (each file layer of the model
artifact is fetched, digest-verified and scanned). The format of each file is
decided from its content, never from its name; but a file named like a model
(.safetensors .pt .pth .bin .ckpt .pkl .pickle .joblib .npy .npz .onnx .gguf
.h5 .hdf5 .keras .pb) whose content no format recognises is malformed (a .bin
is raw tensor data, not malformed, next to an ONNX model, an OpenVINO .xml of
its name or a TensorFlow.js model.json). A TARGET under which no file is found
(an empty folder, a path that does not exist, an artifact without files) is
reported as "nothing scanned".

Exit codes: 0 clean, 1 a finding at or above --fail-on, 2 a target could not
be read completely (malformed, truncated, a limit hit, named like a model but
in no known format) or nothing was scanned, 3 usage error.`,
		Example: `  modelverify scan pytorch_model.bin
  modelverify scan --format sarif -o scan.sarif ./models
  modelverify scan --format html -o report.html ./models
  modelverify scan --format sarif -o scan.sarif --html report.html ./models
  modelverify scan --fail-on critical --policy allow.yaml model.pkl`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd, args) },
	}
	fs := cmd.Flags()
	fs.StringVar(&o.format, "format", "text", "output format: text, json, sarif or html (one self-contained page)")
	fs.StringVarP(&o.output, "output", "o", "", "write the report to this file instead of standard output")
	fs.StringVar(&o.sarifBase, "sarif-base", "", "folder that SARIF artifact URIs are relative to (default: the root of the git repository holding the working directory)")
	fs.StringVar(&o.html, "html", "", "also write the HTML report to this file, from the same scan")
	fs.StringVar(&o.failOn, "fail-on", "high", "lowest severity that fails the scan: critical, high, medium, low, info (every finding) or none")
	fs.StringVar(&o.policy, "policy", "", "YAML scan policy with extra allowed or denied globals")
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "print nothing; report through the exit code only")
	fs.BoolVar(&o.noProgress, "no-progress", false, "do not show the download progress of oci:// references (shown only on a terminal)")
	fs.IntVar(&o.workers, "workers", 0, "files scanned at once (0: one per CPU)")
	fs.Int64Var(&o.digestLimit, "digest-limit", 256<<20, "hash files up to this size for the report's digest (negative: never)")
	o.limits.AddFlags(cmd)
	o.registry.AddFlags(cmd)
	o.attest.AddFlags(cmd)
	return cmd
}

func (o *scanOptions) scanner() (*scan.Scanner, error) {
	failOn, err := scan.ParseSeverity(o.failOn)
	if err != nil {
		return nil, usageErrorf("--fail-on: %v", err)
	}
	switch o.format {
	case "text", "json", "sarif", "html":
	default:
		return nil, usageErrorf("--format: want text, json, sarif or html, not %q", o.format)
	}
	var policy *scan.Policy
	if o.policy != "" {
		if policy, err = scan.LoadPolicy(o.policy); err != nil {
			return nil, withCode(exitUsage, err)
		}
	}
	sc, err := scan.New(scan.Options{
		Formats: all.Formats(), Limits: o.limits.l, Policy: policy, FailOn: scan.FailAt(failOn),
		Workers: o.workers, DigestLimit: o.digestLimit,
	})
	if err != nil {
		return nil, withCode(exitFailed, err)
	}
	return sc, nil
}

func (o *scanOptions) run(cmd *cobra.Command, args []string) error {
	sc, err := o.scanner()
	if err != nil {
		return err
	}
	var paths []string
	var targets []scan.Target
	for i := range args {
		args[i] = bareRef(args[i])
	}
	for _, a := range args {
		if !remote.IsRef(a) {
			paths = append(paths, a)
			continue
		}
		progress, done := hashProgress(cmd, "fetching", o.noProgress || o.quiet)
		res, err := remote.ScanArtifact(cmd.Context(), sc, a, remote.Options{Registry: o.registry.RegistryOptions(), Progress: progress})
		done()
		if err != nil {
			if errors.Is(err, manifest.ErrInvalidReference) {
				return withCode(exitUsage, err)
			}
			return withCode(exitFailed, err)
		}
		if !o.quiet {
			for _, n := range res.Notes {
				fmt.Fprintln(cmd.ErrOrStderr(), "note:", n)
			}
		}
		targets = append(targets, res.Targets...)
	}
	if len(paths) > 0 {
		ts, err := sc.ScanPaths(cmd.Context(), paths)
		if err != nil {
			return withCode(exitFailed, err)
		}
		targets = append(targets, ts...)
	}
	rep := scan.NewReport(scanTool(), targets)
	if err := o.write(cmd, rep, sc.FailOn(), exitCode(reportExit(rep)), args); err != nil {
		return withCode(exitFailed, err)
	}
	if o.html != "" {
		if err := writeHTMLFile(o.html, rep, args); err != nil {
			return withCode(exitFailed, err)
		}
	}
	if err := o.attest.attest(cmd.Context(), cmd, args, rep); err != nil {
		return err
	}
	return reportExit(rep)
}

func scanTool() scan.Tool {
	return scan.Tool{Name: "modelverify", Version: version.Version, AllowlistVersion: pickle.ListVersion}
}

// reportExit maps a report to the exit code: dangerous wins over malformed.
func reportExit(rep *scan.Report) error {
	switch {
	case rep.Summary.Dangerous > 0:
		return silentExit(exitViolated)
	case rep.Summary.Malformed > 0:
		return silentExit(exitFailed)
	}
	return nil
}

// writeHTMLFile writes the HTML report beside the main one.
func writeHTMLFile(path string, rep *scan.Report, args []string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write HTML report: %w", err)
	}
	if err := scan.WriteHTML(f, rep, scan.HTMLOptions{Targets: args}); err != nil {
		f.Close()
		return fmt.Errorf("write HTML report: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write HTML report: %w", err)
	}
	return nil
}

func (o *scanOptions) write(cmd *cobra.Command, rep *scan.Report, failOn scan.Severity, exitCode int, args []string) error {
	if o.quiet && o.output == "" {
		return nil
	}
	var w io.Writer = cmd.OutOrStdout()
	if o.output != "" {
		f, err := os.Create(o.output)
		if err != nil {
			return fmt.Errorf("write report: %w", err)
		}
		defer f.Close()
		w = f
	}
	switch o.format {
	case "json":
		return scan.WriteJSON(w, rep)
	case "sarif":
		return scan.WriteSARIFWith(w, rep, scan.SARIFOptions{Base: o.sarifBase, ExitCode: exitCode})
	case "html":
		return scan.WriteHTML(w, rep, scan.HTMLOptions{Targets: args})
	}
	show := failOn
	if show == scan.SeverityNone {
		show = scan.SeverityHigh
	}
	return scan.WriteText(w, rep, min(show, scan.SeverityMedium))
}
