// Package coderef resolves and reports the references from a model's config
// to Python modules shipped in the model's folder: Hugging Face auto_map and
// friends (package hfcode) and Keras module and registered_name fields
// (package keras). A reference names a module; the module's candidate files
// are looked up in the folder that holds the config, and each reference is
// an MV-REMOTE-CODE finding that names the config key and the file, info
// instead of high when the policy's allowCode lists the file as reviewed.
// What the code itself does is judged where the .py file is scanned.
package coderef

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/modelverify/modelverify/pkg/scan"
)

// Ref is one reference from a config to code.
type Ref struct {
	Key    string   // where in the config, e.g. "auto_map.AutoModel"
	Target string   // what it names, e.g. "modeling_x.XModel"
	Files  []string // candidate files in the folder, in the loader's order
	Remote string   // a hub repository the code comes from ("org/name"), if named
	Bad    string   // why the reference names no file of the folder
}

// Module is the reference at key to target, whose Python module is mod
// ("a.b" for a/b.py), looked up in the subfolder sub first when sub is not
// "" (a diffusers component, a sentence-transformers module path).
func Module(key, target, mod, sub string) Ref {
	r := Ref{Key: key, Target: target}
	if !ValidModule(mod) {
		r.Bad = fmt.Sprintf("%q is not a Python module name", mod)
		return r
	}
	r.Files = moduleFiles(mod, sub)
	return r
}

// SplitClass splits "a.b.Class" into "a.b" and "Class".
func SplitClass(s string) (string, string) {
	i := strings.LastIndexByte(s, '.')
	if i < 0 {
		return s, ""
	}
	return s[:i], s[i+1:]
}

// ValidModule reports whether mod is a dotted Python module name, with no
// empty part (so no relative or absolute path).
func ValidModule(mod string) bool {
	if mod == "" {
		return false
	}
	for _, part := range strings.Split(mod, ".") {
		if part == "" {
			return false
		}
		for i, c := range part {
			if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9' || c > 0x7f) {
				return false
			}
		}
	}
	return true
}

// moduleFiles lists where a module's file may be: in the subfolder first,
// then at the root.
func moduleFiles(mod, sub string) []string {
	rel := strings.ReplaceAll(mod, ".", "/") + ".py"
	var out []string
	if sub != "" && !strings.Contains(sub, "..") && !path.IsAbs(sub) {
		out = append(out, path.Join(sub, rel))
	}
	return append(out, rel)
}

// Linker reports references the way one loader runs them.
type Linker struct {
	// Runs completes "<file> runs ..." and says when the code runs, e.g.
	// "when the model is loaded with remote code enabled".
	Runs string
	// PresentOnly reports only references whose file is in the folder, for
	// loaders that otherwise import an installed module (which the config
	// format reports on its own) rather than fetch the code.
	PresentOnly bool
}

// Report reports refs on s under member, resolving files in dir, the
// folder that holds the config on disk ("" inside archives and OCI layers,
// where a reference is judged by its text alone).
func (l Linker) Report(s *scan.Session, member, dir string, refs []Ref) {
	seen := map[string]bool{}
	for _, r := range refs {
		msg, sym, present := l.describe(r, dir)
		if l.PresentOnly && !present || seen[r.Key+"\x00"+msg] {
			continue
		}
		seen[r.Key+"\x00"+msg] = true
		sev := scan.SeverityHigh
		if present && allowed(s, dir, sym) {
			sev = scan.SeverityInfo
			msg += "; allowed by the policy's allowCode as reviewed"
		}
		s.Report(scan.Finding{RuleID: scan.RuleRemoteCode, Severity: sev, Member: member, Offset: -1, Symbol: sym, Message: msg})
	}
}

// describe says what a reference makes the loader run, and which file;
// present is true when that file is in dir.
func (l Linker) describe(r Ref, dir string) (msg, symbol string, present bool) {
	head := fmt.Sprintf("%s names %q: ", r.Key, r.Target)
	if r.Bad == "" && len(r.Files) == 0 {
		r.Bad = "it names no module"
	}
	switch {
	case r.Bad != "":
		return head + r.Bad + ", so the loader runs code no scan can see", r.Target, false
	case r.Remote != "":
		return head + fmt.Sprintf("%s comes from the repository %s, fetched %s; no scan of this folder saw it", r.Files[len(r.Files)-1], r.Remote, l.Runs), r.Files[len(r.Files)-1], false
	case dir == "":
		return head + fmt.Sprintf("%s runs %s", strings.Join(r.Files, " or "), l.Runs), r.Files[len(r.Files)-1], false
	}
	for _, f := range r.Files {
		if fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(f))); err == nil && fi.Mode().IsRegular() {
			return head + fmt.Sprintf("%s runs %s", f, l.Runs), f, true
		}
	}
	return head + fmt.Sprintf("%s is not in the folder: the loader fetches or imports it at load time, where no scan saw it", strings.Join(r.Files, " or ")), r.Files[len(r.Files)-1], false
}

// allowed reports whether the policy allows the referenced file (relative to
// dir, the folder of the scan's target) as reviewed code, by its path and
// digest.
func allowed(s *scan.Session, dir, rel string) bool {
	p := s.Policy()
	if p == nil || len(p.AllowCode) == 0 {
		return false
	}
	f, err := os.Open(filepath.Join(dir, filepath.FromSlash(rel)))
	if err != nil {
		return false
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, io.LimitReader(f, maxCodeBytes+1)); err != nil {
		return false
	}
	return p.AllowsCode(path.Join(path.Dir(filepath.ToSlash(s.TargetPath())), rel), "sha256:"+hex.EncodeToString(h.Sum(nil)))
}

// maxCodeBytes bounds how much of a referenced file is hashed: the Python
// format does not read larger sources either.
const maxCodeBytes = 16 << 20
