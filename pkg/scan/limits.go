package scan

// Limits bound every expansion a hostile file could ask for. The zero value of
// a field means its default. Defaults suit real models: a 70B-parameter
// checkpoint is many gigabytes of raw tensors but only a few megabytes of
// pickle, so the pickle limits are generous while container expansion limits
// are what stop bombs.
type Limits struct {
	// MaxDepth is how deep containers may nest (zip in gzip in tar ...).
	// Default 8: real models nest at most two or three levels.
	MaxDepth int
	// MaxEntries is the number of members read from one archive. Default
	// 100,000: sharded checkpoints have thousands of files, not millions.
	MaxEntries int
	// MaxExpandedBytes caps the decompressed bytes read for one target, summed
	// over every nested stream. Default 32 GiB.
	MaxExpandedBytes int64
	// MaxRatio caps the decompressed-to-compressed size ratio of one stream
	// once it has produced more than 1 MiB. Default 200: model weights rarely
	// compress better than 2:1, and pickles better than 20:1; bombs reach 1000:1.
	MaxRatio int64
	// MaxMemo caps the pickle memo entries. Default 8,000,000 (a pickle of
	// millions of small objects memoises each one).
	MaxMemo int
	// MaxStack caps the pickle stack and mark depth. Default 4,000,000.
	MaxStack int
	// MaxOpcodes caps the opcodes executed for one pickle stream. Default
	// 1,000,000,000, far above the few million of the largest checkpoints.
	MaxOpcodes int64
	// MaxHeaderBytes caps metadata headers read into memory (safetensors JSON,
	// GGUF key/values, npy headers). Default 100 MiB, the safetensors limit.
	MaxHeaderBytes int64
	// MaxLiteral caps a single pickle string or bytes literal held in memory.
	// Larger literals are skipped by offset; when one must be analysed (a nested
	// pickle.loads argument) it is read through the underlying file instead.
	// Default 16 MiB.
	MaxLiteral int64
	// MaxWindowBytes caps the window or dictionary a decompressor allocates
	// up front (xz, lzma, zstd), which a hostile header declares. Default
	// 256 MiB: xz -9 uses 64 MiB, zstd up to --long=27 128 MiB.
	MaxWindowBytes int64
	// MaxNesting caps how deep structured metadata nests: protobuf messages
	// (ONNX graphs inside If/Loop attributes, TensorFlow functions), JSON
	// objects (Keras configs), GGUF arrays of arrays, Jinja expressions.
	// Default 200: real models nest a few dozen levels at most, and a
	// recursive parser must not run out of stack on a crafted file.
	MaxNesting int
}

// DefaultLimits are the limits used when a field is zero.
var DefaultLimits = Limits{
	MaxDepth:         8,
	MaxEntries:       100_000,
	MaxExpandedBytes: 32 << 30,
	MaxRatio:         200,
	MaxMemo:          8_000_000,
	MaxStack:         4_000_000,
	MaxOpcodes:       1_000_000_000,
	MaxHeaderBytes:   100 << 20,
	MaxLiteral:       16 << 20,
	MaxWindowBytes:   256 << 20,
	MaxNesting:       200,
}

// WithDefaults returns l with every zero field set to its default.
func (l Limits) WithDefaults() Limits {
	d := DefaultLimits
	if l.MaxDepth > 0 {
		d.MaxDepth = l.MaxDepth
	}
	if l.MaxEntries > 0 {
		d.MaxEntries = l.MaxEntries
	}
	if l.MaxExpandedBytes > 0 {
		d.MaxExpandedBytes = l.MaxExpandedBytes
	}
	if l.MaxRatio > 0 {
		d.MaxRatio = l.MaxRatio
	}
	if l.MaxMemo > 0 {
		d.MaxMemo = l.MaxMemo
	}
	if l.MaxStack > 0 {
		d.MaxStack = l.MaxStack
	}
	if l.MaxOpcodes > 0 {
		d.MaxOpcodes = l.MaxOpcodes
	}
	if l.MaxHeaderBytes > 0 {
		d.MaxHeaderBytes = l.MaxHeaderBytes
	}
	if l.MaxLiteral > 0 {
		d.MaxLiteral = l.MaxLiteral
	}
	if l.MaxWindowBytes > 0 {
		d.MaxWindowBytes = l.MaxWindowBytes
	}
	if l.MaxNesting > 0 {
		d.MaxNesting = l.MaxNesting
	}
	return d
}
