//go:build tools

// Package tools pins local-kms, the AWS KMS-compatible server against which
// the tests sign with awskms:// keys.
package tools

import _ "github.com/nsmithuk/local-kms"
