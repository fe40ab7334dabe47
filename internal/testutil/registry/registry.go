// Package registry starts OCI registries for tests: go-containerregistry's
// in-process registry under httptest, and the CNCF distribution registry
// (Debian's docker-registry) as a child process. Both listen on 127.0.0.1
// only and are stopped when the test ends.
package registry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	ggcr "github.com/google/go-containerregistry/pkg/registry"
)

// DistributionBinary is the registry binary of the Debian package
// docker-registry (CNCF distribution 2.8).
const DistributionBinary = "/usr/bin/docker-registry"

// RequireEnv, set to "require", makes tests that need an external binary
// fail instead of skipping when it is missing.
const RequireEnv = "MODELVERIFY_INTEGRATION"

// NewInProcess starts go-containerregistry's registry on 127.0.0.1 and
// returns its HOST:PORT (plain HTTP). referrers turns the OCI 1.1 referrers
// API on; when false, GET /v2/REPO/referrers/DIGEST is not served, so
// clients must use the tag-schema fallback.
func NewInProcess(t testing.TB, referrers bool) string {
	t.Helper()
	h := ggcr.New(
		ggcr.Logger(log.New(io.Discard, "", 0)),
		ggcr.WithReferrersSupport(referrers),
	)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// NewInProcessWithAuth is NewInProcess behind HTTP basic authentication:
// every request without the given username and password gets 401 with a
// Basic challenge, as a private registry answers.
func NewInProcessWithAuth(t testing.TB, referrers bool, username, password string) string {
	t.Helper()
	h := ggcr.New(
		ggcr.Logger(log.New(io.Discard, "", 0)),
		ggcr.WithReferrersSupport(referrers),
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != username || p != password {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// StartDistribution runs the distribution registry on a free 127.0.0.1 port
// with a temporary filesystem storage and returns its HOST:PORT (plain HTTP).
// It skips the test when the binary is missing, unless
// MODELVERIFY_INTEGRATION=require. The registry is stopped at test end.
// Distribution 2.8 has no referrers API.
func StartDistribution(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(DistributionBinary); err != nil {
		if os.Getenv(RequireEnv) == "require" {
			t.Fatalf("%s is required (%s=require): %v", DistributionBinary, RequireEnv, err)
		}
		t.Skipf("%s not installed: %v", DistributionBinary, err)
	}
	dir := t.TempDir()
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		host, err := startDistribution(t, dir, attempt)
		if err == nil {
			return host
		}
		lastErr = err
	}
	t.Fatalf("start distribution registry: %v", lastErr)
	return ""
}

func startDistribution(t testing.TB, dir string, attempt int) (string, error) {
	port, err := freePort()
	if err != nil {
		return "", err
	}
	host := fmt.Sprintf("127.0.0.1:%d", port)
	storage := filepath.Join(dir, fmt.Sprintf("storage-%d", attempt))
	secret := make([]byte, 16)
	_, _ = rand.Read(secret)
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: %s
  secret: %s
`, storage, host, hex.EncodeToString(secret))
	cfgPath := filepath.Join(dir, fmt.Sprintf("config-%d.yml", attempt))
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return "", err
	}
	logPath := filepath.Join(dir, fmt.Sprintf("registry-%d.log", attempt))
	logf, err := os.Create(logPath)
	if err != nil {
		return "", err
	}
	cmd := exec.Command(DistributionBinary, "serve", cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), "OTEL_TRACES_EXPORTER=none")
	if err := cmd.Start(); err != nil {
		logf.Close()
		return "", err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); logf.Close() }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		select {
		case err := <-exited:
			b, _ := os.ReadFile(logPath)
			return "", fmt.Errorf("registry exited: %v: %s", err, b)
		case <-ctx.Done():
			stop()
			b, _ := os.ReadFile(logPath)
			return "", fmt.Errorf("registry on %s did not answer: %s", host, b)
		case <-time.After(50 * time.Millisecond):
		}
		resp, err := http.Get("http://" + host + "/v2/")
		if err != nil {
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Cleanup(stop)
			return host, nil
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
