// Package archive scans zip, tar and 7z archives the way the loaders that
// open them do, and hands every member to the dispatcher.
//
// The zip reader is deliberately tolerant, like PyTorch's (miniz): it ignores
// CRCs and general-purpose flag bits, reads the central directory and each
// member's local header for its data offset, accepts any root folder name,
// and scans every member when two share a name (PyTorch loads the first).
// It also looks for local headers that the central directory does not list,
// and for a zip appended to a pickle (a polyglot). A zip that holds a PyTorch
// checkpoint is reported as "pytorch-zip" (or "torchscript"), a zip of .npy
// files as "numpy-npz".
package archive
