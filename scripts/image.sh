#!/usr/bin/env bash
# Builds rvs's container images with podman, offline from any registry.
#
# Usage: scripts/image.sh [appliance|lab]   (default appliance); prints the image name on its last line.
#
#  1. Installs podman, buildah, runc and debootstrap when missing (scripts/install-deps.sh @podman).
#  2. Points CONTAINERS_CONF at docker/containers.conf (runc, ulimits these VMs allow); changes nothing under /etc.
#  3. Seeds docker.io/library/debian:12 when it is not in podman's store: debootstrap --variant=minbase bookworm from
#     the mirror apt uses, the host's Debian apt sources copied in, then `podman import`. Done once per machine
#     (under a lock, so parallel runs seed it once).
#  4. Builds docker/Dockerfile (appliance) or docker/Dockerfile.lab (lab) with the host's Rust toolchain
#     (CARGO_HOME, RUSTUP_HOME) and CARGO_TARGET_DIR mounted at their host paths and the sources at their host path,
#     so scripts/build.sh inside finds the host's build fresh (run `make build` first, or the stage compiles).
#
# Environment: RVS_IMAGE (default localhost/rvs-<kind>:<hash of this checkout's path>, so checkouts sharing a
# machine do not overwrite each other's image), CARGO_TARGET_DIR (default <repo>/target), CARGO_HOME, RUSTUP_HOME.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
kind=${1:-appliance}
case $kind in
appliance) dockerfile=docker/Dockerfile ;;
lab) dockerfile=docker/Dockerfile.lab ;;
*)
    echo "usage: $0 [appliance|lab]" >&2
    exit 2
    ;;
esac
BASE=docker.io/library/debian:12
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
CARGO_HOME="${CARGO_HOME:-${HOME:-/root}/.cargo}"
RUSTUP_HOME="${RUSTUP_HOME:-${HOME:-/root}/.rustup}"
RVS_IMAGE="${RVS_IMAGE:-localhost/rvs-$kind:$(printf %s "$ROOT" | sha256sum | cut -c1-12)}"
export CONTAINERS_CONF="$ROOT/docker/containers.conf"

log() { echo "[image $(date +%H:%M:%S)] $*" >&2; }

"$ROOT/scripts/install-deps.sh" @podman >&2

# The Debian mirror apt uses (first deb.debian.org-style URI of the host's sources), for debootstrap.
debian_mirror() {
    local uri
    uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
        awk '($1 == "URIs:" || $1 == "deb") { for (i = 2; i <= NF; i++) if ($i ~ /^https?:\/\/.*\/debian\/?$/) { print $i; exit } }')
    echo "${uri:-http://deb.debian.org/debian}"
}

seed_base() {
    podman image exists "$BASE" && return 0
    local lock=/run/lock/rvs-debian12-seed.lock rootfs f mirror
    exec 9>"$lock"
    flock -w 600 9 || {
        log "could not take $lock in 600 s"
        return 1
    }
    if podman image exists "$BASE"; then
        flock -u 9
        return 0
    fi
    mirror=$(debian_mirror)
    rootfs=$(mktemp -d /var/tmp/rvs-debian12.XXXXXX)
    # shellcheck disable=SC2064
    trap "rm -rf -- '$rootfs'" EXIT
    log "seeding $BASE: debootstrap --variant=minbase bookworm from $mirror"
    # What Debian's own container images set (debuerreotype; the docs, man pages and translations exclusions are
    # those of debian:12-slim): dpkg without fsync (a crashed build is thrown away, not repaired), no cached .debs,
    # no documentation. Written before debootstrap so its second stage already unpacks this way.
    mkdir -p "$rootfs/etc/dpkg/dpkg.cfg.d" "$rootfs/etc/apt/apt.conf.d"
    echo force-unsafe-io >"$rootfs/etc/dpkg/dpkg.cfg.d/docker-apt-speedup"
    printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
        'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' 'path-exclude /usr/share/locale/*' \
        'path-include /usr/share/locale/locale.alias' >"$rootfs/etc/dpkg/dpkg.cfg.d/docker"
    cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOT'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOT
    echo 'Acquire::Languages "none";' >"$rootfs/etc/apt/apt.conf.d/docker-no-languages"
    debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || {
        tail -n 20 "$rootfs.log" >&2
        return 1
    }
    rm -f "$rootfs.log"
    # The host's apt sources that point at Debian only (others need keys the rootfs lacks).
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [[ -f "$f" ]] || continue
        if awk '($1 == "URIs:" || $1 == "deb") { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z+]+:\/\//) { n++; if ($i !~ /\/debian(-security)?\/?$/) bad++ } }
                END { exit !(n > 0 && bad == 0) }' "$f"; then
            mkdir -p "$rootfs/etc/apt/sources.list.d"
            if [[ "$f" == /etc/apt/sources.list ]]; then cp "$f" "$rootfs/etc/apt/sources.list"; else cp "$f" "$rootfs$f"; fi
        fi
    done
    # debootstrap's own sources.list (bookworm main only) stays unless the host's replaces it; duplicates with a
    # .sources file would only warn, so drop it when a Debian .sources file came over.
    if compgen -G "$rootfs/etc/apt/sources.list.d/*.sources" >/dev/null; then rm -f "$rootfs/etc/apt/sources.list"; fi
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*_Packages
    tar -C "$rootfs" -c . | podman import --change 'CMD ["/bin/bash"]' - "$BASE" >&2
    rm -rf -- "$rootfs"
    trap - EXIT
    flock -u 9
    log "seeded $BASE"
}

seed_base
mkdir -p "$CARGO_TARGET_DIR"
old_id=$(podman image inspect --format '{{.Id}}' "$RVS_IMAGE" 2>/dev/null || true)
log "building $RVS_IMAGE from $dockerfile"
podman build --layers -f "$ROOT/$dockerfile" -t "$RVS_IMAGE" \
    --volume "$CARGO_HOME:$CARGO_HOME" --volume "$RUSTUP_HOME:$RUSTUP_HOME:ro" \
    --volume "$CARGO_TARGET_DIR:$CARGO_TARGET_DIR" \
    --build-arg "SRC=$ROOT" --build-arg "CARGO_TARGET_DIR=$CARGO_TARGET_DIR" \
    --build-arg "CARGO_HOME=$CARGO_HOME" --build-arg "RUSTUP_HOME=$RUSTUP_HOME" \
    "$ROOT" >&2
# The image this tag named before (now untagged) would pile up in the store with every source change; remove it
# unless a container still uses it. The build stage's cached layers stay.
new_id=$(podman image inspect --format '{{.Id}}' "$RVS_IMAGE")
if [[ -n "$old_id" && "$old_id" != "$new_id" ]]; then
    podman rmi "$old_id" >/dev/null 2>&1 || true
fi
echo "$RVS_IMAGE"
