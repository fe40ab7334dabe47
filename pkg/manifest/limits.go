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

// Limits on one tar layer (ModelPack .tar, .tar+gzip and .tar+zstd layers,
// image layers). A layer is streamed, never held in memory, so these bound
// what a hostile layer can make pull write or scan read.
const (
	// MaxTarEntries bounds the entries (files and directories) of one tar
	// layer: real models put one file, or one folder of files, per layer.
	MaxTarEntries = 100_000

	// MaxTarBytes bounds the bytes of regular files in one tar layer after
	// decompression (a gzip or zstd bomb stops here). 1 TiB holds the
	// largest published checkpoints.
	MaxTarBytes = 1 << 40

	// MaxZstdWindowBytes bounds the decoder window a zstd layer may ask for
	// (zstd --long=27 uses 128 MiB).
	MaxZstdWindowBytes = 128 << 20
)

// MaxImageEntries bounds the files of all layers of one container image.
const MaxImageEntries = 1_000_000
