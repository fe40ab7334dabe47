package pickle

import (
	"crypto/sha256"
	_ "embed" // the generated allowlist
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
)

// allowlistTSV is the list of classes, rebuild helpers and methods that
// scripts/gen-allowlist.py derives from the libraries themselves: each name
// is listed where it is defined, never where it is merely imported.
//
//go:embed allowlist.tsv
var allowlistTSV string

// entry is one line of allowlist.tsv.
type entry struct {
	kind, module, name, library, version, reason string
}

// parseAllowlist reads the tab-separated list: kind, module, name, library,
// version, reason; lines starting with # are comments. That no entry is
// critical is checked by a test (TestAllowlistHasNoCriticalEntry) rather
// than at every start: classify judges critical names before it looks at the
// allowlist, so such an entry could never allow anything.
func parseAllowlist(text string) ([]entry, error) {
	var out []entry
	for i, line := range strings.Split(text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 6 {
			return nil, fmt.Errorf("allowlist line %d: %d fields, want 6", i+1, len(f))
		}
		e := entry{kind: f[0], module: f[1], name: f[2], library: f[3], version: f[4], reason: f[5]}
		switch e.kind {
		case "class", "function":
			if !isIdentifierPath(e.module) || !isIdentifierPath(e.name) || strings.Contains(e.name, ".") {
				return nil, fmt.Errorf("allowlist line %d: %q is not a module and a name", i+1, e.module+"."+e.name)
			}
		case "method":
			if !isIdentifierPath(e.module) || !isIdentifierPath(e.name) || strings.Count(e.name, ".") != 1 ||
				strings.HasPrefix(e.name[strings.IndexByte(e.name, '.')+1:], "__") {
				return nil, fmt.Errorf("allowlist line %d: %q is not a Class.method", i+1, e.name)
			}
		default:
			return nil, fmt.Errorf("allowlist line %d: unknown kind %q", i+1, e.kind)
		}
		out = append(out, e)
	}
	return out, nil
}

func mustParseAllowlist(text string) []entry {
	e, err := parseAllowlist(text)
	if err != nil {
		panic("pickle: embedded " + err.Error()) // a build defect, caught by every test
	}
	return e
}

// listsHash is the content hash of every built-in list, in a canonical form.
func listsHash() string {
	h := sha256.New()
	h.Write([]byte(allowlistTSV))
	for _, g := range allowGroups {
		fmt.Fprintf(h, "allow\x00%s\x00%s\x00%s\n", g.module, strings.Join(g.names, ","), g.reason)
	}
	fmt.Fprintf(h, "ufuncs\x00%s\n", strings.Join(numpyUfuncs, ","))
	fmt.Fprintf(h, "modules\x00%s\n", strings.Join(criticalModules, ","))
	for _, set := range []map[string]bool{criticalNames, nestedLoaders, dangerousAttrs, plainLoaders, lookupEvals} {
		keys := make([]string, 0, len(set))
		for k := range set {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprintf(h, "set\x00%s\n", strings.Join(keys, ","))
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))[:16]
}
