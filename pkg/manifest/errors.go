package manifest

import "errors"

// Sentinel errors. Callers test them with errors.Is; the returned errors wrap
// them with what was being done.
var (
	// ErrInvalidReference: a reference that ParseRef cannot accept.
	ErrInvalidReference = errors.New("invalid reference")

	// ErrNotModel: the manifest is not a model manifest (wrong media type,
	// artifact type or config type).
	ErrNotModel = errors.New("not a model manifest")

	// ErrInvalidManifest: the manifest or its config is malformed.
	ErrInvalidManifest = errors.New("invalid model manifest")

	// ErrUnsafePath: a file path that could write outside the target
	// directory (absolute, "..", symlinked parent, duplicate, ...) or a
	// symlink in a folder being hashed or pushed.
	ErrUnsafePath = errors.New("unsafe path")

	// ErrUnsupportedLayer: a layer that is not a raw model file (for example
	// a tar layer written by another tool).
	ErrUnsupportedLayer = errors.New("unsupported layer")

	// ErrTooLarge: a manifest, config or count beyond the limits in limits.go.
	ErrTooLarge = errors.New("limit exceeded")

	// ErrDigestMismatch: content did not match the digest or size that
	// described it.
	ErrDigestMismatch = errors.New("digest mismatch")

	// ErrEmpty: a model directory with no files to push.
	ErrEmpty = errors.New("no files")
)
