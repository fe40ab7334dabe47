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
// sarifRegion is a line of text (Python source) or a byte of binary
// content.
type sarifRegion struct {
	StartLine  int    `json:"startLine,omitempty"`
	ByteOffset *int64 `json:"byteOffset,omitempty"`
	ByteLength int64  `json:"byteLength,omitempty"`
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

// InformationURI is the project's home page.
const InformationURI = "https://github.com/modelverify/modelverify"

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
		ri, _ := RuleHelp(id)
		anchor := ri.URL()
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRule{
			ID: id, Name: ruleName(id), ShortDescription: sarifText{ri.Title}, FullDescription: sarifText{ri.Description},
			Help:    sarifHelp{Text: ri.Description + " " + ri.Remedy, Markdown: ri.Description + "\n\n**What to do:** " + ri.Remedy + "\n\n[" + id + "](" + anchor + ")"},
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
				if _, ok := members[f.Member]; !ok {
					members[f.Member] = len(run.Artifacts)
					run.Artifacts = append(run.Artifacts, sarifArtifact{Location: sarifArtifactLoc{URI: escapeURI(f.Member)}, ParentIndex: ptr(ti)})
				}
				loc.LogicalLocations = []sarifLogicalLoc{{Name: f.Member, FullyQualifiedName: uri + "!/" + f.Member, Kind: "module"}}
			} else if f.Line > 0 {
				loc.PhysicalLocation.Region = &sarifRegion{StartLine: f.Line}
			} else if f.Offset >= 0 {
				loc.PhysicalLocation.Region = &sarifRegion{ByteOffset: ptr(f.Offset), ByteLength: 1}
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

func ptr[T any](v T) *T { return &v }
