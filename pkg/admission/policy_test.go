package admission

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParsePolicyExample(t *testing.T) {
	doc, err := LoadPolicy("testdata/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if doc.Metadata.Name != "prod" || !doc.enforce() || !doc.denyNoMatch() || !doc.requireDigest() {
		t.Fatalf("unexpected spec: %+v", doc.Spec)
	}
	r := doc.Spec.Rules[0]
	if len(r.Authorities) != 2 || r.Authorities[0].Key.Path != "/etc/modelverify/release.pub" ||
		r.Authorities[1].Keyless.Identities[0].SubjectRegExp != "^https://github.com/acme/" ||
		!r.Scan.Required || r.Scan.MaxSeverity != "medium" {
		t.Fatalf("unexpected rule: %+v", r)
	}
	if err := doc.validate(); err != nil {
		t.Fatal(err)
	}
}

func TestParsePolicyResolvesRelativePaths(t *testing.T) {
	dir := t.TempDir()
	text := strings.Replace(testPolicy("enforce", ""), `{data: "unused"}`, `{path: keys/release.pub}`, 1)
	name := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(name, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	doc, err := LoadPolicy(name)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := doc.Spec.Rules[2].Authorities[0].Key.Path, filepath.Join(dir, "keys/release.pub"); got != want {
		t.Errorf("key path %q, want %q", got, want)
	}
}

// A key may be named by a KMS URI; it is no file to watch, and the policy
// core passes it to the authority compiler untouched.
func TestParsePolicyKMSKey(t *testing.T) {
	text := strings.Replace(testPolicy("enforce", ""), `{data: "unused"}`, `{kms: "awskms:///alias/release"}`, 1)
	doc, err := ParsePolicy(strings.NewReader(text), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	k := doc.Spec.Rules[2].Authorities[0].Key
	if k.KMS != "awskms:///alias/release" || k.Path != "" || k.Data != "" {
		t.Errorf("key %+v", k)
	}
	if err := doc.validate(); err != nil {
		t.Error(err)
	}
	if files := doc.Files(); len(files) != 0 {
		t.Errorf("files to watch: %q", files)
	}
}

func TestPolicyErrors(t *testing.T) {
	base := testPolicy("enforce", "")
	tests := []struct {
		name, yaml, want string
	}{
		{"a misspelt field is refused", strings.Replace(base, "noMatch", "nomatch", 1), "nomatch"},
		{"a wrong kind is refused", strings.Replace(base, "ModelPolicy", "Policy", 1), "kind"},
		{"an unknown mode is refused", strings.Replace(base, "mode: enforce", "mode: audit", 1), "spec.mode"},
		{"an unknown noMatch is refused", strings.Replace(base, "noMatch: deny", "noMatch: maybe", 1), "noMatch"},
		{"a verify rule without authorities is refused", strings.Replace(base, "      authorities:\n        - {name: release, key: {data: \"unused\"}}\n        - {name: ci, key: {data: \"unused\"}}\n", "", 1), "at least one authority"},
		{"an authority with two kinds of trust is refused", strings.Replace(base, `{name: ci, key: {data: "unused"}}`, `{name: ci, key: {data: "x"}, keyless: {trustedRoot: r.json, identities: [{issuer: i, subject: s}]}}`, 1), "exactly one of key"},
		{"a key with a path and a KMS URI is refused", strings.Replace(base, `{name: ci, key: {data: "unused"}}`, `{name: ci, key: {path: k.pub, kms: "awskms:///alias/ci"}}`, 1), "key: set exactly one of path, data, kms, pkcs11"},
		{"a key with a KMS and a PKCS#11 URI is refused", strings.Replace(base, `{name: ci, key: {data: "unused"}}`, `{name: ci, key: {kms: "awskms:///alias/ci", pkcs11: "pkcs11:token=t"}}`, 1), "key: set exactly one of path, data, kms, pkcs11"},
		{"a PKCS#11 key that is not a pkcs11: URI is refused", strings.Replace(base, `{name: ci, key: {data: "unused"}}`, `{name: ci, key: {pkcs11: "token=t;object=k"}}`, 1), "not a pkcs11: URI"},
		{"a KMS key that is not a URI is refused", strings.Replace(base, `{name: ci, key: {data: "unused"}}`, `{name: ci, key: {kms: "alias/ci"}}`, 1), "not a KMS key URI"},
		{"a key with nothing is refused", strings.Replace(base, `{name: ci, key: {data: "unused"}}`, `{name: ci, key: {}}`, 1), "key: set exactly one of path, data, kms, pkcs11"},
		{"certificate roots from a KMS are refused", strings.Replace(base, `{name: ci, key: {data: "unused"}}`, `{name: ci, certificate: {roots: {kms: "awskms:///alias/ci"}}}`, 1), "kms"},
		{"duplicate authorities are refused", strings.Replace(base, "name: ci,", "name: release,", 1), "duplicate authority"},
		{"a bad severity is refused", strings.Replace(base, "maxSeverity: medium", "maxSeverity: severe", 1), "maxSeverity"},
		{"a keyless identity needs an issuer", strings.Replace(base, `{name: ci, key: {data: "unused"}}`, `{name: ci, keyless: {trustedRoot: r.json, identities: [{subject: s}]}}`, 1), "issuer"},
		{"a bad subject regexp is refused", strings.Replace(base, `{name: ci, key: {data: "unused"}}`, `{name: ci, keyless: {trustedRoot: r.json, identities: [{issuer: i, subjectRegExp: "("}]}}`, 1), "identities[0]"},
		{"a cache TTL above the bound is refused", testPolicy("enforce", "  cache: {ttl: 2h}"), "spec.cache.ttl"},
		{"an allow rule with authorities is refused", strings.Replace(base, "action: allow", "action: allow\n      authorities: [{name: a, key: {data: x}}]", 1), "takes no authorities"},
		{"two documents are refused", base + "---\n" + base, "more than one"},
		{"an empty file is refused", "", "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld()
			doc, err := ParsePolicy(strings.NewReader(tt.yaml), "")
			if err == nil {
				_, err = Compile(doc, Options{Resolver: w, Authorities: w.compiler()})
			}
			if !errors.Is(err, ErrPolicy) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want ErrPolicy mentioning %q", err, tt.want)
			}
		})
	}
}

func FuzzParsePolicy(f *testing.F) {
	seed, err := os.ReadFile("testdata/policy.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(seed))
	f.Add(testPolicy("warn", "  cache: {ttl: 1m, size: 10}"))
	f.Fuzz(func(t *testing.T, s string) {
		doc, err := ParsePolicy(strings.NewReader(s), "")
		if err != nil {
			return
		}
		w := newWorld()
		p, err := Compile(doc, Options{Resolver: w, Authorities: w.compiler()})
		if err != nil {
			return
		}
		p.match(Reference{Registry: "registry.test", Repository: "models/x", Tag: "v1"})
	})
}
