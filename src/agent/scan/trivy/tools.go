//go:build tools

// Package tools pins the Trivy command-line program to the module version the bridge uses, so
// `make bench-scan` compares the agent against the CLI built from exactly the same code.
package tools

import _ "github.com/aquasecurity/trivy/cmd/trivy"
