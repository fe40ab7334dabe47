package manifest

// Limits on what a manifest may make us read or do. They are generous for
// real models and small enough that a hostile registry cannot exhaust memory.
const (
	// MaxManifestBytes bounds a manifest read into memory. The OCI
	// distribution spec asks registries to accept at least 4 MiB manifests;
	// oras-go uses the same default.
	MaxManifestBytes = 4 << 20

	// MaxConfigBytes bounds the model config blob.
	MaxConfigBytes = 4 << 20

	// MaxLayers bounds the number of files in one model. A 4 MiB manifest
	// holds roughly 15,000 layer descriptors; real models have far fewer.
	MaxLayers = 100_000

	// MaxPathBytes and MaxPathComponentBytes bound file paths taken from a
	// manifest (Linux PATH_MAX and NAME_MAX).
	MaxPathBytes          = 4096
	MaxPathComponentBytes = 255

	// DefaultConcurrency is how many files are hashed, uploaded or downloaded
	// at once when an option leaves it zero.
	DefaultConcurrency = 4
)
