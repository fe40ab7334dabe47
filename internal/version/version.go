// Package version holds the build identity of modelverify, set at link time.
package version

import "runtime"

// Set with -ldflags "-X github.com/modelverify/modelverify/internal/version.Version=...".
var (
	Version = "dev"
	Commit  = "unknown"
)

// GoVersion is the Go toolchain that built the binary.
func GoVersion() string { return runtime.Version() }
