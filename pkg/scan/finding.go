package scan

import (
	"fmt"
	"strings"
)

// Severity orders findings. The zero value is SeverityInfo, which never fails
// a scan.
type Severity int

const (
	SeverityInfo Severity = iota
	SeverityLow
	SeverityMedium
	SeverityHigh
	SeverityCritical
	// SeverityNone is above every finding: with --fail-on none nothing fails.
	SeverityNone
)

var severityNames = [...]string{"info", "low", "medium", "high", "critical", "none"}

func (s Severity) String() string {
	if s < 0 || int(s) >= len(severityNames) {
		return fmt.Sprintf("severity(%d)", int(s))
	}
	return severityNames[s]
}

// ParseSeverity reads a severity name, case-insensitively.
func ParseSeverity(name string) (Severity, error) {
	for i, n := range severityNames {
		if strings.EqualFold(name, n) {
			return Severity(i), nil
		}
	}
	return 0, fmt.Errorf("unknown severity %q (want one of critical, high, medium, low, info, none)", name)
}

// MarshalText writes the severity's name.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a severity's name.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Rule identifiers. They are stable: SARIF output, policies and users' CI
// suppressions refer to them.
const (
	RuleDangerousGlobal  = "MV-PICKLE-DANGEROUS-GLOBAL" // a known code-execution, file, process, network or import primitive
	RuleUnknownGlobal    = "MV-PICKLE-UNKNOWN-GLOBAL"   // a global that is not on the allowlist (default deny)
	RuleDynamicGlobal    = "MV-PICKLE-DYNAMIC-GLOBAL"   // STACK_GLOBAL operands that are not plain strings
	RuleExtension        = "MV-PICKLE-EXTENSION"        // EXT1/2/4 resolved through the copyreg extension registry
	RuleNestedPickle     = "MV-PICKLE-NESTED-LOAD"      // nested deserialisation that is dangerous or cannot be analysed
	RulePolicyDenied     = "MV-POLICY-DENIED"           // a global the user's policy denies
	RuleMalformed        = "MV-MALFORMED"               // the input could not be read completely
	RuleLimit            = "MV-LIMIT"                   // a resource limit was hit
	RuleNothingScanned   = "MV-NOTHING-SCANNED"         // a target path or reference under which no file was found
	RuleTrailingData     = "MV-PICKLE-TRAILING-DATA"    // bytes after the last pickle that are not a pickle
	RuleSafetensors      = "MV-SAFETENSORS-HEADER"      // a safetensors header that lies
	RuleArchive          = "MV-ARCHIVE"                 // archive layout tricks (duplicate names, odd members)
	RuleUnsupportedInner = "MV-UNSUPPORTED"             // content inside a container that no format understands

	RuleTemplateInjection = "MV-TEMPLATE-INJECTION" // a Jinja chat template that reaches Python internals (CVE-2024-34359 class)
	RuleTemplateUnparsed  = "MV-TEMPLATE-UNPARSED"  // a chat template the analyser could not parse; judged by its text alone
	RuleTemplateInclude   = "MV-TEMPLATE-INCLUDE"   // a chat template that loads other templates (include, import, extends)
	RuleExternalData      = "MV-ONNX-EXTERNAL-DATA" // an ONNX external-data location outside the model folder (CVE-2022-25882 class)
	RuleCustomOperator    = "MV-ONNX-CUSTOM-OP"     // an ONNX operator from a domain outside the standard and runtime-bundled ones
	RuleKerasLambda       = "MV-KERAS-LAMBDA"       // a Keras Lambda layer carrying marshalled Python bytecode
	RuleKerasModule       = "MV-KERAS-MODULE"       // a Keras config that names a module or registered object outside Keras
	RuleTFDangerousOp     = "MV-TF-DANGEROUS-OP"    // a TensorFlow graph op that reads or writes files or runs Python

	RuleExecutable      = "MV-EXECUTABLE"       // machine code or a script where model data should be (ELF, PE, Mach-O, APE, shebang)
	RuleRemoteCode      = "MV-REMOTE-CODE"      // a model config that makes the loader import Python code (auto_map, custom pipelines, custom modules)
	RulePythonCode      = "MV-PYTHON-CODE"      // Python source in a model artifact: it runs when imported
	RulePythonDangerous = "MV-PYTHON-DANGEROUS" // Python that runs processes, writes files, reaches the network, runs dynamic or native code, or deserialises
)

// Finding is one observation about a target.
type Finding struct {
	RuleID   string   `json:"ruleId"`
	Severity Severity `json:"severity"`
	// Member is the path inside the target (archive member, nested stream),
	// "" for the target itself. Nested levels are joined with "/".
	Member string `json:"member,omitempty"`
	// Offset is the byte offset in the member's (decompressed) stream, -1 if
	// it does not apply.
	Offset int64 `json:"offset"`
	// Line is the 1-based line in the member's text (Python source), 0
	// when the content is not text.
	Line    int    `json:"line,omitempty"`
	Opcode  string `json:"opcode,omitempty"`
	Symbol  string `json:"symbol,omitempty"`
	Message string `json:"message"`
}

// less orders findings for stable output: most severe first, then by place.
func (f Finding) less(g Finding) bool {
	if f.Severity != g.Severity {
		return f.Severity > g.Severity
	}
	if f.Member != g.Member {
		return f.Member < g.Member
	}
	if f.Offset != g.Offset {
		return f.Offset < g.Offset
	}
	if f.RuleID != g.RuleID {
		return f.RuleID < g.RuleID
	}
	if f.Symbol != g.Symbol {
		return f.Symbol < g.Symbol
	}
	return f.Message < g.Message
}
