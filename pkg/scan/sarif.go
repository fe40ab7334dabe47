package scan

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// SARIF 2.1.0 as GitHub code scanning reads it.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool        sarifTool         `json:"tool"`
	Invocations []sarifInvocation `json:"invocations,omitempty"`
	Artifacts   []sarifArtifact   `json:"artifacts,omitempty"`
	Results     []sarifResult     `json:"results"`
}

type sarifInvocation struct {
	ExecutionSuccessful bool `json:"executionSuccessful"`
	ExitCode            int  `json:"exitCode"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name            string      `json:"name"`
	Version         string      `json:"version,omitempty"`
	SemanticVersion string      `json:"semanticVersion,omitempty"`
	InformationURI  string      `json:"informationUri"`
	Rules           []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID                   string        `json:"id"`
	Name                 string        `json:"name"`
	ShortDescription     sarifText     `json:"shortDescription"`
	FullDescription      sarifText     `json:"fullDescription"`
	Help                 sarifHelp     `json:"help"`
	HelpURI              string        `json:"helpUri"`
	DefaultConfiguration sarifConfig   `json:"defaultConfiguration"`
	Properties           sarifRuleProp `json:"properties"`
}

type sarifHelp struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown"`
}

type sarifRuleProp struct {
	SecuritySeverity string   `json:"security-severity"`
	Tags             []string `json:"tags"`
}

type sarifConfig struct {
	Level string `json:"level"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifResult struct {
	RuleID              string            `json:"ruleId"`
	RuleIndex           int               `json:"ruleIndex"`
	Level               string            `json:"level"`
	Message             sarifText         `json:"message"`
	Locations           []sarifLocation   `json:"locations"`
	PartialFingerprints map[string]string `json:"partialFingerprints"`
	Props               map[string]any    `json:"properties,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical     `json:"physicalLocation"`
	LogicalLocations []sarifLogicalLoc `json:"logicalLocations,omitempty"`
}

type sarifLogicalLoc struct {
	Name               string `json:"name"`
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifactLoc `json:"artifactLocation"`
	Region           *sarifRegion     `json:"region,omitempty"`
}

type sarifArtifactLoc struct {
	URI       string `json:"uri"`
	URIBaseID string `json:"uriBaseId,omitempty"`
	Index     *int   `json:"index,omitempty"`
}

type sarifArtifact struct {
	Location    sarifArtifactLoc  `json:"location"`
	ParentIndex *int              `json:"parentIndex,omitempty"`
	Length      int64             `json:"length,omitempty"`
	Hashes      map[string]string `json:"hashes,omitempty"`
}

// sarifRegion places a finding in a binary file by byte: no line numbers
// are invented for content that has none.
type sarifRegion struct {
	ByteOffset int64 `json:"byteOffset"`
	ByteLength int64 `json:"byteLength"`
}

// URI base ids of SARIF artifact locations.
const (
	// SARIFBaseSource is the repository root (or the --sarif-base folder).
	SARIFBaseSource = "SRCROOT"
	// SARIFBaseOutside holds files outside it, by their path with the
	// leading separator dropped.
	SARIFBaseOutside = "OUTSIDE"
	// SARIFBaseOCI holds layers of OCI artifacts: HOST/REPO/FILE, tag and
	// digest dropped so that results track across pushes.
	SARIFBaseOCI = "OCI"
)

// InformationURI is the project's home page, and RulesDocURI the page with a
// section per rule id.
const (
	InformationURI = "https://github.com/modelverify/modelverify"
	RulesDocURI    = InformationURI + "/blob/main/docs/rules.md"
)

// SARIFOptions are what a SARIF log says besides the report.
type SARIFOptions struct {
	// Base is the folder artifact URIs are relative to. "" means the root
	// of the git repository holding the working directory, or the working
	// directory when there is none.
	Base string
	// ExitCode is the exit code of the run the log describes; 2 and above
	// mark the execution as unsuccessful (a target could not be decided).
	ExitCode int
}

// rule describes one rule id for SARIF and docs/rules.md.
type rule struct {
	short, full, help string
}

// Rules maps each rule id to its descriptions: short, full, and what to do.
var rules = map[string]rule{
	RuleDangerousGlobal: {"Pickle imports a known code-execution, file, process, network or import primitive",
		"Loading the file with pickle, torch.load, joblib.load or numpy.load(allow_pickle=True) calls a function that runs commands, evaluates code, opens files or sockets, or imports modules.",
		"Do not load the file. Obtain the model from its publisher again, prefer a format without code (safetensors, ONNX, GGUF), and load PyTorch checkpoints with torch.load(weights_only=True)."},
	RuleUnknownGlobal: {"Pickle imports a global that is not on the allowlist",
		"The scanner allows only exact module and name pairs vetted from real checkpoints; this global is not one of them, so loading the file runs code whose effect was not judged.",
		"Check what the global does. If it is safe, allow it with a ScanPolicy file passed as --policy (see docs/policy.md)."},
	RuleDynamicGlobal: {"Pickle computes what it imports or calls at load time",
		"The module or name that STACK_GLOBAL imports is not a plain string in the stream, so what runs is decided only when the file is loaded.",
		"Do not load the file; no real checkpoint computes its imports."},
	RuleExtension: {"Pickle uses a copyreg extension code",
		"EXT1/EXT2/EXT4 opcodes import whatever the loading process registered in copyreg's extension registry, which the file cannot be judged by.",
		"Do not load the file unless you control the loading process's extension registry."},
	RuleNestedPickle: {"Pickle deserialises nested data that is dangerous or cannot be analysed",
		"The stream calls a deserialiser (pickle.loads, torch.load, joblib.load, ...) whose argument is dangerous, cannot be analysed completely, or is not a literal.",
		"Do not load the file; see the nested finding for what the inner data runs."},
	RulePolicyDenied: {"Pickle imports a global that the scan policy denies",
		"The ScanPolicy given with --policy denies this global.",
		"Do not load the file, or change the policy if the denial is wrong."},
	RuleMalformed: {"Model file could not be read completely",
		"The content is recognisably a model format, or named like one, but does not parse completely; a loader may read it differently from the scanner.",
		"Obtain the file again; a truncated download or a file built to confuse scanners both end here."},
	RuleNothingScanned: {"Nothing was scanned",
		"The folder, path or artifact named as a scan target holds no file that could be scanned: it is empty, does not exist, or has no file layer.",
		"Check the path or reference the scan was given; a pipeline pointed at the wrong place scans nothing."},
	RuleLimit: {"A resource limit was hit while scanning",
		"A scan limit (depth, entries, expanded bytes, memo size, opcodes) stopped the scan before the content was read completely.",
		"Raise the named limit with its scan flag if the file is legitimately that large, and scan again."},
	RuleTrailingData: {"Data after the last pickle",
		"Bytes follow the pickle's STOP opcode that are not another pickle; some loaders read them.",
		"Find out what the bytes are before loading the file."},
	RuleSafetensors: {"safetensors header is inconsistent",
		"The safetensors header lies about tensor sizes or offsets, or overlaps them.",
		"Obtain the file again; loaders may read out of bounds or different data."},
	RuleArchive: {"Archive layout trick",
		"The archive has duplicate member names, odd members or other tricks that make loaders and scanners see different content.",
		"Do not load the file until the archive is rebuilt from trusted parts."},
	RuleUnsupportedInner: {"Content that no format understands",
		"A member or stream inside a container is in no format the scanner knows.",
		"Check what the member is."},
	RuleTemplateInjection: {"Chat template reaches Python internals",
		"A Jinja chat template reaches dunder attributes, modules or builtins that run code when the template is rendered.",
		"Do not render the template; replace it with the publisher's original."},
	RuleTemplateUnparsed: {"Chat template could not be parsed",
		"The chat template is not valid for the analyser and was judged by its text alone.",
		"Check the template by hand."},
	RuleTemplateInclude: {"Chat template loads other templates",
		"include, import or extends load templates the scan did not see.",
		"Make sure the loaded templates come from a trusted place."},
	RuleExternalData: {"ONNX external data outside the model folder",
		"An ONNX tensor's external-data location points outside the model folder, so loading reads other files.",
		"Do not load the model."},
	RuleCustomOperator: {"ONNX operator from a custom domain",
		"An ONNX node uses an operator domain that needs a custom library to run.",
		"Load the model only with a runtime whose custom operators you trust."},
	RuleKerasLambda: {"Keras Lambda layer with marshalled bytecode",
		"A Keras Lambda layer carries Python bytecode that runs when the model is loaded or called.",
		"Load with safe_mode=True, or rebuild the model without the Lambda layer."},
	RuleKerasModule: {"Keras object from a module outside Keras",
		"The Keras config names a module or registered object that Keras imports when loading.",
		"Check the module before loading the model."},
	RuleTFDangerousOp: {"TensorFlow op that reads or writes files or runs Python",
		"The SavedModel graph has ops that touch files or run Python when the graph runs.",
		"Do not serve the model until the ops are accounted for."},
	RuleExecutable: {"Program or script where model data should be",
		"A native executable (ELF, PE, Mach-O, APE/llamafile), a Java class or a script sits where model data should be; a loader or a user may run it.",
		"Find out why a program ships with the model; do not run it."},
	RuleRemoteCode: {"Model config that makes the loader import Python code",
		"A config (auto_map, custom_pipelines, diffusers components, sentence-transformers modules, MLflow or TorchServe manifests) names Python code that runs when the model is loaded with remote code enabled.",
		"Review the named code file; allow it by path and digest with allowCode in a ScanPolicy once reviewed."},
	RulePythonCode: {"Python code that runs when imported",
		"A Python file in the model runs when the loader imports it.",
		"Review the file; allow it by path and digest with allowCode in a ScanPolicy once reviewed."},
	RulePythonDangerous: {"Python code that runs processes, writes files, reaches the network or runs dynamic code",
		"The Python file calls process, file-write, network, dynamic-code, ctypes or nested-deserialisation functions.",
		"Do not load the model with remote code enabled until the calls are accounted for."},
}

// ruleName is the rule id as a PascalCase name: MV-PICKLE-UNKNOWN-GLOBAL is
// PickleUnknownGlobal.
func ruleName(id string) string {
	var b strings.Builder
	for i, part := range strings.Split(strings.ToLower(id), "-") {
		if i == 0 && part == "mv" || part == "" {
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

func ruleInfo(id string) rule {
	r, ok := rules[id]
	if !ok {
		r = rule{id, id, "See " + RulesDocURI + "."}
	}
	return r
}

// RulesMarkdown is docs/rules.md: a section per rule id.
func RulesMarkdown() string {
	ids := make([]string, 0, len(rules))
	for id := range rules {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var b strings.Builder
	b.WriteString("# Scan rules\n\nGenerated from `pkg/scan/sarif.go` by `go test ./pkg/scan -run TestRulesDoc -update`; do not edit.\n" +
		"Each rule id of the JSON and SARIF reports has a section here; SARIF rules link to it.\n")
	for _, id := range ids {
		r := rules[id]
		b.WriteString("\n## " + id + "\n\n" + r.short + ".\n\n" + r.full + "\n\n**What to do:** " + r.help + "\n")
	}
	return b.String()
}

var severityScore = map[Severity]string{
	SeverityCritical: "9.5", SeverityHigh: "8.0", SeverityMedium: "5.5", SeverityLow: "3.0", SeverityInfo: "0.0",
}

func sarifLevel(s Severity) string {
	switch {
	case s >= SeverityHigh:
		return "error"
	case s == SeverityMedium:
		return "warning"
	}
	return "note"
}

var (
	ociDigest = regexp.MustCompile(`@sha256:[0-9a-f]{64}`)
	semver    = regexp.MustCompile(`^v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?)$`)
)

// sarifURI turns a target path into a URI that is the same on every machine
// and however the path was spelled: relative to base for files, never
// absolute, never with "..", never with a scheme.
func sarifURI(path, base string) (uri, baseID string) {
	if i := strings.Index(path, "://"); i > 0 {
		rest := ociDigest.ReplaceAllString(path[i+3:], "")
		parts := strings.Split(rest, "/")
		for j := 1; j < len(parts); j++ {
			if k := strings.IndexByte(parts[j], ':'); k > 0 {
				parts[j] = parts[j][:k] // a tag
			}
		}
		return escapeURI(strings.Join(parts, "/")), SARIFBaseOCI
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return escapeURI(filepath.ToSlash(filepath.Clean(path))), SARIFBaseSource
	}
	if rel, err := filepath.Rel(base, abs); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return escapeURI(filepath.ToSlash(rel)), SARIFBaseSource
	}
	return escapeURI(strings.TrimLeft(filepath.ToSlash(abs), "/")), SARIFBaseOutside
}

// defaultBase is the root of the git repository holding the working
// directory, or the working directory.
func defaultBase() string {
	wd, err := os.Getwd()
	if err != nil {
		return "."
	}
	for d := wd; ; {
		if _, err := os.Stat(filepath.Join(d, ".git")); err == nil {
			return d
		}
		p := filepath.Dir(d)
		if p == d {
			return wd
		}
		d = p
	}
}

func fingerprint(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(h[:16])
}

// WriteSARIF writes the report as a SARIF 2.1.0 log with the zero
// SARIFOptions.
func WriteSARIF(w io.Writer, r *Report) error { return WriteSARIFWith(w, r, SARIFOptions{}) }

// WriteSARIFWith writes the report as a SARIF 2.1.0 log for GitHub code
// scanning: artifact URIs relative to opts.Base, archive members as nested
// artifacts and logical locations, and a partial fingerprint per result that
// depends only on the rule, the URI, the member, the symbol and the offset.
func WriteSARIFWith(w io.Writer, r *Report, opts SARIFOptions) error {
	base := opts.Base
	if base == "" {
		base = defaultBase()
	}
	if abs, err := filepath.Abs(base); err == nil {
		base = abs
	}
	drv := sarifDriver{Name: r.Tool.Name, Version: r.Tool.Version, InformationURI: InformationURI}
	if m := semver.FindStringSubmatch(r.Tool.Version); m != nil {
		drv.SemanticVersion = m[1]
	}
	run := sarifRun{
		Tool:        sarifTool{Driver: drv},
		Invocations: []sarifInvocation{{ExecutionSuccessful: opts.ExitCode < 2, ExitCode: opts.ExitCode}},
		Artifacts:   []sarifArtifact{},
		Results:     []sarifResult{},
	}
	worst := map[string]Severity{}
	for _, t := range r.Targets {
		for _, f := range t.Findings {
			if s, ok := worst[f.RuleID]; !ok || f.Severity > s {
				worst[f.RuleID] = f.Severity
			}
		}
	}
	ids := make([]string, 0, len(worst))
	for id := range worst {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	ruleIndex := map[string]int{}
	run.Tool.Driver.Rules = []sarifRule{}
	for i, id := range ids {
		ruleIndex[id] = i
		ri := ruleInfo(id)
		anchor := RulesDocURI + "#" + strings.ToLower(id)
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRule{
			ID: id, Name: ruleName(id), ShortDescription: sarifText{ri.short}, FullDescription: sarifText{ri.full},
			Help:    sarifHelp{Text: ri.full + " " + ri.help, Markdown: ri.full + "\n\n**What to do:** " + ri.help + "\n\n[" + id + "](" + anchor + ")"},
			HelpURI: anchor, DefaultConfiguration: sarifConfig{Level: sarifLevel(worst[id])},
			Properties: sarifRuleProp{SecuritySeverity: severityScore[worst[id]], Tags: []string{"security", "supply-chain"}},
		})
	}
	for _, t := range r.Targets {
		uri, baseID := sarifURI(t.Path, base)
		ti := len(run.Artifacts)
		art := sarifArtifact{Location: sarifArtifactLoc{URI: uri, URIBaseID: baseID}, Length: t.Size}
		if d, ok := strings.CutPrefix(t.Digest, "sha256:"); ok {
			art.Hashes = map[string]string{"sha-256": d}
		}
		run.Artifacts = append(run.Artifacts, art)
		members := map[string]int{}
		for _, f := range t.Findings {
			msg := f.Message
			loc := sarifLocation{PhysicalLocation: sarifPhysical{ArtifactLocation: sarifArtifactLoc{URI: uri, URIBaseID: baseID, Index: ptr(ti)}}}
			if f.Member != "" {
				msg = f.Member + ": " + msg
				mi, ok := members[f.Member]
				if !ok {
					mi = len(run.Artifacts)
					members[f.Member] = mi
					run.Artifacts = append(run.Artifacts, sarifArtifact{Location: sarifArtifactLoc{URI: escapeURI(f.Member)}, ParentIndex: ptr(ti)})
				}
				loc.LogicalLocations = []sarifLogicalLoc{{Name: f.Member, FullyQualifiedName: uri + "!/" + f.Member, Kind: "module"}}
			} else if f.Offset >= 0 {
				loc.PhysicalLocation.Region = &sarifRegion{ByteOffset: f.Offset, ByteLength: 1}
			}
			props := map[string]any{"severity": f.Severity.String()}
			if f.Symbol != "" {
				props["symbol"] = f.Symbol
			}
			if f.Opcode != "" {
				props["opcode"] = f.Opcode
			}
			if f.Member != "" {
				props["member"] = f.Member
			}
			if f.Offset >= 0 {
				props["offset"] = f.Offset
			}
			run.Results = append(run.Results, sarifResult{
				RuleID: f.RuleID, RuleIndex: ruleIndex[f.RuleID], Level: sarifLevel(f.Severity), Message: sarifText{msg},
				Locations: []sarifLocation{loc}, Props: props,
				PartialFingerprints: map[string]string{
					"modelverifyFinding/v1": fingerprint(f.RuleID, baseID, uri, f.Member, f.Symbol, f.Opcode, strconv.FormatInt(f.Offset, 10)),
				},
			})
		}
	}
	log := sarifLog{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0", Runs: []sarifRun{run}}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(log)
}

// escapeURI makes a slash-separated path a relative URI reference: each
// segment percent-encoded, ':' too so that no segment reads as a scheme.
func escapeURI(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = strings.ReplaceAll(url.PathEscape(s), ":", "%3A")
	}
	return strings.Join(segs, "/")
}

func ptr(i int) *int { return &i }
