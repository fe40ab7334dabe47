//go:build !unix

package scan

import "os"

type fileKey struct{ name string }

// keyOf has no inode to offer here; loops are then bounded by maxWalkDepth.
func keyOf(fi os.FileInfo) (fileKey, bool) { return fileKey{}, false }
