// Package compress scans compressed streams: gzip, bzip2, xz, lzma (the
// "alone" format), zstd, lz4 frames, zlib, and joblib's own zlib container
// ("ZF" header). Each stream is decompressed as it is read, with its
// decompressed-to-compressed ratio checked while streaming (declared sizes
// lie), every byte charged to the target's expansion budget, and the output
// handed back to the dispatcher, so a pickle inside a joblib file compressed
// with any of joblib's compressors is scanned like a bare one.
package compress
