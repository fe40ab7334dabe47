package manifest

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"

	"github.com/modelverify/modelverify/internal/testutil/registry"
)

func TestCredentialsFromDockerConfig(t *testing.T) {
	host := registry.NewInProcessWithAuth(t, true, "alice", "s3cret")
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "w.bin"), []byte("weights"))
	ref, err := ParseRef("oci://" + host + "/private/m:v1")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	anon, err := Open(ctx, ref, RegistryOptions{PlainHTTP: true, DockerConfig: filepath.Join(t.TempDir(), "missing.json")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Push(ctx, src, anon, ref, PushOptions{}); err == nil {
		t.Fatal("anonymous push to a private registry succeeded")
	}

	cfg := filepath.Join(t.TempDir(), "config.json")
	auth := base64.StdEncoding.EncodeToString([]byte("alice:s3cret"))
	if err := os.WriteFile(cfg, []byte(`{"auths":{"`+host+`":{"auth":"`+auth+`"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	authed, err := Open(ctx, ref, RegistryOptions{PlainHTTP: true, DockerConfig: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Push(ctx, src, authed, ref, PushOptions{}); err != nil {
		t.Fatalf("push with docker config credentials: %v", err)
	}
	if err := Pull(ctx, authed, ref, t.TempDir(), PullOptions{}); err != nil {
		t.Fatalf("pull with docker config credentials: %v", err)
	}

	// Without DockerConfig, $DOCKER_CONFIG/config.json is read, as docker does.
	t.Setenv("DOCKER_CONFIG", filepath.Dir(cfg))
	fromEnv, err := Open(ctx, ref, RegistryOptions{PlainHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Resolve(ctx, fromEnv, ref); err != nil {
		t.Fatalf("resolve with $DOCKER_CONFIG credentials: %v", err)
	}
}

// TestCredentialHelper uses a real credential helper program, found on PATH
// as docker finds it, named by credHelpers in the Docker config.
func TestCredentialHelper(t *testing.T) {
	host := registry.NewInProcessWithAuth(t, false, "bob", "hunter2")
	bin := t.TempDir()
	helper := "#!/bin/sh\n" +
		"[ \"$1\" = get ] || exit 1\n" +
		"read server\n" +
		"printf '{\"ServerURL\":\"%s\",\"Username\":\"bob\",\"Secret\":\"hunter2\"}' \"$server\"\n"
	if err := os.WriteFile(filepath.Join(bin, "docker-credential-mvtest"), []byte(helper), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	cfg := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(cfg, []byte(`{"credHelpers":{"`+host+`":"mvtest"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "w.bin"), []byte("weights"))
	target, ref := openRef(t, "oci://"+host+"/private/m:v1", RegistryOptions{PlainHTTP: true, DockerConfig: cfg})
	if _, err := Push(context.Background(), src, target, ref, PushOptions{}); err != nil {
		t.Fatalf("push with a credential helper: %v", err)
	}
}
