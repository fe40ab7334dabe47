package scan

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// Policy adds a user's own decisions to the built-in lists. Entries name a
// global as "module.name" (for example "mypkg.models.Net"), or every global of
// a module and its submodules as "module.*".
//
// The file form is YAML:
//
//	apiVersion: modelverify.dev/v1alpha1
//	kind: ScanPolicy
//	allow: ["mypkg.models.Net", "mypkg.layers.*"]
//	deny: ["torch.hub.*"]
//	allowCode:
//	  - {path: modeling_x.py, digest: "sha256:..."}
//
// Deny wins over allow, and the built-in critical list wins over allow: a
// policy cannot make os.system clean. AllowCode names reviewed code files
// by path and sha256: the finding that the file is code, and config
// references to it, become info; dangerous uses inside it stay critical.
type Policy struct {
	APIVersion string      `yaml:"apiVersion"`
	Kind       string      `yaml:"kind"`
	Allow      []string    `yaml:"allow"`
	Deny       []string    `yaml:"deny"`
	AllowCode  []CodeEntry `yaml:"allowCode"`
}

// CodeEntry is a reviewed code file: Path is matched against the end of the
// file's reported path at a "/" boundary ("modeling_x.py" matches
// "models/bert/modeling_x.py"), Digest is "sha256:" and 64 hex digits of
// its content. Both must match.
type CodeEntry struct {
	Path   string `yaml:"path"`
	Digest string `yaml:"digest"`
}

// LoadPolicy reads a policy file. Unknown fields are errors, so that a typo
// does not silently weaken a policy.
func LoadPolicy(path string) (*Policy, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read policy: %w", err)
	}
	return ParsePolicy(b)
}

// ParsePolicy parses a policy document.
func ParsePolicy(b []byte) (*Policy, error) {
	var p Policy
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("parse policy: %w", err)
	}
	if p.Kind != "" && p.Kind != "ScanPolicy" {
		return nil, fmt.Errorf("parse policy: kind %q, want ScanPolicy", p.Kind)
	}
	for _, e := range append(append([]string{}, p.Allow...), p.Deny...) {
		if e == "" || strings.ContainsAny(e, " \t\n") || strings.HasPrefix(e, ".") || strings.HasSuffix(e, ".") {
			return nil, fmt.Errorf("parse policy: bad entry %q: want module.name or module.*", e)
		}
	}
	for _, c := range p.AllowCode {
		hexPart, ok := strings.CutPrefix(c.Digest, "sha256:")
		if c.Path == "" || strings.HasPrefix(c.Path, "/") || !ok || len(hexPart) != 64 || strings.Trim(hexPart, "0123456789abcdef") != "" {
			return nil, fmt.Errorf("parse policy: bad allowCode entry {path: %q, digest: %q}: want a relative path and sha256:<64 lowercase hex digits>", c.Path, c.Digest)
		}
	}
	return &p, nil
}

// AllowsCode reports whether the policy allows the code file at path with
// the given digest ("sha256:...").
func (p *Policy) AllowsCode(path, digest string) bool {
	if p == nil {
		return false
	}
	path = strings.ReplaceAll(path, "\\", "/")
	for _, c := range p.AllowCode {
		if c.Digest == digest && (path == c.Path || strings.HasSuffix(path, "/"+strings.TrimPrefix(c.Path, "./"))) {
			return true
		}
	}
	return false
}

// Match reports whether a module/name pair matches one policy entry.
func matchEntry(entry, module, name string) bool {
	if prefix, ok := strings.CutSuffix(entry, ".*"); ok {
		return module == prefix || strings.HasPrefix(module, prefix+".")
	}
	return entry == module+"."+name
}

// Allows reports whether the policy allows module.name.
func (p *Policy) Allows(module, name string) bool {
	if p == nil {
		return false
	}
	for _, e := range p.Allow {
		if matchEntry(e, module, name) {
			return true
		}
	}
	return false
}

// Denies reports whether the policy denies module.name.
func (p *Policy) Denies(module, name string) bool {
	if p == nil {
		return false
	}
	for _, e := range p.Deny {
		if matchEntry(e, module, name) {
			return true
		}
	}
	return false
}
