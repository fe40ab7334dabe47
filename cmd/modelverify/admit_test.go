package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelverify/modelverify/internal/testutil/kube"
	"github.com/modelverify/modelverify/internal/testutil/registry"
)

func TestAdmitCommand(t *testing.T) {
	host := registry.NewInProcess(t, true)
	dir := t.TempDir()
	release := kube.NewSigner(t, dir, "release")
	good := kube.Publish(t, host, "models/good", "v1", kube.Model{
		Files: map[string][]byte{"model.pkl": kube.BenignPickle}, SignedBy: release, ScanBy: release})
	kube.Publish(t, host, "models/unsigned", "v1", kube.Model{Files: map[string][]byte{"model.pkl": kube.BenignPickle, "x": []byte("x")}})
	policy := func(mode string) string {
		p := filepath.Join(dir, mode+".yaml")
		if err := os.WriteFile(p, []byte(kube.PolicyYAML(host, mode, release.PubPath)), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	enforce, warn := policy("enforce"), policy("warn")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := ln.Addr().String()
	ln.Close()
	downPolicy := filepath.Join(dir, "down.yaml")
	if err := os.WriteFile(downPolicy, []byte(kube.PolicyYAML(down, "enforce", release.PubPath)), 0o600); err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(dir, "broken.yaml")
	os.WriteFile(broken, []byte("apiVersion: modelverify.dev/v1alpha1\nkind: ModelPolicy\nspec: {mode: audit}\n"), 0o600)

	manifest := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	isvc := func(uri string) string {
		return "apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata: {name: bert}\n" +
			"spec:\n  predictor:\n    model:\n      modelFormat: {name: pytorch}\n      storageUri: " + uri + "\n"
	}
	signedISVC := manifest("signed.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n---\n"+isvc("oci://"+host+"/models/good:v1"))
	s3ISVC := manifest("s3.yaml", isvc("s3://bucket/bert"))
	garbage := manifest("garbage.yaml", "kind: [\n")

	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"a signed, scanned model is admitted by tag", []string{"--policy", enforce, host + "/models/good:v1"}, 0, "admitted   " + host + "/models/good:v1@" + good, ""},
		{"an unsigned model is denied", []string{"--policy", enforce, host + "/models/good:v1", "oci://" + host + "/models/unsigned:v1"}, 1, "denied", "1 model not admitted"},
		{"warn mode admits with a warning", []string{"--policy", warn, host + "/models/unsigned:v1"}, 0, "denied", "warning:"},
		{"a registry that does not answer fails closed", []string{"--policy", downPolicy, down + "/models/good:v1"}, 2, "undecided", "fail closed"},
		{"a broken policy is a configuration error", []string{"--policy", broken, host + "/models/good:v1"}, 3, "", "spec.mode"},
		{"a malformed reference is a usage error", []string{"--policy", enforce, host + "/Models/x:v1"}, 3, "", "invalid reference"},
		{"the policy flag is required", []string{host + "/models/good:v1"}, 3, "", "--policy"},
		{"an InferenceService with a signed oci:// model is admitted", []string{"--policy", enforce, "--object", signedISVC}, 0,
			"admitted   InferenceService/bert spec.predictor.model.storageUri " + host + "/models/good:v1@" + good, ""},
		{"an InferenceService with an s3:// model is denied", []string{"--policy", enforce, "--object", s3ISVC}, 1,
			"storage URI s3://bucket/bert cannot be verified", "InferenceService/bert spec.predictor.model.storageUri s3://bucket/bert"},
		{"an hf:// argument is denied", []string{"--policy", enforce, "hf://org/model"}, 1, "hf://org/model cannot be verified", ""},
		{"a manifest that does not parse fails closed", []string{"--policy", enforce, "--object", garbage}, 2, "", "invalid manifest"},
		{"references or objects are required", []string{"--policy", enforce}, 3, "", "--object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"admit", "--plain-http"}, tt.args...)
			out, errOut, code := runCLI(t, args...)
			if code != tt.code || !strings.Contains(out, tt.stdout) || !strings.Contains(errOut, tt.stderr) {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s", code, tt.code, out, errOut)
			}
			// main prints "modelverify: " before the error, once.
			if strings.HasPrefix(errOut, "modelverify ") || strings.Contains(errOut, "modelverify: ") {
				t.Errorf("the error repeats the program name: %q", errOut)
			}
		})
	}

	out, _, code := runCLI(t, "admit", "--plain-http", "--format", "json", "--policy", enforce, host+"/models/good@"+good)
	if code != 0 || !strings.Contains(out, `"outcome": "admitted"`) || !strings.Contains(out, `"pinned": "`+host+"/models/good@"+good) {
		t.Fatalf("json: exit %d: %s", code, out)
	}
}
