//go:build tools

// Package tools pins cosign's main package so `go mod tidy` records its
// dependencies in go.sum. cosign 2 (not 3): rotor reads the signatures cosign 2
// stores under the `sha256-<digest>.sig` tag; cosign 3 defaults to bundles
// stored as OCI referrers.
package tools

import _ "github.com/sigstore/cosign/v2/cmd/cosign"
