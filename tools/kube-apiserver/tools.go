//go:build tools

// Package tools pins the kube-apiserver command for the admission
// end-to-end test; build it with scripts/kube-apiserver.sh.
package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
