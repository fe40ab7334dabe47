package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestPullVerifyWritesASignatureTheFolderVerifiesWith(t *testing.T) {
	t.Setenv(passwordEnv, "")
	keys := filepath.Join(t.TempDir(), "k")
	expectExit(t, 0, "keygen", "--output-key-prefix", keys)
	other := filepath.Join(t.TempDir(), "o")
	expectExit(t, 0, "keygen", "--output-key-prefix", other)
	for _, form := range []string{"raw", "tar+gzip"} {
		t.Run(form, func(t *testing.T) {
			ref := "oci-layout://" + filepath.Join(t.TempDir(), "store") + ":v1"
			expectExit(t, 0, "push", "-q", "--layer-format", form, modelDir(t), ref)
			// Unsigned: nothing is written.
			parent := t.TempDir()
			dst := filepath.Join(parent, "model")
			expectExit(t, 1, "pull", "-q", "--verify", "--key", keys+".pub", ref, dst)
			if entries, _ := os.ReadDir(parent); len(entries) != 0 {
				t.Fatalf("a pull that did not verify wrote %v", entries)
			}
			expectExit(t, 0, "sign", "--key", keys+".key", ref)
			expectExit(t, 1, "pull", "-q", "--verify", "--key", other+".pub", ref, dst)
			if entries, _ := os.ReadDir(parent); len(entries) != 0 {
				t.Fatalf("a pull signed by another key wrote %v", entries)
			}
			expectExit(t, 0, "pull", "-q", "--verify", "--key", keys+".pub", ref, dst)
			if _, err := os.Stat(filepath.Join(dst, "model.sig")); err != nil {
				t.Fatal(err)
			}
			// Offline, from the folder alone.
			expectExit(t, 0, "verify", "--key", keys+".pub", dst)
			if err := os.WriteFile(filepath.Join(dst, "config.json"), []byte(`{"tampered":true}`), 0o644); err != nil {
				t.Fatal(err)
			}
			expectExit(t, 1, "verify", "--key", keys+".pub", dst)
		})
	}
	expectExit(t, 3, "pull", "--key", keys+".pub", "oci-layout://"+t.TempDir()+":v1", t.TempDir())
}
