// Package localkms runs local-kms, an AWS KMS-compatible server, for tests
// that sign with awskms:// keys. scripts/local-kms.sh builds the binary.
package localkms

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// Env names the local-kms binary (scripts/local-kms.sh prints its path);
// without it, local-kms on PATH.
const Env = "MODELVERIFY_LOCAL_KMS"

// requireEnv, set to "require", makes a missing binary fail the test.
const requireEnv = "MODELVERIFY_INTEGRATION"

// Region is the region the server and the clients agree on.
const Region = "eu-west-2"

// Server is a running local-kms.
type Server struct {
	// Endpoint is the server's URL, http://127.0.0.1:PORT.
	Endpoint string
	client   *kms.Client
}

// Binary finds local-kms, or skips the test (fails with
// MODELVERIFY_INTEGRATION=require).
func Binary(t testing.TB) string {
	t.Helper()
	p := os.Getenv(Env)
	if p == "" {
		p, _ = exec.LookPath("local-kms")
	}
	if p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv(requireEnv) == "require" {
		t.Fatalf("local-kms is required (%s=require): set %s (scripts/local-kms.sh builds it) or put local-kms on PATH", requireEnv, Env)
	}
	t.Skipf("local-kms not found: set %s (scripts/local-kms.sh builds it) or put local-kms on PATH", Env)
	return ""
}

var started = regexp.MustCompile(`Local KMS started on [0-9.]+:([0-9]+)`)

// Start runs local-kms on a port the kernel chooses, with its database in a
// temporary folder, and stops it when the test ends. It points the AWS SDK
// of this process and of the children it starts at the server, through
// t.Setenv: AWS_ENDPOINT_URL_KMS, AWS_REGION and dummy credentials, with
// the shared config files and the instance metadata service turned off.
//
// The binary (scripts/local-kms.sh) serves on 127.0.0.1 only.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := Binary(t)
	dir := t.TempDir()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		"PORT=0",
		"KMS_REGION="+Region,
		"KMS_ACCOUNT_ID=111122223333",
		"KMS_DATA_PATH="+filepath.Join(dir, "data"),
		"KMS_SEED_PATH="+filepath.Join(dir, "no-seed.yaml"),
	)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatalf("start local-kms: %v", err)
	}
	var (
		mu  sync.Mutex
		log strings.Builder
	)
	portc := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			mu.Lock()
			log.WriteString(line + "\n")
			mu.Unlock()
			if m := started.FindStringSubmatch(line); m != nil {
				select {
				case portc <- m[1]:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		<-done
	})
	var port string
	select {
	case port = <-portc:
	case <-done:
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("local-kms exited before it listened:\n%s", log.String())
	case <-time.After(30 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("local-kms did not start listening:\n%s", log.String())
	}
	s := &Server{Endpoint: "http://127.0.0.1:" + port}
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL_KMS":        s.Endpoint,
		"AWS_REGION":                  Region,
		"AWS_ACCESS_KEY_ID":           "local",
		"AWS_SECRET_ACCESS_KEY":       "local",
		"AWS_SESSION_TOKEN":           "",
		"AWS_PROFILE":                 "",
		"AWS_CONFIG_FILE":             filepath.Join(dir, "no-config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "no-credentials"),
		"AWS_EC2_METADATA_DISABLED":   "true",
	} {
		t.Setenv(k, v)
	}
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s.client = kms.NewFromConfig(cfg)
	return s
}

// Key is a key in the server.
type Key struct {
	ID       string // key id (a UUID)
	ARN      string
	Alias    string // alias/NAME
	IDURI    string // awskms:///ID
	AliasURI string // awskms:///alias/NAME
	Public   *ecdsa.PublicKey
}

// CreateKey creates a SIGN_VERIFY key of the spec (types.KeySpecEccNistP256,
// ...) named alias/NAME.
func (s *Server) CreateKey(t testing.TB, name string, spec types.KeySpec) Key {
	t.Helper()
	ctx := context.Background()
	out, err := s.client.CreateKey(ctx, &kms.CreateKeyInput{
		KeySpec:     spec,
		KeyUsage:    types.KeyUsageTypeSignVerify,
		Description: aws.String("modelverify test key " + name),
	})
	if err != nil {
		t.Fatalf("create key: %v", err)
	}
	k := Key{ID: *out.KeyMetadata.KeyId, ARN: *out.KeyMetadata.Arn, Alias: "alias/" + name}
	if _, err := s.client.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(k.Alias), TargetKeyId: out.KeyMetadata.KeyId}); err != nil {
		t.Fatalf("create alias: %v", err)
	}
	k.IDURI, k.AliasURI = "awskms:///"+k.ID, "awskms:///"+k.Alias
	pk, err := s.client.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: out.KeyMetadata.KeyId})
	if err != nil {
		t.Fatalf("get public key: %v", err)
	}
	pub, err := x509.ParsePKIXPublicKey(pk.PublicKey)
	if err != nil {
		t.Fatalf("parse public key: %v", err)
	}
	if ec, ok := pub.(*ecdsa.PublicKey); ok {
		k.Public = ec
	}
	return k
}

// PointAlias makes alias (alias/NAME) name the key with id keyID, as an
// operator rotating a release key does.
func (s *Server) PointAlias(t testing.TB, alias, keyID string) {
	t.Helper()
	if _, err := s.client.UpdateAlias(context.Background(), &kms.UpdateAliasInput{AliasName: aws.String(alias), TargetKeyId: aws.String(keyID)}); err != nil {
		t.Fatalf("update alias: %v", err)
	}
}
