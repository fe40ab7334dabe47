package manifest

import (
	"context"
	"encoding/pem"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ggcr "github.com/google/go-containerregistry/pkg/registry"
)

func TestRegistryTLSOptions(t *testing.T) {
	srv := httptest.NewTLSServer(ggcr.New(ggcr.WithReferrersSupport(true)))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "https://")
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	writeModel(t, src)
	tests := []struct {
		name string
		opts RegistryOptions
		ok   bool
	}{
		{"the system roots refuse a private certificate", RegistryOptions{}, false},
		{"a CA file trusts it", RegistryOptions{CAFile: ca}, true},
		{"insecure accepts it", RegistryOptions{InsecureSkipVerifyUnsafe: true}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target, ref := openRef(t, "oci://"+host+"/models/tls:v1", tt.opts)
			_, err := Push(context.Background(), src, target, ref, PushOptions{})
			if (err == nil) != tt.ok {
				t.Fatalf("push: %v, want success %v", err, tt.ok)
			}
		})
	}
	bad := filepath.Join(t.TempDir(), "bad.pem")
	os.WriteFile(bad, []byte("not a certificate"), 0o644)
	ref, _ := ParseRef("oci://" + host + "/models/tls:v1")
	if _, err := Open(context.Background(), ref, RegistryOptions{CAFile: bad}); err == nil {
		t.Fatal("a CA file without a certificate was accepted")
	}
}
