package sign

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// SignatureFileName is the default name of a folder's signature, as the OMS
// reference tool writes it.
const SignatureFileName = "model.sig"

// DefaultSignaturePath is where the signature of the model at target goes:
// target/model.sig for a folder, model.sig beside a single file.
func DefaultSignaturePath(target string) string {
	if fi, err := os.Stat(target); err == nil && !fi.IsDir() {
		return filepath.Join(filepath.Dir(target), SignatureFileName)
	}
	return filepath.Join(target, SignatureFileName)
}

// SignFolderOptions configure SignFolder.
type SignFolderOptions struct {
	FolderOptions
	// SignaturePath is where the bundle is written; "" means
	// DefaultSignaturePath. It is never part of the signed model.
	SignaturePath string
}

// SignFolder hashes the model at target (a folder or a file), signs its OMS
// statement with s and writes the bundle. It returns the statement.
func SignFolder(ctx context.Context, s *Signer, target string, opts SignFolderOptions) (*Statement, error) {
	sigPath := opts.SignaturePath
	if sigPath == "" {
		sigPath = DefaultSignaturePath(target)
	}
	fo := opts.FolderOptions
	// The scan attestation beside the signature is not part of the model
	// either; recording it in the predicate tells the reference tool too.
	fo.IgnorePaths = append(slices.Clone(fo.IgnorePaths), absOr(sigPath), absOr(attestationPathFor(sigPath)))
	m, err := HashFolder(ctx, target, fo)
	if err != nil {
		return nil, err
	}
	st, err := NewStatement(m)
	if err != nil {
		return nil, err
	}
	b, err := s.Sign(ctx, st)
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(sigPath, b); err != nil {
		return nil, fmt.Errorf("write signature: %w", err)
	}
	return st, nil
}

// attestationPathFor is the attestation path that goes with a signature
// path: model.sig -> model.scan.sig, x.sig -> x.scan.sig.
func attestationPathFor(sigPath string) string {
	return strings.TrimSuffix(sigPath, ".sig") + ".scan.sig"
}

func absOr(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".model.sig-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// VerifyFolderOptions configure Verifier.VerifyFolder.
type VerifyFolderOptions struct {
	// SignaturePath is the bundle to check; "" means DefaultSignaturePath.
	SignaturePath string
	// IgnorePaths are added to those recorded in the signature (needed for
	// bundles from OMS releases before 1.1, which did not record them).
	IgnorePaths []string
	// Workers and Progress are as in FolderOptions.
	Workers  int
	Progress func(done, total int64)
}

// Result is the outcome of a successful verification.
type Result struct {
	Signer SignerInfo `json:"signer"`
	// Name and Digest are the statement's subject: the model name and the
	// OMS root digest (hex sha256).
	Name      string `json:"name"`
	Digest    string `json:"digest"`
	Method    string `json:"method"`
	Resources int    `json:"resources"`
	// PredicateType is the signed statement's predicate type: PredicateTypeOMS,
	// or PredicateTypeDigests for a bundle from a release of the reference
	// tool before 0.3 (then Digest is computed, not signed, and Name is "").
	PredicateType string `json:"predicateType"`
	// ManifestDigest is the OCI manifest digest that the signature binds
	// ("sha256:..."); "" for a folder. A signature that binds the manifest
	// only (PredicateTypeManifest, as `cosign sign` writes it) has no OMS
	// statement: then Digest is the manifest digest's hex, Name and Method
	// are "", Resources counts the manifest's layers and Statement is nil.
	ManifestDigest string     `json:"manifestDigest,omitempty"`
	Statement      *Statement `json:"-"`
	// Bundle is the verified Sigstore bundle (JSON) of the OMS statement,
	// which can be stored as a model.sig beside the files it covers.
	Bundle []byte `json:"-"`
}

// maxSignatureFile bounds a model.sig we read.
const maxSignatureFile = maxBundleSize

// ReadSignatureFile reads a bundle file; a missing file is a
// *VerificationError with ErrNoSignature.
func ReadSignatureFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, verificationErrorf(ErrNoSignature, nil, "%s does not exist", path)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSignatureFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxSignatureFile {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxSignatureFile)
	}
	return data, nil
}

// VerifyFolder checks the model at target (a folder or a file) against its
// signature file: signature and identity, predicate type, subject digest,
// then every file, using the serialization recorded in the signature.
func (v *Verifier) VerifyFolder(ctx context.Context, target string, opts VerifyFolderOptions) (*Result, error) {
	sigPath := opts.SignaturePath
	if sigPath == "" {
		sigPath = DefaultSignaturePath(target)
	}
	data, err := ReadSignatureFile(sigPath)
	if err != nil {
		return nil, err
	}
	st, vb, err := v.VerifyStatement(data)
	if err != nil {
		return nil, err
	}
	ser := st.Predicate.Serialization
	fo := FolderOptions{
		Method:        ser.Method,
		ShardSize:     ser.ShardSize,
		AllowSymlinks: ser.AllowSymlinks,
		IgnorePaths:   append(append(slices.Clone(ser.IgnorePaths), opts.IgnorePaths...), absOr(sigPath), absOr(attestationPathFor(sigPath))),
		Workers:       opts.Workers,
		Progress:      opts.Progress,
	}
	m, err := HashFolder(ctx, target, fo)
	if errors.Is(err, ErrSymlink) || errors.Is(err, ErrSpecialFile) {
		return nil, &VerificationError{Reason: ErrResources, Err: err}
	}
	if err != nil {
		return nil, err
	}
	if err := CompareResources(ser.Method, st.Predicate.Resources, m.Resources); err != nil {
		return nil, err
	}
	return &Result{
		Signer: vb.Signer, Name: st.Subject[0].Name, Digest: st.SubjectDigest(),
		Method: ser.Method, Resources: len(st.Predicate.Resources), PredicateType: cmp.Or(st.Legacy, st.PredicateType),
		Statement: st,
	}, nil
}

// CompareResources checks that actual holds exactly the signed resources
// with the same digests. The error names the changed, missing and added
// files.
func CompareResources(method string, signed, actual []Resource) error {
	want := make(map[string]string, len(signed))
	for _, r := range signed {
		want[r.Name] = strings.ToLower(r.Digest)
	}
	var changed, added, missing []string
	fileOf := func(name string) string {
		if method == MethodShards {
			if p, _, _, ok := splitShard(name); ok {
				return p
			}
		}
		return name
	}
	for _, r := range actual {
		d, ok := want[r.Name]
		switch {
		case !ok:
			added = append(added, fileOf(r.Name))
		case d != strings.ToLower(r.Digest):
			changed = append(changed, fileOf(r.Name))
		}
		delete(want, r.Name)
	}
	for name := range want {
		missing = append(missing, fileOf(name))
	}
	if len(changed)+len(added)+len(missing) == 0 {
		return nil
	}
	// With shards, a file that changed size shows up as added and missing
	// shards: report it once, as changed.
	var parts []string
	list := func(kind string, names []string) {
		slices.Sort(names)
		names = slices.Compact(names)
		if len(names) == 0 {
			return
		}
		const maxNamed = 20
		more := ""
		if len(names) > maxNamed {
			more = fmt.Sprintf(" and %d more", len(names)-maxNamed)
			names = names[:maxNamed]
		}
		parts = append(parts, kind+" "+strings.Join(names, ", ")+more)
	}
	if method == MethodShards {
		both := map[string]bool{}
		for _, a := range added {
			if slices.Contains(missing, a) {
				both[a] = true
			}
		}
		added = slices.DeleteFunc(added, func(s string) bool { return both[s] })
		missing = slices.DeleteFunc(missing, func(s string) bool { return both[s] })
		for s := range both {
			changed = append(changed, s)
		}
	}
	list("changed:", changed)
	list("missing:", missing)
	list("not signed:", added)
	return &VerificationError{Reason: ErrResources, Detail: strings.Join(parts, "; ")}
}
