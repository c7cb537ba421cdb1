//go:build tools

// Package tools pins the Kubernetes commands this module builds:
// kube-apiserver for the test control plane and kubectl at the same version.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
