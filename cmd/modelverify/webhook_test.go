package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelverify/modelverify/internal/testutil/kube"
)

func TestWebhookCommandConfigurationErrors(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(good, []byte(kube.PolicyYAML("registry.test", "enforce", kube.NewSigner(t, dir, "k").PubPath)), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte(kube.PolicyYAML("registry.test", "enforce", filepath.Join(dir, "missing.pub"))), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, key := kube.NewCA(t).ServingFiles(t, dir, "w")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"the policy is required", []string{"--tls-cert", cert, "--tls-key", key}, "--policy"},
		{"a key pair is required", []string{"--policy", good}, "--tls-cert"},
		{"a policy whose key is missing does not start", []string{"--policy", bad, "--tls-cert", cert, "--tls-key", key}, "missing.pub"},
		{"a certificate that does not load does not start", []string{"--policy", good, "--tls-cert", good, "--tls-key", key}, "TLS key pair"},
		{"arguments are refused", []string{"--policy", good, "--tls-cert", cert, "--tls-key", key, "extra"}, "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errOut, code := runCLI(t, append([]string{"webhook", "--addr", "127.0.0.1:0"}, tt.args...)...)
			if code != exitUsage || !strings.Contains(errOut, tt.want) {
				t.Fatalf("exit %d, stderr %q; want 3 mentioning %q", code, errOut, tt.want)
			}
		})
	}
}
