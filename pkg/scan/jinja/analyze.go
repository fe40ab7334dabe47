package jinja

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/modelverify/modelverify/pkg/scan"
)

// Issue is one way a template reaches past what a chat template needs.
type Issue struct {
	Severity scan.Severity
	// Include is true for include/import/extends: the template loads other
	// templates rather than reaching Python internals itself.
	Include bool
	// Pos is the byte offset of the construct in the template.
	Pos     int
	Symbol  string
	Message string
}

// Result is what Analyze found.
type Result struct {
	Issues []Issue
	// Err is set when the template could not be parsed. Issues then come
	// from a textual check of the template alone.
	Err error
}

// Options bound the analysis. The zero value uses the defaults.
type Options struct {
	// MaxNesting caps expression nesting. Default 200.
	MaxNesting int
}

// Analyze parses a Jinja2 template and reports constructs that reach Python
// internals: dunder and private attribute access however the name is
// spelled (attribute syntax, subscription, the attr filter, map/selectattr
// attribute arguments, str.format fields), names of modules and builtins
// that run code, and loads of other templates. String expressions are
// folded (concatenation, join, format, replace, case and reverse filters,
// slices, variables set to constants, loops over constant lists) before
// names are judged, so a name split into pieces is judged whole.
func Analyze(src string, opts Options) Result {
	if opts.MaxNesting <= 0 {
		opts.MaxNesting = 200
	}
	tags, err := lexTemplate(src)
	if err != nil {
		return Result{Issues: textualIssues(src), Err: err}
	}
	a := &analyzer{env: map[string]val{}, maxDepth: opts.MaxNesting, seen: map[string]bool{}}
	// Two passes: the first learns what variables may hold, the second
	// judges with that knowledge (a value set later in the text may be used
	// earlier, inside a loop or a macro).
	for pass := 0; pass < 2; pass++ {
		a.report = pass == 1
		for _, t := range tags {
			if err := a.tag(t); err != nil {
				return Result{Issues: append(a.issues, textualIssues(src)...), Err: err}
			}
		}
	}
	return Result{Issues: a.issues}
}

// dunderRE finds Python special names in raw text.
var dunderRE = regexp.MustCompile(`__[A-Za-z][A-Za-z0-9_]*__`)

// codeWordRE finds the names of code-running modules and builtins in raw
// text.
var codeWordRE = regexp.MustCompile(`\b(os|popen|subprocess|eval|exec|import_module|importlib|__import__|builtins|getattr)\b`)

// textualIssues is the fallback check for a template that does not parse:
// Jinja would refuse it too, unless it uses syntax this parser lacks, so
// special names anywhere in it are judged as if used.
func textualIssues(src string) []Issue {
	var out []Issue
	seen := map[string]bool{}
	for _, loc := range dunderRE.FindAllStringIndex(src, -1) {
		name := src[loc[0]:loc[1]]
		if !seen[name] {
			seen[name] = true
			out = append(out, Issue{Severity: scan.SeverityCritical, Pos: loc[0], Symbol: name,
				Message: fmt.Sprintf("template that could not be parsed names Python internal %s", name)})
		}
	}
	// Code words count only inside tags: prose in the output text may
	// mention them.
	for _, m := range regexp.MustCompile(`\{[{%][\s\S]*?[%}]\}`).FindAllStringIndex(src, -1) {
		body := src[m[0]:m[1]]
		for _, loc := range codeWordRE.FindAllStringIndex(body, -1) {
			name := body[loc[0]:loc[1]]
			if !seen[name] {
				seen[name] = true
				out = append(out, Issue{Severity: scan.SeverityCritical, Pos: m[0] + loc[0], Symbol: name,
					Message: fmt.Sprintf("template that could not be parsed uses %s", name)})
			}
		}
	}
	return out
}

// dangerousNames are globals that, if a template can reach them, run code.
var dangerousNames = map[string]bool{
	"os": true, "sys": true, "subprocess": true, "popen": true, "eval": true, "exec": true,
	"execfile": true, "compile": true, "__import__": true, "importlib": true, "import_module": true,
	"builtins": true, "__builtins__": true, "globals": true, "locals": true, "getattr": true,
	"setattr": true, "delattr": true, "breakpoint": true, "posix": true, "pty": true, "socket": true,
	"shutil": true, "ctypes": true, "pickle": true, "marshal": true, "commands": true,
}

// dangerousAttrs are attribute names that lead to code, frames or the OS.
// Words that chat templates use as ordinary dictionary keys ("system",
// "open") are left out: reaching os.system needs a dunder or an os name
// first, and those are reported.
var dangerousAttrs = map[string]bool{
	"os": true, "sys": true, "subprocess": true, "popen": true, "Popen": true,
	"eval": true, "exec": true, "execfile": true, "compile": true, "import_module": true,
	"builtins": true, "check_output": true, "check_call": true, "getoutput": true,
	"getstatusoutput": true, "load_module": true, "func_globals": true, "func_code": true,
	"gi_frame": true, "gi_code": true, "f_globals": true, "f_locals": true, "f_back": true,
	"f_builtins": true, "cr_frame": true, "ag_frame": true, "tb_frame": true, "co_code": true,
	"mro": true, "im_func": true, "im_class": true, "environ": true, "getenv": true, "putenv": true,
	"fork": true, "forkpty": true, "startfile": true, "spawnl": true, "spawnv": true, "spawnlp": true,
	"spawnvp": true, "execl": true, "execv": true, "execlp": true, "execvp": true, "execve": true,
}

// globalFuncs are the functions Jinja and chat-template renderers provide.
var globalFuncs = map[string]bool{
	"range": true, "dict": true, "lipsum": true, "cycler": true, "joiner": true, "namespace": true,
	"raise_exception": true, "strftime_now": true,
}

type analyzer struct {
	env      map[string]val
	report   bool
	issues   []Issue
	seen     map[string]bool
	depth    int
	maxDepth int
}

func (a *analyzer) add(sev scan.Severity, include bool, pos int, symbol, msg string) {
	if !a.report {
		return
	}
	key := fmt.Sprintf("%d|%s|%s", sev, symbol, msg)
	if a.seen[key] {
		return
	}
	a.seen[key] = true
	a.issues = append(a.issues, Issue{Severity: sev, Include: include, Pos: pos, Symbol: symbol, Message: msg})
}

// checkName judges one attribute name (or getitem key, which Jinja falls
// back to getattr for).
func (a *analyzer) checkName(name string, pos int, how string) {
	switch {
	case len(name) > 4 && strings.HasPrefix(name, "__") && strings.HasSuffix(name, "__"):
		a.add(scan.SeverityCritical, false, pos, name, fmt.Sprintf("%s reaches Python internal %s", how, name))
	case strings.HasPrefix(name, "_") && strings.Contains(name, "__"):
		a.add(scan.SeverityCritical, false, pos, name, fmt.Sprintf("%s reaches private name-mangled attribute %s", how, name))
	case strings.HasPrefix(name, "_"):
		a.add(scan.SeverityHigh, false, pos, name, fmt.Sprintf("%s reaches private attribute %s", how, name))
	case dangerousAttrs[name]:
		a.add(scan.SeverityCritical, false, pos, name, fmt.Sprintf("%s reaches %s, which runs code or touches the system", how, name))
	}
}

// suspicious reports whether a known piece of a run-time string looks like
// the start of a special name.
func suspicious(frag string) bool {
	return strings.Contains(frag, "__") || strings.HasPrefix(frag, "_") || dunderRE.MatchString(frag)
}

// checkDynamic judges an attribute name given as a value (attr filter,
// attribute= arguments): known names are checked; a name that cannot be
// known is itself a finding.
func (a *analyzer) checkDynamic(v val, pos int, how string) {
	if s, ok := v.asStrs(); ok {
		for _, x := range s {
			a.checkName(x, pos, how)
		}
		return
	}
	for _, f := range v.fragments() {
		if suspicious(f) {
			a.add(scan.SeverityCritical, false, pos, f, fmt.Sprintf("%s with a name built at run time from %q", how, f))
			return
		}
	}
	a.add(scan.SeverityHigh, false, pos, "", how+" with a name that cannot be determined statically")
}

// checkPath judges a dotted attribute path (selectattr, map(attribute=)).
func (a *analyzer) checkPath(v val, pos int, how string) {
	if s, ok := v.asStrs(); ok {
		for _, x := range s {
			for _, part := range strings.Split(x, ".") {
				a.checkName(part, pos, how)
			}
		}
		return
	}
	a.checkDynamic(v, pos, how)
}

// noteBuilt flags a string built at run time that spells a special name,
// even before it is used.
func (a *analyzer) noteBuilt(v val, pos int) val {
	if !v.built {
		return v
	}
	for _, s := range v.fragments() {
		if m := dunderRE.FindString(s); m != "" {
			a.add(scan.SeverityHigh, false, pos, m, fmt.Sprintf("string built at run time spells Python internal %s", m))
		}
	}
	return v
}

func (a *analyzer) bind(name string, v val) {
	if old, ok := a.env[name]; ok {
		v = union(old, v)
	}
	a.env[name] = v
}

// parseError aborts a tag's parse.
type parseError struct{ err error }

func (a *analyzer) tag(t tag) (err error) {
	defer func() {
		if r := recover(); r != nil {
			pe, ok := r.(parseError)
			if !ok {
				panic(r)
			}
			err = pe.err
		}
	}()
	p := &parser{a: a, toks: t.toks}
	switch t.kind {
	case tagVar:
		p.parseTuple(true)
		p.expectEOF()
	case tagBlock:
		p.statement()
	}
	return nil
}
