//go:build tools

// Package tools pins the oras command-line tool that bench/push_pull.sh
// runs beside modelverify's push and pull.
package tools

import _ "oras.land/oras/cmd/oras"
