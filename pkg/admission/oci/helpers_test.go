package oci_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/modelverify/modelverify/pkg/admission"
	"github.com/modelverify/modelverify/pkg/admission/oci"
	"github.com/modelverify/modelverify/pkg/manifest"
)

func writePolicy(t testing.TB, dir, text string) string {
	t.Helper()
	path := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func compile(t testing.TB, policyFile string, opts admission.Options) *admission.Policy {
	t.Helper()
	doc, err := admission.LoadPolicy(policyFile)
	if err != nil {
		t.Fatal(err)
	}
	p, err := oci.New(oci.Options{Registry: manifest.RegistryOptions{PlainHTTP: true}}).Compile(doc, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
