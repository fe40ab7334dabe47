// Package arch keeps the package graph as designed: for each package of the
// module, which of the module's packages it may import (outside its tests).
// A new package needs a line here, which is where its place in the design
// is decided; docs/architecture.md draws the same graph.
package arch

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/modelverify/modelverify/"

// allowed maps a package pattern to the module packages it may import.
// "X/..." matches X and everything below it. The first matching pattern
// decides, so specific entries come before general ones.
var allowed = []struct {
	pkg     string
	imports []string
}{
	// The CLI and the project's own build tools sit on top.
	{"cmd/...", []string{"pkg/...", "internal/version"}},
	{"tools/image/...", []string{"tools/image", "pkg/manifest", "pkg/sign", "internal/version"}},
	// Admission: the policy core knows nothing of registries or
	// signatures; its OCI adapter brings them.
	{"pkg/admission/oci", []string{"pkg/admission", "pkg/manifest", "pkg/sign", "pkg/scan/attest"}},
	{"pkg/admission", []string{"pkg/scan", "pkg/scan/attest"}},
	// Signing knows OCI storage but no scanner: attestations are statements
	// of any predicate type.
	{"pkg/sign", []string{"pkg/manifest", "pkg/sign/kms", "pkg/sign/pkcs11"}},
	// A PKCS#11 token's key is a crypto.Signer; the package knows nothing
	// of signing formats.
	{"pkg/sign/pkcs11", nil},
	// So is a key in a cloud KMS or Vault (sigstore's KMS clients).
	{"pkg/sign/kms", nil},
	// OCI storage knows neither signing nor scanning.
	{"pkg/manifest", []string{"internal/version"}},
	// The scanner: formats import the core and the formats they nest;
	// only the remote scanner reaches OCI storage; nothing in it signs.
	{"pkg/scan/remote", []string{"pkg/scan", "pkg/manifest"}},
	{"pkg/scan/all", []string{"pkg/scan/..."}},
	{"pkg/scan/attest", []string{"pkg/scan"}},
	{"pkg/scan/...", []string{"pkg/scan/..."}},
	// Test helpers start real servers and publish real models.
	{"internal/testutil/...", []string{"internal/testutil/...", "pkg/...", "internal/version"}},
	{"internal/testsummary", nil},
	{"internal/version", nil},
	{"test/...", []string{"internal/testutil/...", "pkg/...", "internal/version"}},
	// Folders that hold only tests (of benchmarks and deployment files).
	{"bench", nil},
	{"deploy", nil},
}

func matches(pattern, pkg string) bool {
	if p, ok := strings.CutSuffix(pattern, "/..."); ok {
		return pkg == p || strings.HasPrefix(pkg, p+"/")
	}
	return pattern == pkg
}

// violations lists the edges of graph (package -> module imports, both
// relative to the module) that the table does not allow, and the packages
// it does not know.
func violations(graph map[string][]string) []string {
	var bad []string
	for pkg, imps := range graph {
		rule := -1
		for i, a := range allowed {
			if matches(a.pkg, pkg) {
				rule = i
				break
			}
		}
		if rule < 0 {
			bad = append(bad, pkg+": not in the package graph (add it to test/arch)")
			continue
		}
		for _, imp := range imps {
			ok := false
			for _, pat := range allowed[rule].imports {
				if matches(pat, imp) {
					ok = true
					break
				}
			}
			if !ok {
				bad = append(bad, pkg+" imports "+imp)
			}
		}
	}
	return bad
}

// moduleGraph lists each package's imports of module packages, without
// test files, as go list sees them.
func moduleGraph(t *testing.T) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", module+"...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	graph := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], module)
		graph[pkg] = nil
		for _, imp := range fields[1:] {
			if rel, ok := strings.CutPrefix(imp, module); ok {
				graph[pkg] = append(graph[pkg], rel)
			}
		}
	}
	return graph
}

func TestPackageGraph(t *testing.T) {
	graph := moduleGraph(t)
	if len(graph) < 20 || graph["pkg/scan/all"] == nil {
		t.Fatalf("go list found %d packages; the graph is not the module's", len(graph))
	}
	for _, v := range violations(graph) {
		t.Error(v)
	}
}

// The table refuses what the design forbids.
func TestPackageGraphRefusesForbiddenEdges(t *testing.T) {
	for _, edge := range [][2]string{
		{"pkg/scan/pickle", "pkg/sign"},
		{"pkg/scan/torch", "pkg/admission"},
		{"pkg/scan/pickle", "pkg/manifest"},
		{"pkg/manifest", "pkg/sign"},
		{"pkg/manifest", "pkg/scan"},
		{"pkg/sign", "pkg/scan"},
		{"pkg/sign", "pkg/scan/attest"},
		{"pkg/admission", "pkg/sign"},
		{"pkg/scan", "cmd/modelverify"},
		{"pkg/sign", "internal/testutil/registry"},
		{"pkg/manifest", "tools/image"},
	} {
		if v := violations(map[string][]string{edge[0]: {edge[1]}}); len(v) != 1 {
			t.Errorf("%s -> %s: violations %v, want one", edge[0], edge[1], v)
		}
	}
	if v := violations(map[string][]string{"pkg/newthing": nil}); len(v) != 1 {
		t.Errorf("an unknown package passed: %v", v)
	}
	if v := violations(map[string][]string{"pkg/scan/safetensors": {"pkg/scan"}}); len(v) != 0 {
		t.Errorf("an allowed edge was refused: %v", v)
	}
}
