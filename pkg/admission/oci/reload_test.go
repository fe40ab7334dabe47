package oci_test

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/modelverify/modelverify/internal/testutil/kube"
	"github.com/modelverify/modelverify/internal/testutil/registry"
)

func TestRotatedKeyReloadsThePolicy(t *testing.T) {
	host := registry.NewInProcess(t, true)
	dir := t.TempDir()
	oldKey, newKey := kube.NewSigner(t, dir, "old"), kube.NewSigner(t, dir, "new")
	d := kube.Publish(t, host, "models/m", "v1", kube.Model{Files: map[string][]byte{"m.pkl": kube.BenignPickle}, SignedBy: oldKey, ScanBy: oldKey})
	trusted := filepath.Join(dir, "trusted.pub")
	copyFile(t, oldKey.PubPath, trusted)
	policyFile := writePolicy(t, dir, kube.PolicyYAML(host, "enforce", trusted))
	ca := kube.NewCA(t)
	cert, key := ca.ServingFiles(t, dir, "w")
	wh := startWebhook(t, policyFile, cert, key)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: ca.ClientTLS()}, Timeout: 10 * time.Second}

	allowed := func() bool { return podAllowed(t, client, wh.addr, host+"/models/m@"+d) }
	if !allowed() {
		t.Fatal("a model signed by the trusted key was denied")
	}
	// Rotating the key file (not the policy file) reloads the policy, and
	// the cached decision goes with the old policy.
	copyFile(t, newKey.PubPath, trusted)
	deadline := time.Now().Add(10 * time.Second)
	for allowed() {
		if time.Now().After(deadline) {
			t.Fatal("still admitted after the trusted key was replaced")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to+".tmp", b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(to+".tmp", to); err != nil {
		t.Fatal(err)
	}
}
