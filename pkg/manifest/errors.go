package manifest

import "errors"

// badArtifact is a sentinel that says the artifact itself is bad, as
// opposed to an error that kept it from being read (a network failure, a
// registry outage): the classification is made here, where the sentinel is
// defined, and IsBadArtifact reads it.
type badArtifact string

func (e badArtifact) Error() string { return string(e) }

// BadArtifact marks the error as a fault of the artifact.
func (badArtifact) BadArtifact() bool { return true }

// IsBadArtifact reports whether err says that an artifact itself is bad: it
// wraps an error with a BadArtifact method that returns true (this
// package's ErrNotModel, ErrInvalidManifest, ErrUnsafePath,
// ErrUnsupportedLayer, ErrTooLarge and ErrDigestMismatch, and package sign's
// verification errors). Anything else means the question could not be
// decided.
func IsBadArtifact(err error) bool {
	var b interface{ BadArtifact() bool }
	return errors.As(err, &b) && b.BadArtifact()
}

// Sentinel errors. Callers test them with errors.Is; the returned errors wrap
// them with what was being done.
var (
	// ErrInvalidReference: a reference that ParseRef cannot accept.
	ErrInvalidReference = errors.New("invalid reference")

	// ErrNotModel: the manifest is not a model manifest (wrong media type,
	// artifact type or config type).
	ErrNotModel error = badArtifact("not a model manifest")

	// ErrInvalidManifest: the manifest or its config is malformed.
	ErrInvalidManifest error = badArtifact("invalid model manifest")

	// ErrUnsafePath: a file path that could write outside the target
	// directory (absolute, "..", symlinked parent, duplicate, ...) or a
	// symlink in a folder being hashed or pushed.
	ErrUnsafePath error = badArtifact("unsafe path")

	// ErrUnsupportedLayer: a layer that is not a raw model file (for example
	// a tar layer written by another tool).
	ErrUnsupportedLayer error = badArtifact("unsupported layer")

	// ErrTooLarge: a manifest, config or count beyond the limits in limits.go.
	ErrTooLarge error = badArtifact("limit exceeded")

	// ErrDigestMismatch: content did not match the digest or size that
	// described it.
	ErrDigestMismatch error = badArtifact("digest mismatch")

	// ErrEmpty: a model directory with no files to push.
	ErrEmpty = errors.New("no files")
)
