#!/usr/bin/env bash
# Installs Debian packages with apt, skipping apt entirely when every one is already installed. Used by the
# Makefile (`make deps` and the targets that need more tools) and by the Dockerfiles in docker/, so the host, CI and
# the images install the same things the same way.
#
# Usage: scripts/install-deps.sh ITEM...
#   ITEM is a package name or one of these sets:
#     @build    what scripts/build.sh needs to compile rvsd and rvsadm (DPDK headers, libclang for bindgen, a C
#               compiler)
#     @runtime  what rvsd needs to run: the DPDK libraries it links, the mempool driver and the usual PMDs
#               (net_tap, af_packet, af_xdp, memif, vhost, virtio, ring, null, and the Intel and VMware NIC drivers)
#     @podman   podman, buildah, runc and debootstrap (the container image test, tests/e2e/50-docker.sh)
set -euo pipefail

# bindgen needs libclang's shared library and clang's builtin headers, not the clang driver or libclang-dev (whose
# static libraries are 240 MB).
BUILD_PACKAGES=(ca-certificates gcc libc6-dev pkg-config libclang1-14 libclang-common-14-dev libdpdk-dev)
RUNTIME_PACKAGES=(librte-eal23 librte-ethdev23 librte-mbuf23 librte-mempool23 librte-mempool-ring23 librte-net23
    librte-bus-vdev23 librte-bus-pci23 librte-net-tap23 librte-net-af-packet23 librte-net-af-xdp23
    librte-net-memif23 librte-net-vhost23 librte-net-virtio23 librte-net-ring23 librte-net-null23
    librte-net-i40e23 librte-net-ice23 librte-net-ixgbe23 librte-net-e1000-23 librte-net-vmxnet3-23)
PODMAN_PACKAGES=(podman buildah runc debootstrap)

if (($# == 0)); then
    echo "usage: $0 PACKAGE|@build|@runtime|@podman..." >&2
    exit 2
fi

wanted=()
for item in "$@"; do
    case $item in
    @build) wanted+=("${BUILD_PACKAGES[@]}") ;;
    @runtime) wanted+=("${RUNTIME_PACKAGES[@]}") ;;
    @podman) wanted+=("${PODMAN_PACKAGES[@]}") ;;
    @*)
        echo "$0: unknown package set '$item'" >&2
        exit 2
        ;;
    *) wanted+=("$item") ;;
    esac
done

missing=()
for p in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
    echo "install-deps: all ${#wanted[@]} packages present"
    exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Wait for another apt/dpkg run (CI images run unattended upgrades; helpers share machines) instead of failing.
apt_opts=(-o DPkg::Lock::Timeout=300 -y -qq --no-install-recommends)
# Only refresh the package lists when they are missing (a fresh image) or when the install fails with them.
if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
    apt-get -o DPkg::Lock::Timeout=300 update -qq
fi
if ! apt-get install "${apt_opts[@]}" "${missing[@]}"; then
    apt-get -o DPkg::Lock::Timeout=300 update -qq
    apt-get install "${apt_opts[@]}" "${missing[@]}"
fi
