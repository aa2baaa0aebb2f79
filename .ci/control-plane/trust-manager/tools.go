//go:build tools

// Package tools pins trust-manager's main package so `go mod tidy` records
// its dependencies in go.sum.
package tools

import _ "github.com/cert-manager/trust-manager/cmd/trust-manager"
