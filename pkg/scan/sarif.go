package scan

import (
	"encoding/json"
	"io"
	"sort"
)

// SARIF 2.1.0, the subset GitHub code scanning reads.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version"`
	InformationURI string      `json:"informationUri,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID                   string        `json:"id"`
	ShortDescription     sarifText     `json:"shortDescription"`
	DefaultConfiguration sarifConfig   `json:"defaultConfiguration"`
	Properties           sarifRuleProp `json:"properties"`
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
	RuleID    string          `json:"ruleId"`
	Level     string          `json:"level"`
	Message   sarifText       `json:"message"`
	Locations []sarifLocation `json:"locations"`
	Props     map[string]any  `json:"properties,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           *sarifRegion  `json:"region,omitempty"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	ByteOffset int64 `json:"byteOffset"`
	StartLine  int   `json:"startLine"`
}

var ruleDescriptions = map[string]string{
	RuleDangerousGlobal:   "Pickle imports a known code-execution, file, process, network or import primitive",
	RuleUnknownGlobal:     "Pickle imports a global that is not on the allowlist",
	RuleDynamicGlobal:     "Pickle computes what it imports or calls at load time",
	RuleExtension:         "Pickle uses a copyreg extension code",
	RuleNestedPickle:      "Pickle deserialises nested data that is dangerous or cannot be analysed",
	RulePolicyDenied:      "Pickle imports a global that the scan policy denies",
	RuleMalformed:         "Model file could not be read completely",
	RuleLimit:             "A resource limit was hit while scanning",
	RuleTrailingData:      "Data after the last pickle",
	RuleSafetensors:       "safetensors header is inconsistent",
	RuleArchive:           "Archive layout trick",
	RuleUnsupportedInner:  "Content that no format understands",
	RuleTemplateInjection: "Chat template reaches Python internals",
	RuleTemplateUnparsed:  "Chat template could not be parsed",
	RuleTemplateInclude:   "Chat template loads other templates",
	RuleExternalData:      "ONNX external data outside the model folder",
	RuleCustomOperator:    "ONNX operator from a custom domain",
	RuleKerasLambda:       "Keras Lambda layer with marshalled bytecode",
	RuleKerasModule:       "Keras object from a module outside Keras",
	RuleTFDangerousOp:     "TensorFlow op that reads or writes files or runs Python",
	RuleExecutable:        "Program or script where model data should be",
	RuleRemoteCode:        "Model config that makes the loader import Python code",
	RulePythonCode:        "Python code that runs when imported",
	RulePythonDangerous:   "Python code that runs processes, writes files, reaches the network or runs dynamic code",
}

// severityScore maps severities to GitHub's security-severity scale.
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

// WriteSARIF writes the report as a SARIF 2.1.0 log.
func WriteSARIF(w io.Writer, r *Report) error {
	run := sarifRun{Tool: sarifTool{Driver: sarifDriver{Name: r.Tool.Name, Version: r.Tool.Version}}, Results: []sarifResult{}}
	worst := map[string]Severity{}
	for _, t := range r.Targets {
		for _, f := range t.Findings {
			if s, ok := worst[f.RuleID]; !ok || f.Severity > s {
				worst[f.RuleID] = f.Severity
			}
			msg := f.Message
			if f.Member != "" {
				msg = f.Member + ": " + msg
			}
			loc := sarifLocation{PhysicalLocation: sarifPhysical{ArtifactLocation: sarifArtifact{URI: t.Path}}}
			if f.Offset >= 0 && f.Member == "" {
				loc.PhysicalLocation.Region = &sarifRegion{ByteOffset: f.Offset, StartLine: 1}
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
			run.Results = append(run.Results, sarifResult{
				RuleID: f.RuleID, Level: sarifLevel(f.Severity), Message: sarifText{msg},
				Locations: []sarifLocation{loc}, Props: props,
			})
		}
	}
	ids := make([]string, 0, len(worst))
	for id := range worst {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	run.Tool.Driver.Rules = []sarifRule{}
	for _, id := range ids {
		desc := ruleDescriptions[id]
		if desc == "" {
			desc = id
		}
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRule{
			ID: id, ShortDescription: sarifText{desc}, DefaultConfiguration: sarifConfig{Level: sarifLevel(worst[id])},
			Properties: sarifRuleProp{SecuritySeverity: severityScore[worst[id]], Tags: []string{"security", "supply-chain"}},
		})
	}
	log := sarifLog{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0", Runs: []sarifRun{run}}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(log)
}
