//go:build tools

// Package tools pins the helm v3 CLI that lints and renders
// deploy/helm/modelverify; build it with scripts/helm.sh.
package tools

import _ "helm.sh/helm/v3/cmd/helm"
