//go:build tools

// Package tools pins the cosign command-line tool that the interoperability
// tests run against modelverify's signatures, in both directions.
package tools

import _ "github.com/sigstore/cosign/v3/cmd/cosign"
