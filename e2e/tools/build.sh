#!/bin/bash
# Builds the real Kubernetes pieces the end-to-end harness runs (etcd, kube-apiserver,
# kube-controller-manager, kube-proxy, the CNI plugins) from the Go module proxy into
# $NETSIM_TOOLS/bin, skipping any binary that is already there for the same go.sum.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${NETSIM_TOOLS:-/var/cache/netsim-tools}
mkdir -p "$out/bin"
K8SV=v1.34.4
LD="-s -w -X k8s.io/component-base/version.gitVersion=$K8SV -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=34 -X k8s.io/client-go/pkg/version.gitVersion=$K8SV"

# build DIR STAMPNAME BIN PKG [LDFLAGS]: rebuilds when the module's go.sum changed.
build() {
  local dir=$1 bin=$2 pkg=$3 ld=${4:-"-s -w"}
  local sum; sum=$( (cat "$here/$dir"/go.mod "$here/$dir"/go.sum "$here/$dir"/*.go 2>/dev/null || true) | sha256sum | cut -c1-16)
  local stamp="$out/bin/.$bin.$sum"
  if [[ -x "$out/bin/$bin" && -e "$stamp" ]]; then return 0; fi
  local t0=$SECONDS
  (cd "$here/$dir" && go build -trimpath -ldflags "$ld" -o "$out/bin/$bin" "$pkg")
  rm -f "$out/bin/.$bin."*; touch "$stamp"
  echo "built $bin in $((SECONDS - t0))s"
}
build echo echo .
build cni bridge github.com/containernetworking/plugins/plugins/main/bridge
build cni loopback github.com/containernetworking/plugins/plugins/main/loopback
build cni host-local github.com/containernetworking/plugins/plugins/ipam/host-local
build etcd etcd .
build k8s kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver "$LD"
build k8s kube-proxy k8s.io/kubernetes/cmd/kube-proxy "$LD"
build k8s kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager "$LD"
build kube-router kube-router github.com/cloudnativelabs/kube-router/v2/cmd/kube-router
