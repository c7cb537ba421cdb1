//go:build tools

// Package tools pins the Kubernetes commands this module builds, all at one version:
// kube-apiserver for the test control plane, kubectl, and for the real-node harness
// (testenv/node.ts) kube-scheduler, kube-controller-manager and kubelet.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
