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

.PHONY: all deps build test unit e2e soak demo demo-stop bench lab image lab-image alternatives

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

## soak: 10 minutes of load through a NAT and a FULLNAT VIP while real servers come and go (tests/e2e/40-soak.sh
## with SOAK_SECONDS=600; `make test` runs its 60 s version); the last line gives the figures (needs root)
soak: deps build
	SOAK_SECONDS=$(SOAK_SECONDS) RVS_E2E_TIMEOUT=$$(($(SOAK_SECONDS) + 400)) tests/e2e/run.sh tests/e2e/40-soak.sh

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

## bench: every figure of BENCHMARKS.md, in order, each step bounded by a timeout (root: the labs): rvs-bench
## (every mode, 1 k / 1 M / 10 M sessions, testpmd io and macswap in the same invocation) -> the chart
## docs/bench/rvs-bench.png -> instructions per packet (callgrind: NAT/FULLNAT, then DR and the tunnels at 1 k) ->
## scaling over 1, 2, 4, 8 workers (as many as the CPUs allow) -> control plane at scale -> criterion -> the
## virtio lab (NAT, NAT with the sink on the worker's CPU, FULLNAT). Outputs in BENCH_OUT.
BENCH_OUT ?= $(CARGO_TARGET_DIR)/bench
BENCH_SESSIONS ?= 1000,1000000,10000000
BENCH_PACKETS ?= 5000000
bench: deps build
	@missing=""; for p in valgrind python3-matplotlib; do \
		dpkg-query -W -f='$${Status}\n' "$$p" 2>/dev/null | grep -q '^install ok installed$$' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then export DEBIAN_FRONTEND=noninteractive; apt-get update -qq; \
		apt-get install -y -qq --no-install-recommends $$missing; fi
	mkdir -p $(BENCH_OUT) docs/bench
	@echo "bench: $$(date -u +%FT%TZ), commit $$(git rev-parse --short HEAD 2>/dev/null), $$(nproc) CPUs, load $$(cut -d' ' -f1-3 /proc/loadavg)"
	timeout 2400 $(CARGO_TARGET_DIR)/release/rvs-bench --sessions $(BENCH_SESSIONS) --packets $(BENCH_PACKETS) \
		--out $(BENCH_OUT)/rvs-bench.csv 2>&1 | tee $(BENCH_OUT)/rvs-bench.txt
	/usr/bin/python3 bench/chart.py docs/bench/rvs-bench.png $(BENCH_OUT)/rvs-bench.csv \
		--log --title "rvs-bench $$(date -u +%F), commit $$(git rev-parse --short HEAD 2>/dev/null), $$(nproc) CPUs: Mpps per worker"
	OUT=$(BENCH_OUT)/callgrind timeout 1800 bench/callgrind.sh 2>&1 | tee $(BENCH_OUT)/callgrind.txt
	MODES="dr tun tungue tungre" SESSIONS=1000 DIRS="new in" OUT=$(BENCH_OUT)/callgrind \
		timeout 1200 bench/callgrind.sh 2>&1 | tee $(BENCH_OUT)/callgrind-dr-tun.txt
	OUT=$(BENCH_OUT)/scaling timeout 1800 bench/scaling.sh 2>&1 | tee $(BENCH_OUT)/scaling.txt
	timeout 900 bench/control-scale.sh 2>&1 | tee $(BENCH_OUT)/control-scale.txt
	timeout 900 $(CARGO) bench -p rvs-dataplane --no-default-features --bench dataplane 2>&1 | tee $(BENCH_OUT)/criterion.txt
	timeout 300 bench/virtio-lab.sh 2>&1 | tee $(BENCH_OUT)/lab-nat.txt
	LAB_SINK_CPU=1 timeout 300 bench/virtio-lab.sh 2>&1 | tee $(BENCH_OUT)/lab-nat-sink1.txt
	LAB_FWD=f LAB_SECONDS=4 LAB_WARMUP=2 timeout 300 bench/virtio-lab.sh 2>&1 | tee $(BENCH_OUT)/lab-fullnat.txt
	$(MAKE) --no-print-directory alternatives

## alternatives: the namespace lab (client, balancer, two nginx) through rvsd, HAProxy 2.6 (tcp mode), nginx stream
## and nftables DNAT, interleaved, three rounds; prints the medians (bench/alternatives.sh, BENCHMARKS.md; root)
alternatives: deps build
	scripts/install-deps.sh haproxy libnginx-mod-stream nftables wrk
	bench/alternatives.sh

## lab: rvsd on two net_vhost ports, dpdk-testpmd on virtio_user as source (txonly, UDP to a NAT VIP) and sink
## (icmpecho, answers rvsd's ARP); prints testpmd and rvsd rates (needs root; LAB_SECONDS, LAB_FWD=f for FULLNAT);
## then rvs-gen's scenarios against rvsd (UDP flows, SYN flood, full TCP connections through NAT and FULLNAT
## against its stateless responder; bench/gen-lab.sh, GEN_SECONDS, GEN_SCENARIOS...)
lab: deps build
	bench/virtio-lab.sh
	bench/gen-lab.sh
