package main

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/modelverify/modelverify/internal/testutil/registry"
	"github.com/modelverify/modelverify/pkg/manifest"
)

func TestScanAttestThenRequireScan(t *testing.T) {
	t.Setenv(passwordEnv, "")
	keys := filepath.Join(t.TempDir(), "k")
	expectExit(t, 0, "keygen", "--output-key-prefix", keys)
	other := filepath.Join(t.TempDir(), "o")
	expectExit(t, 0, "keygen", "--output-key-prefix", other)

	t.Run("folder", func(t *testing.T) {
		dir := modelDir(t)
		expectExit(t, 0, "sign", "--key", keys+".key", dir)
		expectExit(t, 0, "scan", "--quiet", "--attest", "--key", keys+".key", dir)
		expectExit(t, 0, "verify", "--key", keys+".pub", "--require-scan", dir)
		expectExit(t, 0, "verify", "--key", keys+".pub", "--require-scan=low", dir)
		expectExit(t, 3, "scan", "--quiet", "--attest", dir) // no trust mode
		expectExit(t, 3, "scan", "--quiet", "--attest", "--key", keys+".key", dir, dir)
	})
	t.Run("registry", func(t *testing.T) {
		ref := "oci://" + registry.NewInProcess(t, false) + "/models/bert:v1"
		pr, _ := manifest.ParseRef(ref)
		target, err := manifest.Open(context.Background(), pr, manifest.RegistryOptions{PlainHTTP: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := manifest.Push(context.Background(), modelDir(t), target, pr, manifest.PushOptions{}); err != nil {
			t.Fatal(err)
		}
		expectExit(t, 0, "sign", "--key", keys+".key", "--plain-http", ref)
		expectExit(t, 1, "verify", "--key", keys+".pub", "--plain-http", "--require-scan", ref)
		expectExit(t, 0, "scan", "--quiet", "--attest", "--key", other+".key", "--plain-http", ref)
		// Attested by a key that the verifier does not trust.
		expectExit(t, 1, "verify", "--key", keys+".pub", "--plain-http", "--require-scan", ref)
		expectExit(t, 0, "scan", "--quiet", "--attest", "--key", keys+".key", "--plain-http", ref)
		expectExit(t, 0, "verify", "--key", keys+".pub", "--plain-http", "--require-scan", ref)
	})
}

func TestScanAttestFollowsTheSignedFileSet(t *testing.T) {
	t.Setenv(passwordEnv, "")
	keys := filepath.Join(t.TempDir(), "k")
	expectExit(t, 0, "keygen", "--output-key-prefix", keys)
	dir := modelDir(t)
	// Signed without tok/ and with shards: the attestation must be about
	// the same root digest.
	expectExit(t, 0, "sign", "--key", keys+".key", "--ignore-paths", "tok", "--method", "shards", "--shard-size", "1000", dir)
	expectExit(t, 0, "scan", "--quiet", "--attest", "--key", keys+".key", dir)
	expectExit(t, 0, "verify", "--key", keys+".pub", "--require-scan", dir)
}
