//go:build tools

// Package tools pins the kube-apiserver, kube-controller-manager and kube-scheduler main
// packages so that `go mod tidy` records their dependencies in go.sum.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
