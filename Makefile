# rvs: `make demo` runs the practical in a namespace lab; `make test` runs everything CI runs.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

# cargo lives in ~/.cargo/bin, which a non-login shell (CI) may not have on PATH.
export PATH := $(HOME)/.cargo/bin:/root/.cargo/bin:$(PATH)
CARGO ?= cargo
CARGO_TARGET_DIR ?= $(CURDIR)/target
export CARGO_TARGET_DIR
# Where the lab finds rvsd and rvsadm.
RVS_BIN_DIR ?= $(CARGO_TARGET_DIR)/release
export RVS_BIN_DIR
# Workers for `make demo` (1 or 2).
WORKERS ?= 1

DEB_PACKAGES := libdpdk-dev dpdk dpdk-dev clang libclang-dev pkg-config nginx-light socat iputils-ping iproute2 \
	tcpdump python3-scapy curl ethtool tshark

.PHONY: all deps build test unit e2e demo demo-stop bench lab image lab-image alternatives

all: build

## deps: install the Debian packages (skips apt entirely when everything is installed)
deps:
	scripts/install-deps.sh $(DEB_PACKAGES)
	@command -v $(CARGO) >/dev/null || { echo "cargo not found (PATH=$$PATH)"; exit 1; }

## build: release build of every crate (rvsd, rvsadm)
build:
	CARGO=$(CARGO) scripts/build.sh

## unit: format, lints, unit and integration tests (release profile, shared with `build`)
unit: deps
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) test --workspace --release
	$(CARGO) test -p rvs-dataplane --no-default-features --release

## e2e: the namespace lab end-to-end scripts (needs root); 50-docker runs the appliance image built by `image`
e2e: deps build image
	tests/e2e/run.sh

## image: the appliance container image (docker/Dockerfile) with podman; seeds debian:12 offline and reuses the
## host's Rust toolchain and build (scripts/image.sh, docker/README.md)
image: build
	scripts/image.sh appliance

## lab-image: the lab image (docker/Dockerfile.lab): the e2e suite and `tests/lab` with every lab package
lab-image: build
	scripts/image.sh lab

## test: everything CI runs
test: unit e2e

## demo: bring up the lab with rvsd, load the practical, curl it twice, leave it running
demo: deps build
	tests/lab/demo.sh up $(WORKERS)

## demo-stop: tear the demo down
demo-stop:
	tests/lab/demo.sh down

## bench: dataplane benchmarks (rvs-bench against dpdk-testpmd, then instructions per packet under callgrind);
## the figures and their reading are in BENCHMARKS.md
bench: deps build
	@command -v valgrind >/dev/null || { export DEBIAN_FRONTEND=noninteractive; apt-get install -y -qq --no-install-recommends valgrind; }
	$(CARGO_TARGET_DIR)/release/rvs-bench
	bench/callgrind.sh
	$(MAKE) --no-print-directory alternatives

## alternatives: the namespace lab (client, balancer, two nginx) through rvsd, HAProxy 2.6 (tcp mode), nginx stream
## and nftables DNAT, interleaved, three rounds; prints the medians (bench/alternatives.sh, BENCHMARKS.md; root)
alternatives: deps build
	scripts/install-deps.sh haproxy libnginx-mod-stream nftables wrk
	bench/alternatives.sh

## lab: rvsd on two net_vhost ports, dpdk-testpmd on virtio_user as source (txonly, UDP to a NAT VIP) and sink
## (icmpecho, answers rvsd's ARP); prints testpmd and rvsd rates (needs root; LAB_SECONDS, LAB_FWD=f for FULLNAT)
lab: deps build
	bench/virtio-lab.sh
