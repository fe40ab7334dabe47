package pickle

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// writeListsMarkdown writes the built-in allow and deny lists, with the
// reason for each entry, as the Markdown page docs/scanner-lists.md.
func writeListsMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Scanner allowlist and denylist (version %s)\n\n", ListVersion)
	b.WriteString("Generated from `pkg/scan/pickle/lists.go` by `go test ./pkg/scan/pickle -run TestListsDoc -update`; do not edit.\n\n")
	b.WriteString("The pickle scanner is default-deny: a global that a pickle imports or calls is clean only if it is\n")
	b.WriteString("listed under *Allowed* (or allowed by a user's `--policy`). Globals in a *critical* module or name\n")
	b.WriteString("are reported as critical; every other global is reported as high. A policy can never make a\n")
	b.WriteString("critical global clean.\n\n## Allowed\n\n| module | names | why they are safe |\n|---|---|---|\n")
	for _, g := range allowGroups {
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", g.module, "`"+strings.Join(g.names, "`, `")+"`", g.reason)
	}
	b.WriteString("\n## Generated from the libraries\n\n")
	b.WriteString("Written by `scripts/gen-allowlist.py` into `pkg/scan/pickle/allowlist.tsv` (embedded in the binary) from the installed\n")
	b.WriteString("libraries: each name is listed in the module that defines it (its `__module__` and `__qualname__`), or because the\n")
	b.WriteString("library's own pickling of its data emits it. No rule admits names by pattern: a module's namespace also holds what it\n")
	b.WriteString("imports, and a pickle naming such a re-export gets the imported callable. A *method* `Class.method` allows\n")
	b.WriteString("`builtins.getattr(obj, \"method\")` only when `obj` is an instance of that allowed class built in the same stream\n")
	b.WriteString("(how pickle stores a bound method); any other `getattr` is critical.\n\n")
	b.WriteString("| kind | module | names | library | why they are safe |\n|---|---|---|---|---|\n")
	generated := builtin().entries
	for i := 0; i < len(generated); {
		e := generated[i]
		var names []string
		for ; i < len(generated) && generated[i].module == e.module && generated[i].kind == e.kind &&
			generated[i].library == e.library && generated[i].version == e.version && generated[i].reason == e.reason; i++ {
			names = append(names, generated[i].name)
		}
		fmt.Fprintf(&b, "| %s | `%s` | %s | %s %s | %s |\n", e.kind, e.module, codeList(names), e.library, e.version, e.reason)
	}
	b.WriteString("\n## Critical modules\n\nEvery global in these modules and their submodules (a rule for `asyncio` covers `asyncio.unix_events`) is critical:\nthey give code execution, process control, file or network access, imports or deserialisation.\n\n")
	mods := append([]string(nil), criticalModules...)
	sort.Strings(mods)
	b.WriteString(codeList(mods) + "\n")
	b.WriteString("\n## Critical names\n\nSingle globals that are critical in modules that are not critical as a whole (builtins that evaluate, import, reach attributes or open files; loaders and savers of data libraries; process helpers):\n\n")
	b.WriteString(codeList(sortedKeys(criticalNames)) + "\n")
	b.WriteString("\n## Evaluators judged by their arguments\n\nCritical names that are clean only when called as `eval(\"name\", {\"name\": value, ...})`: an ASCII identifier that the globals\ndict given in the same call holds, which evaluates to that value and runs nothing (how `paddle.save` pickles a static-graph\nLoDTensor). Code, a name the globals lack (it would come from builtins), locals, or any other use is critical.\n\n")
	b.WriteString(codeList(sortedKeys(lookupEvals)) + "\n")
	b.WriteString("\n## Nested loaders\n\nThese deserialise their argument. A call whose argument is a literal in the stream is judged by what the literal holds,\nscanned through the same dispatcher (a `torch.save` archive, another pickle); any other use is critical. The plain-pickle\nloaders among them (`pickle.loads` and kin) are reported as high even on clean content: no library's own serialisation emits\nthem, and they escape a restricted unpickler such as `torch.load(weights_only=True)`.\n\n")
	b.WriteString(codeList(sortedKeys(nestedLoaders)) + "\n")
	b.WriteString("\n## Attribute chains\n\nA dotted name is an attribute chain (`shutil` + `os.system` reaches `os.system`). A chain is critical when any link is a dunder\n(`__globals__`, `__builtins__`, ...), names a critical module, or is one of: ")
	b.WriteString(codeList(sortedKeys(dangerousAttrs)) + ".\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// codeList formats names as a comma-separated list of code spans.
func codeList(names []string) string { return "`" + strings.Join(names, "`, `") + "`" }
