//go:build tools

// Package tools pins kube-router, the NetworkPolicy enforcer the end-to-end tests run
// (its firewall only) to check netsim's policy verdicts against real enforcement.
package tools

import _ "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router"
