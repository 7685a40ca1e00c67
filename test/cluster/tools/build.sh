#!/usr/bin/env bash
# Builds kube-apiserver, kubectl and etcd from the Go module proxy into OUT_DIR.
# Usage: build.sh OUT_DIR   (versions come from go.mod beside this script)
set -euo pipefail
out=${1:?usage: build.sh OUT_DIR}
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
k8s=$(go list -m -f '{{.Version}}' k8s.io/kubernetes)
minor=$(echo "$k8s" | cut -d. -f2)
etcd=$(go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3)
ld="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ld="$ld -X $pkg.gitVersion=$k8s -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
done
tmp="$out.partial.$$"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
step() { echo "[test-cluster] building $1 ($2) ..." >&2; }
step etcd "$etcd"
go build -trimpath -ldflags "-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3
step kube-apiserver "$k8s"
go build -trimpath -ldflags "$ld" -o "$tmp/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
step kubectl "$k8s"
go build -trimpath -ldflags "$ld" -o "$tmp/kubectl" k8s.io/kubernetes/cmd/kubectl
mkdir -p "$(dirname "$out")"
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
echo "[test-cluster] binaries ready in $out" >&2
