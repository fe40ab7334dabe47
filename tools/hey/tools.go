//go:build tools

// Package tools pins the hey load generator for bench/webhook-latency.sh;
// build it with scripts/hey.sh.
package tools

import _ "github.com/rakyll/hey"
