package scan

import (
	"sort"
	"strings"
)

// RulesDocURI is the rule reference, docs/rules.md, as published; a rule's
// section is RulesDocURI + "#" + the lower-cased rule id, the anchor that
// its heading "## MV-..." gets.
const RulesDocURI = InformationURI + "/blob/main/docs/rules.md"

// RuleDoc is what a reader of a report needs to know about a rule. It is
// the one rule reference: SARIF rule descriptors, the HTML report and
// docs/rules.md are all made from it.
type RuleDoc struct {
	ID string
	// Title is one line: what the rule found.
	Title string
	// Description says what it means for the file.
	Description string
	// Remedy says what to do about it.
	Remedy string
}

// URL is the rule's section in the rule reference.
func (d RuleDoc) URL() string { return RulesDocURI + "#" + strings.ToLower(d.ID) }

// Help is the description and the remedy, as one paragraph.
func (d RuleDoc) Help() string { return d.Description + " " + d.Remedy }

// rules maps each rule id to its title, description and remedy.
var rules = map[string]RuleDoc{
	RuleDangerousGlobal: {"", "Pickle imports a known code-execution, file, process, network or import primitive",
		"Loading the file with pickle, torch.load, joblib.load or numpy.load(allow_pickle=True) calls a function that runs commands, evaluates code, opens files or sockets, or imports modules.",
		"Do not load the file. Obtain the model from its publisher again, prefer a format without code (safetensors, ONNX, GGUF), and load PyTorch checkpoints with torch.load(weights_only=True)."},
	RuleUnknownGlobal: {"", "Pickle imports a global that is not on the allowlist",
		"The scanner allows only exact module and name pairs vetted from real checkpoints; this global is not one of them, so loading the file runs code whose effect was not judged.",
		"Check what the global does. If it is safe, allow it with a ScanPolicy file passed as --policy (see docs/policy.md)."},
	RuleDynamicGlobal: {"", "Pickle computes what it imports or calls at load time",
		"The module or name that STACK_GLOBAL imports is not a plain string in the stream, so what runs is decided only when the file is loaded.",
		"Do not load the file; no real checkpoint computes its imports."},
	RuleExtension: {"", "Pickle uses a copyreg extension code",
		"EXT1/EXT2/EXT4 opcodes import whatever the loading process registered in copyreg's extension registry, which the file cannot be judged by.",
		"Do not load the file unless you control the loading process's extension registry."},
	RuleNestedPickle: {"", "Pickle deserialises nested data that is dangerous or cannot be analysed",
		"The stream calls a deserialiser (pickle.loads, torch.load, joblib.load, ...) whose argument is dangerous, cannot be analysed completely, or is not a literal.",
		"Do not load the file; see the nested finding for what the inner data runs."},
	RulePolicyDenied: {"", "Pickle imports a global that the scan policy denies",
		"The ScanPolicy given with --policy denies this global.",
		"Do not load the file, or change the policy if the denial is wrong."},
	RuleMalformed: {"", "Model file could not be read completely",
		"The content is recognisably a model format, or named like one, but does not parse completely; a loader may read it differently from the scanner.",
		"Obtain the file again; a truncated download or a file built to confuse scanners both end here."},
	RuleNothingScanned: {"", "Nothing was scanned",
		"The folder, path or artifact named as a scan target holds no file that could be scanned: it is empty, does not exist, or has no file layer.",
		"Check the path or reference the scan was given; a pipeline pointed at the wrong place scans nothing."},
	RuleLimit: {"", "A resource limit was hit while scanning",
		"A scan limit (depth, entries, expanded bytes, memo size, opcodes) stopped the scan before the content was read completely.",
		"Raise the named limit with its scan flag if the file is legitimately that large, and scan again."},
	RuleTrailingData: {"", "Data after the last pickle",
		"Bytes follow the pickle's STOP opcode that are not another pickle; some loaders read them.",
		"Find out what the bytes are before loading the file."},
	RuleSafetensors: {"", "safetensors header is inconsistent",
		"The safetensors header lies about tensor sizes or offsets, or overlaps them.",
		"Obtain the file again; loaders may read out of bounds or different data."},
	RuleArchive: {"", "Archive layout trick",
		"The archive has duplicate member names, odd members or other tricks that make loaders and scanners see different content.",
		"Do not load the file until the archive is rebuilt from trusted parts."},
	RuleUnsupportedInner: {"", "Content that no format understands",
		"A member or stream inside a container is in no format the scanner knows.",
		"Check what the member is."},
	RuleTemplateInjection: {"", "Chat template reaches Python internals",
		"A Jinja chat template reaches dunder attributes, modules or builtins that run code when the template is rendered.",
		"Do not render the template; replace it with the publisher's original."},
	RuleTemplateUnparsed: {"", "Chat template could not be parsed",
		"The chat template is not valid for the analyser and was judged by its text alone.",
		"Check the template by hand."},
	RuleTemplateInclude: {"", "Chat template loads other templates",
		"include, import or extends load templates the scan did not see.",
		"Make sure the loaded templates come from a trusted place."},
	RuleExternalData: {"", "ONNX external data outside the model folder",
		"An ONNX tensor's external-data location points outside the model folder, so loading reads other files.",
		"Do not load the model."},
	RuleCustomOperator: {"", "ONNX operator from a custom domain",
		"An ONNX node uses an operator domain that needs a custom library to run.",
		"Load the model only with a runtime whose custom operators you trust."},
	RuleKerasLambda: {"", "Keras Lambda layer with marshalled bytecode",
		"A Keras Lambda layer carries Python bytecode that runs when the model is loaded or called.",
		"Load with safe_mode=True, or rebuild the model without the Lambda layer."},
	RuleKerasModule: {"", "Keras object from a module outside Keras",
		"The Keras config names a module or registered object that Keras imports when loading.",
		"Check the module before loading the model."},
	RuleTFDangerousOp: {"", "TensorFlow op that reads or writes files or runs Python",
		"The SavedModel graph has ops that touch files or run Python when the graph runs.",
		"Do not serve the model until the ops are accounted for."},
	RuleExecutable: {"", "Program or script where model data should be",
		"A native executable (ELF, PE, Mach-O, APE/llamafile), a Java class or a script sits where model data should be; a loader or a user may run it.",
		"Find out why a program ships with the model; do not run it."},
	RuleRemoteCode: {"", "Model config that makes the loader import Python code",
		"A config (auto_map, custom_pipelines, diffusers components, sentence-transformers modules, MLflow or TorchServe manifests, Keras modules that are files of the folder) names Python code that runs when the model is loaded with remote code enabled, or a NeMo model_config.yaml names a target class or a hydra _target_ callable outside NeMo (critical when it runs commands or code), which runs when the model is restored.",
		"Review the named code file; allow it by path and digest with allowCode in a ScanPolicy once reviewed."},
	RulePythonCode: {"", "Python code that runs when imported",
		"A Python file in the model runs when the loader imports it.",
		"Review the file; allow it by path and digest with allowCode in a ScanPolicy once reviewed."},
	RulePythonDangerous: {"", "Python code that runs processes, writes files, reaches the network or runs dynamic code",
		"The Python file calls process, file-write, network, dynamic-code, ctypes or nested-deserialisation functions.",
		"Do not load the model with remote code enabled until the calls are accounted for."},
}

// RuleHelp is the documentation of a rule id, and false for an id the
// reference does not know (then only ID and a pointer to the reference are
// set).
func RuleHelp(id string) (RuleDoc, bool) {
	d, ok := rules[id]
	if !ok {
		return RuleDoc{ID: id, Title: id, Description: id, Remedy: "See " + RulesDocURI + "."}, false
	}
	d.ID = id
	return d, true
}

// RuleDocs is the whole rule reference, sorted by id.
func RuleDocs() []RuleDoc {
	ids := make([]string, 0, len(rules))
	for id := range rules {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	docs := make([]RuleDoc, len(ids))
	for i, id := range ids {
		docs[i], _ = RuleHelp(id)
	}
	return docs
}

// RulesMarkdown is docs/rules.md: a section per rule id.
func RulesMarkdown() string {
	var b strings.Builder
	b.WriteString("# Scan rules\n\nGenerated from `pkg/scan/rules.go` by `go test ./pkg/scan -run TestRulesDoc -update`; do not edit.\n" +
		"Every finding of `modelverify scan` names one of these rules; the JSON, SARIF and HTML reports carry the ids,\n" +
		"and SARIF rules and the HTML report link to their sections here. [formats.md](formats.md) says which format\n" +
		"reports which rule at which severity.\n")
	for _, d := range RuleDocs() {
		b.WriteString("\n## " + d.ID + "\n\n" + d.Title + ".\n\n" + d.Description + "\n\n**What to do:** " + d.Remedy + "\n")
	}
	return b.String()
}
