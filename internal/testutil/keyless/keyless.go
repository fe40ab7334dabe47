// Package keyless runs a Sigstore keyless signing stack in the test process,
// on 127.0.0.1: an OIDC issuer whose tokens look like GitHub Actions' (with
// the Actions endpoint that hands them out) or gitlab.com CI job tokens, a
// Fulcio that certifies the caller's key for the token's identity with an
// embedded CT timestamp (SCT), and a Rekor v1 that records DSSE entries in
// an RFC 6962 Merkle tree, with signed entry timestamps, inclusion proofs
// and signed checkpoints; TrustedRootJSON verifies what the stack issues. Nothing leaves the machine, and every request is checked as the
// real services check it (token signature, audience and expiry, proof of
// possession, DSSE signature against the certificate).
package keyless

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-openapi/runtime"

	"github.com/sigstore/rekor/pkg/generated/models"
	"github.com/sigstore/rekor/pkg/types"
	_ "github.com/sigstore/rekor/pkg/types/dsse/v0.0.1" // registers the dsse kind
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
)

// GitHubIssuer is the issuer of GitHub Actions OIDC tokens; the stack uses
// it so that identities look as they do in real workflows.
const GitHubIssuer = "https://token.actions.githubusercontent.com"

// GitLabIssuer is the issuer of gitlab.com CI job tokens (id_tokens).
const GitLabIssuer = "https://gitlab.com"

// Stack is the running services.
type Stack struct {
	// FulcioURL, RekorURL: base URLs for modelverify's --fulcio-url and
	// --rekor-url.
	FulcioURL, RekorURL string
	// TokenURL and RequestToken play ACTIONS_ID_TOKEN_REQUEST_URL and
	// ACTIONS_ID_TOKEN_REQUEST_TOKEN: GET TokenURL&audience=sigstore with
	// "Authorization: bearer RequestToken" returns {"value": token}.
	TokenURL, RequestToken string
	// Workflow is the job_workflow_ref of the tokens the endpoint hands
	// out; the certificate identity is "https://github.com/" + Workflow.
	Workflow string

	vs        *ca.VirtualSigstore
	issuerKey *ecdsa.PrivateKey
	caRoot    *x509.Certificate
	caInter   *x509.Certificate
	caKey     *ecdsa.PrivateKey
	caStart   time.Time
	ct        *ctLog
	rekor     *merkleLog

	mu     sync.Mutex
	issued int
}

// Start runs the stack until the test ends.
func Start(t testing.TB) *Stack {
	t.Helper()
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	rootCert, rootKey, err := ca.GenerateRootCa()
	if err != nil {
		t.Fatal(err)
	}
	inter, interKey, err := ca.GenerateFulcioIntermediate(rootCert, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	ik, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ctKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := newCTLog(ctKey, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	rekorKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rekor, err := newMerkleLog(rekorKey, time.Now().Add(-time.Hour), 5)
	if err != nil {
		t.Fatal(err)
	}
	s := &Stack{
		vs: vs, issuerKey: ik, caRoot: rootCert, caInter: inter, caKey: interKey, ct: ct, rekor: rekor,
		caStart:      time.Now().Add(-time.Hour),
		RequestToken: hex.EncodeToString(randBytes(16)),
		Workflow:     "example/models/.github/workflows/release.yml@refs/heads/main",
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v2/signingCert", s.signingCert)
	mux.HandleFunc("POST /api/v1/log/entries", s.createEntry)
	mux.HandleFunc("GET /actions/token", s.actionsToken)
	srv := httptest.NewServer(mux) // 127.0.0.1
	t.Cleanup(srv.Close)
	s.FulcioURL, s.RekorURL = srv.URL, srv.URL
	s.TokenURL = srv.URL + "/actions/token?api-version=2.0"
	return s
}

// Identity is the certificate identity of a token for workflow.
func Identity(workflow string) string { return "https://github.com/" + workflow }

// Token returns an OIDC token for the GitHub Actions workflow ref, valid
// for ten minutes, for audience.
func (s *Stack) Token(t testing.TB, workflow, audience string) string {
	t.Helper()
	repo, _, _ := strings.Cut(workflow, "/.github/")
	claims := map[string]any{
		"iss": GitHubIssuer, "aud": audience, "sub": "repo:" + repo + ":ref:refs/heads/main",
		"iat": time.Now().Unix(), "exp": time.Now().Add(10 * time.Minute).Unix(),
		"repository": repo, "job_workflow_ref": workflow,
	}
	tok, err := s.sign(claims)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// GitLabIdentity is the certificate identity of a gitlab.com pipeline of
// project (GROUP/PROJECT) on branch, as Fulcio derives it from
// ci_config_ref_uri.
func GitLabIdentity(project, branch string) string {
	return "https://gitlab.com/" + project + "//.gitlab-ci.yml@refs/heads/" + branch
}

// GitLabToken returns a gitlab.com-style CI job token (id_tokens) for
// project on branch, audience sigstore.
func (s *Stack) GitLabToken(t testing.TB, project, branch string) string {
	t.Helper()
	tok, err := s.sign(map[string]any{
		"iss": GitLabIssuer, "aud": "sigstore",
		"sub": "project_path:" + project + ":ref_type:branch:ref:" + branch,
		"iat": time.Now().Unix(), "exp": time.Now().Add(10 * time.Minute).Unix(),
		"project_path": project, "ci_config_ref_uri": strings.TrimPrefix(GitLabIdentity(project, branch), "https://"),
	})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Issued is the number of certificates Fulcio has issued.
func (s *Stack) Issued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issued
}

// TrustedRootJSON is a Sigstore trusted root for the stack's Fulcio and
// Rekor.
func (s *Stack) TrustedRootJSON(t testing.TB) []byte {
	t.Helper()
	fulcio := &root.FulcioCertificateAuthority{
		Root: s.caRoot, Intermediates: []*x509.Certificate{s.caInter},
		ValidityPeriodStart: s.caStart, ValidityPeriodEnd: time.Now().Add(24 * time.Hour),
		URI: s.FulcioURL,
	}
	ctlogs := map[string]*root.TransparencyLog{hex.EncodeToString(s.ct.id[:]): s.ct.transparencyLog(s.FulcioURL)}
	tlogs := map[string]*root.TransparencyLog{hex.EncodeToString(s.rekor.id): s.rekor.transparencyLog(s.RekorURL)}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, []root.CertificateAuthority{fulcio},
		ctlogs, s.vs.TimestampingAuthorities(), tlogs)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(tr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

var b64 = base64.RawURLEncoding

// sign makes an ES256 JWT.
func (s *Stack) sign(claims map[string]any) (string, error) {
	h, _ := json.Marshal(map[string]string{"alg": "ES256", "typ": "JWT", "kid": "test"})
	c, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	input := b64.EncodeToString(h) + "." + b64.EncodeToString(c)
	d := sha256.Sum256([]byte(input))
	r, ss, err := ecdsa.Sign(rand.Reader, s.issuerKey, d[:])
	if err != nil {
		return "", err
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	ss.FillBytes(sig[32:])
	return input + "." + b64.EncodeToString(sig), nil
}

type tokenClaims struct {
	Issuer   string `json:"iss"`
	Subject  string `json:"sub"`
	Audience string `json:"aud"`
	Expiry   int64  `json:"exp"`
	Workflow string `json:"job_workflow_ref"`
	// GitLab: the pipeline's configuration file and ref.
	ConfigRefURI string `json:"ci_config_ref_uri"`
}

// identity is the certificate identity Fulcio derives from the claims.
func (c tokenClaims) identity() string {
	if c.Issuer == GitLabIssuer {
		return "https://" + c.ConfigRefURI
	}
	return Identity(c.Workflow)
}

// verifyToken checks the token as Fulcio does: our issuer's signature, the
// sigstore audience, not expired.
func (s *Stack) verifyToken(tok string) (tokenClaims, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return tokenClaims{}, errors.New("malformed token")
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		return tokenClaims{}, errors.New("malformed token signature")
	}
	d := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !ecdsa.Verify(&s.issuerKey.PublicKey, d[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return tokenClaims{}, errors.New("token signature does not verify")
	}
	body, err := b64.DecodeString(parts[1])
	if err != nil {
		return tokenClaims{}, err
	}
	var c tokenClaims
	if err := json.Unmarshal(body, &c); err != nil {
		return tokenClaims{}, err
	}
	switch {
	case c.Issuer != GitHubIssuer && c.Issuer != GitLabIssuer:
		return c, fmt.Errorf("issuer %q", c.Issuer)
	case c.Audience != "sigstore":
		return c, fmt.Errorf("audience %q", c.Audience)
	case time.Now().Unix() > c.Expiry:
		return c, errors.New("token expired")
	case c.Subject == "" || (c.Issuer == GitHubIssuer && c.Workflow == "") || (c.Issuer == GitLabIssuer && c.ConfigRefURI == ""):
		return c, errors.New("token without subject or workflow reference")
	}
	return c, nil
}

func (s *Stack) actionsToken(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "bearer "+s.RequestToken && r.Header.Get("Authorization") != "Bearer "+s.RequestToken {
		http.Error(w, "bad request token", http.StatusUnauthorized)
		return
	}
	aud := r.URL.Query().Get("audience")
	if aud == "" {
		aud = "https://github.com/" + strings.SplitN(s.Workflow, "/", 3)[0]
	}
	repo, _, _ := strings.Cut(s.Workflow, "/.github/")
	tok, err := s.sign(map[string]any{
		"iss": GitHubIssuer, "aud": aud, "sub": "repo:" + repo + ":ref:refs/heads/main",
		"iat": time.Now().Unix(), "exp": time.Now().Add(10 * time.Minute).Unix(),
		"repository": repo, "job_workflow_ref": s.Workflow,
	})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"count": 1, "value": tok})
}

// Fulcio OIDs (fulcio docs/oid-info.md).
var (
	oidIssuerV1 = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 1}
	oidIssuerV2 = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 8}
)

func (s *Stack) signingCert(w http.ResponseWriter, r *http.Request) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		http.Error(w, "no bearer token", http.StatusUnauthorized)
		return
	}
	claims, err := s.verifyToken(tok)
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var req struct {
		PublicKeyRequest struct {
			PublicKey struct {
				Content string `json:"content"`
			} `json:"publicKey"`
			ProofOfPossession string `json:"proofOfPossession"`
		} `json:"publicKeyRequest"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	block, _ := pem.Decode([]byte(req.PublicKeyRequest.PublicKey.Content))
	if block == nil {
		http.Error(w, "no PEM public key", http.StatusBadRequest)
		return
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	ecPub, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		http.Error(w, "only ECDSA keys", http.StatusBadRequest)
		return
	}
	pop, err := base64.StdEncoding.DecodeString(req.PublicKeyRequest.ProofOfPossession)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if !verifyPoP(ecPub, []byte(claims.Subject), pop) {
		http.Error(w, "proof of possession does not verify", http.StatusBadRequest)
		return
	}
	issuerV2, _ := asn1.MarshalWithParams(claims.Issuer, "utf8")
	uri, err := parseURL(claims.identity())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: new(big.Int).SetBytes(randBytes(16)),
		Subject:      pkix.Name{},
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     now.Add(10 * time.Minute),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		URIs:         uri,
		ExtraExtensions: []pkix.Extension{
			{Id: oidIssuerV1, Value: []byte(claims.Issuer)},
			{Id: oidIssuerV2, Value: issuerV2},
		},
	}
	// As Fulcio does, embed a CT log's timestamp over the certificate's
	// contents without it.
	pre, err := x509.CreateCertificate(rand.Reader, tmpl, s.caInter, ecPub, s.caKey)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	preCert, err := x509.ParseCertificate(pre)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	ext, err := s.ct.embeddedSCT(preCert.RawTBSCertificate, s.caInter)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, ext)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, s.caInter, ecPub, s.caKey)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	s.mu.Lock()
	s.issued++
	s.mu.Unlock()
	chain := []string{pemCert(der), pemCert(s.caInter.Raw), pemCert(s.caRoot.Raw)}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"signedCertificateEmbeddedSct": map[string]any{"chain": map[string]any{"certificates": chain}},
	})
}

func verifyPoP(pub *ecdsa.PublicKey, msg, sig []byte) bool {
	h := crypto.SHA256
	if pub.Curve == elliptic.P384() {
		h = crypto.SHA384
	}
	hh := h.New()
	hh.Write(msg)
	return ecdsa.VerifyASN1(pub, hh.Sum(nil), sig)
}

func pemCert(der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func (s *Stack) createEntry(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	pe, err := models.UnmarshalProposedEntry(io.LimitReader(r.Body, 8<<20), runtime.JSONConsumer())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	// UnmarshalEntry validates the entry: for dsse it verifies the
	// envelope's signatures against the certificate in the request.
	impl, err := types.UnmarshalEntry(pe)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	body, err := types.CanonicalizeEntry(ctx, impl)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	entry, uuid, err := s.logEntry(ctx, body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("ETag", uuid)
	w.Header().Set("Location", "/api/v1/log/entries/"+uuid)
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(models.LogEntry{uuid: entry})
}

func (s *Stack) logEntry(ctx context.Context, body []byte) (models.LogEntryAnon, string, error) {
	entry, err := s.rekor.add(ctx, body, base64.StdEncoding.EncodeToString(body))
	if err != nil {
		return models.LogEntryAnon{}, "", err
	}
	leaf := leafHash(body)
	return entry, hex.EncodeToString(leaf[:]), nil
}

func parseURL(s string) ([]*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	return []*url.URL{u}, nil
}
