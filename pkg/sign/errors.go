package sign

import (
	"errors"
	"fmt"
)

// Sentinel reasons carried by a VerificationError; test them with errors.Is.
var (
	// ErrNoSignature: the model has no signature (no model.sig, no referrer).
	ErrNoSignature = errors.New("no signature")
	// ErrSignature: no authority accepted the bundle (bad signature, untrusted
	// key or chain, wrong identity, missing or invalid log entry).
	ErrSignature = errors.New("signature did not verify")
	// ErrPredicate: the signed payload is not an OMS v1.0 statement.
	ErrPredicate = errors.New("unexpected statement or predicate type")
	// ErrSubjectDigest: the subject digest does not match the resources.
	ErrSubjectDigest = errors.New("subject digest does not match the resources")
	// ErrManifestDigest: no signature binds the OCI manifest digest (it was
	// signed for another manifest, or before signatures bound manifests).
	ErrManifestDigest = errors.New("no signature binds the manifest")
	// ErrResources: a file or layer was changed, added or removed.
	ErrResources = errors.New("model does not match the signature")
	// ErrScanPolicy: the scan attestation is missing or does not satisfy the
	// required severity.
	ErrScanPolicy = errors.New("scan attestation does not satisfy the policy")
)

// ErrUnsupported reports a bundle or statement feature this package does not
// implement (for example a hash type other than sha256). It is not a
// verification failure: the question could not be decided.
var ErrUnsupported = errors.New("unsupported")

// VerificationError says that the artifact is bad: it is not signed by a
// trusted authority, or it does not match what was signed. Every other error
// returned by this package means that verification could not be decided.
type VerificationError struct {
	// Reason is one of the sentinel errors above.
	Reason error
	// Detail says what exactly failed, for example the name of a changed file.
	Detail string
	// Err is the underlying error, if any.
	Err error
}

func (e *VerificationError) Error() string {
	msg := e.Reason.Error()
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the reason and the underlying error.
func (e *VerificationError) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Reason, e.Err}
	}
	return []error{e.Reason}
}

// BadArtifact marks a verification error as a fault of the artifact, for
// manifest.IsBadArtifact.
func (e *VerificationError) BadArtifact() bool { return true }

func verificationErrorf(reason error, err error, format string, args ...any) error {
	return &VerificationError{Reason: reason, Detail: fmt.Sprintf(format, args...), Err: err}
}

// IsVerificationError reports whether err says that the artifact is bad (as
// opposed to: something broke).
func IsVerificationError(err error) bool {
	var v *VerificationError
	return errors.As(err, &v)
}
