package scan

import "strings"

// RuleDocsBase is where the rule reference (docs/rules.md) is published; a
// rule's page is RuleDocsBase + "#" + the lower-cased rule id, the anchor
// that the heading "## MV-..." gets.
const RuleDocsBase = "https://github.com/modelverify/modelverify/blob/main/docs/rules.md"

// RuleDoc is what a reader of a report needs to know about a rule.
type RuleDoc struct {
	ID string
	// Title is one line: what the rule found.
	Title string
	// Help says why it matters and what to do about it.
	Help string
}

// URL is the rule's section in the rule reference.
func (d RuleDoc) URL() string { return RuleDocsBase + "#" + strings.ToLower(d.ID) }

// ruleDocs is the rule reference; docs/rules.md is generated from it (a test
// fails when the two differ).
var ruleDocs = []RuleDoc{
	{RuleDangerousGlobal, "Pickle imports a known code-execution, file, process, network or import primitive",
		"Loading this file runs the named function (os.system, builtins.exec, subprocess.Popen, ...). Do not load it. If it came from a model hub, report it; if it is your own, re-save the weights in a format that carries no code (safetensors)."},
	{RuleUnknownGlobal, "Pickle imports a global that is not on the allowlist",
		"The scanner allows only the classes and rebuild functions that real checkpoints use. This global is not one of them: loading the file imports it and may call it. Check what it is; if you trust it, allow it with a scan policy (--policy) instead of lowering --fail-on."},
	{RuleDynamicGlobal, "Pickle computes what it imports or calls at load time",
		"The module or name given to STACK_GLOBAL is not a plain string in the stream, so what the file imports cannot be known without running it. No legitimate checkpoint does this."},
	{RuleExtension, "Pickle uses a copyreg extension code",
		"EXT1, EXT2 and EXT4 import whatever the loading process registered under a number. The result depends on the loader's environment, so the scanner treats it as an import it cannot vet."},
	{RuleNestedPickle, "Pickle deserialises nested data that is dangerous or cannot be analysed",
		"The file calls a loader (pickle.loads, torch.load, ...) on data it carries. Nested data that is itself dangerous, that cannot be analysed completely, or that is not a literal makes the call dangerous."},
	{RulePolicyDenied, "Pickle imports a global that the scan policy denies",
		"The scan policy given with --policy denies this global. Remove the file or change the policy."},
	{RuleMalformed, "Model file could not be read completely",
		"The file looks like a model format but does not parse to its end (truncated, corrupt, or crafted to confuse parsers). The scanner fails closed: what it could not read might run code. Re-download or re-export the file."},
	{RuleLimit, "A resource limit was hit while scanning",
		"Scanning stopped at one of the explicit limits (nesting depth, archive entries, expanded bytes, memo, opcodes, ...), so the rest of the file was not analysed. Decompression bombs hit these limits; for a genuine large model, raise the named limit flag."},
	{RuleTrailingData, "Data after the last pickle",
		"Bytes follow the last STOP opcode that are not another pickle. Loaders ignore them, but they can hide a payload for a second loader; real checkpoints have none."},
	{RuleSafetensors, "safetensors header is inconsistent",
		"The header declares tensor sizes or offsets that do not match the data (overlaps, gaps, out of range). Loaders may read outside the tensors or refuse the file."},
	{RuleArchive, "Archive layout trick",
		"The archive has duplicate member names, odd member paths or other tricks that make two readers see different content. The scanner reads every member the way the loader does."},
	{RuleUnsupportedInner, "Content that no format understands",
		"A member of a container is in no format the scanner knows. Nothing in it is known to run, but it was not analysed."},
	{RuleTemplateInjection, "Chat template reaches Python internals",
		"A Jinja chat template walks to Python internals (__class__, __globals__, ...) or calls code: rendering it can run commands (CVE-2024-34359 class). Replace the template before serving the model."},
	{RuleTemplateUnparsed, "Chat template could not be parsed",
		"The chat template does not parse, so it was judged by its text alone. Check it by hand before serving the model."},
	{RuleTemplateInclude, "Chat template loads other templates",
		"The chat template includes, imports or extends other templates, whose content the scan does not see."},
	{RuleExternalData, "ONNX external data outside the model folder",
		"An ONNX tensor's external data location points outside the model folder (absolute path, .., or a symlink out): loading it reads other files (CVE-2022-25882 class)."},
	{RuleCustomOperator, "ONNX operator from a custom domain",
		"The graph uses operators outside ONNX's own and ONNX Runtime's domains; they run code from a custom operator library, and some call into Python."},
	{RuleKerasLambda, "Keras Lambda layer with marshalled bytecode",
		"A Lambda layer carries Python bytecode or names a Python function: loading the model runs it (Keras 3 refuses only while safe_mode is on, its default)."},
	{RuleKerasModule, "Keras object from a module outside Keras",
		"The Keras config names a module or registered object outside Keras's own packages; loading imports it."},
	{RuleTFDangerousOp, "TensorFlow op that reads or writes files or runs Python",
		"The SavedModel graph contains ops that read or write files, or run Python (PyFunc) when the graph runs."},
}

// RuleHelp is the documentation of a rule id, and false for an id the
// reference does not know (then only ID is set).
func RuleHelp(id string) (RuleDoc, bool) {
	for _, d := range ruleDocs {
		if d.ID == id {
			return d, true
		}
	}
	return RuleDoc{ID: id}, false
}

// RuleDocs is the whole rule reference, in reference order.
func RuleDocs() []RuleDoc { return append([]RuleDoc(nil), ruleDocs...) }
