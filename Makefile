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
# Load duration of `make soak` in seconds (`make test` runs the soak for 60).
SOAK_SECONDS ?= 600

DEB_PACKAGES := libdpdk-dev dpdk dpdk-dev clang libclang-dev pkg-config nginx-light socat iputils-ping iproute2 \
	tcpdump python3-scapy curl ethtool tshark wrk

.PHONY: all deps build test unit e2e soak demo demo-stop bench lab

all: build

## deps: install the Debian packages (skips apt entirely when everything is installed)
deps:
	@missing=""; \
	for p in $(DEB_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' "$$p" 2>/dev/null | grep -q '^install ok installed$$' || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then echo "deps: all packages present"; exit 0; fi; \
	echo "deps: installing$$missing"; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get update -qq; \
	apt-get install -y -qq --no-install-recommends $$missing
	@command -v $(CARGO) >/dev/null || { echo "cargo not found (PATH=$$PATH)"; exit 1; }

## build: release build of every crate (rvsd, rvsadm)
build:
	$(CARGO) build --release --workspace

## unit: format, lints, unit and integration tests (release profile, shared with `build`)
unit: deps
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) test --workspace --release
	$(CARGO) test -p rvs-dataplane --no-default-features --release

## e2e: the namespace lab end-to-end scripts (needs root)
e2e: deps build
	tests/e2e/run.sh

## soak: 10 minutes of load through a NAT and a FULLNAT VIP while real servers come and go (tests/e2e/40-soak.sh
## with SOAK_SECONDS=600; `make test` runs its 60 s version); the last line gives the figures (needs root)
soak: deps build
	SOAK_SECONDS=$(SOAK_SECONDS) RVS_E2E_TIMEOUT=$$(($(SOAK_SECONDS) + 400)) tests/e2e/run.sh tests/e2e/40-soak.sh

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

## lab: rvsd on two net_vhost ports, dpdk-testpmd on virtio_user as source (txonly, UDP to a NAT VIP) and sink
## (icmpecho, answers rvsd's ARP); prints testpmd and rvsd rates (needs root; LAB_SECONDS, LAB_FWD=f for FULLNAT);
## then rvs-gen's scenarios against rvsd (UDP flows, SYN flood, full TCP connections through NAT and FULLNAT
## against its stateless responder; bench/gen-lab.sh, GEN_SECONDS, GEN_SCENARIOS...)
lab: deps build
	bench/virtio-lab.sh
	bench/gen-lab.sh
