# kcm-rs developer entry points. `make test` works on a fresh machine with Rust and Go 1.26:
# it builds (or takes from ~/.cache) etcd + kube-apiserver + kube-controller-manager, builds the
# workspace, and runs unit and integration tests against a real apiserver.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := test

export PATH := $(HOME)/.cargo/bin:/usr/local/go/bin:$(PATH)

CARGO ?= cargo
# Where `make testenv-up` puts its environment (kubeconfigs, logs, env file).
TESTENV_DIR ?= target/testenv
# `make release`: the image reference (config/manifests/*.yaml name localhost/kcm-rs:<version>),
# the tag (default: the binary's version) and the org.opencontainers.image.source label.
IMAGE_NAME ?= localhost/kcm-rs
IMAGE_TAG ?=
IMAGE_SOURCE ?= $(shell git remote get-url origin 2>/dev/null)
RELEASE_DIR ?= target/release-image
# Where `make up` runs its cluster (see tests/env/cluster.sh).
CLUSTER_DIR ?= target/cluster
# `make bench`: which workloads (comma-separated; empty: the default set) and the run's
# parameters, e.g. BENCH=deployments BENCH_ARGS='--quick' or BENCH_ARGS='--sizes=5000 --qps=50 upstream release'.
BENCH ?=
BENCH_ARGS ?=
# Extra arguments for the test binaries, e.g. CARGO_TEST_ARGS='--test-threads=1 --nocapture'.
CARGO_TEST_ARGS ?=

.PHONY: test preflight release k8s-bin build testenv-up testenv-down testenv-status lint fmt demo bench up down

## test: build everything that is missing, then run all unit and integration tests
# (--no-fail-fast: every test binary runs and reports, even after a failure).
# Each integration test binary starts its own etcd + kube-apiserver (about 5 s) unless
# KCM_TESTENV names a running environment (see testenv-up).
test: preflight
	K8S_BIN_DIR=$$(tests/env/build.sh | tail -n 1); export K8S_BIN_DIR; \
	echo "make: Kubernetes binaries in $$K8S_BIN_DIR"; \
	$(CARGO) build --workspace --all-targets; \
	$(CARGO) test --workspace --no-fail-fast -- $(CARGO_TEST_ARGS)

## preflight: seconds-long checks (toolchains, free disk, cache state), on this machine and again
## with an empty HOME, so a step that only works once ~/.cache or ~/go exist fails here too.
preflight:
	tests/env/preflight.sh

## release: the stripped release binary and its OCI image archive in $(RELEASE_DIR)
## (kcm-rs and kcm-rs.oci.tar), written without a container daemon; then the image test
## (release/tests/image.rs) unpacks that archive and runs the binary from it.
release:
	@if command -v git >/dev/null && ! git diff --quiet HEAD 2>/dev/null; then \
	  echo "make release: warning: uncommitted changes; the image is labelled with commit $$(git rev-parse HEAD)" >&2; fi
	$(CARGO) build --release -p kcm-rs --bin kcm-rs
	archive=$$($(CARGO) run --release -q -p kcm-release -- \
	  --binary "$${CARGO_TARGET_DIR:-target}/release/kcm-rs" --output $(RELEASE_DIR) \
	  --name '$(IMAGE_NAME)' $(if $(IMAGE_TAG),--tag '$(IMAGE_TAG)') --source '$(IMAGE_SOURCE)' | tail -n 1); \
	KCM_RELEASE_IMAGE=$$(realpath "$$archive") $(CARGO) test --release -p kcm-release --test image; \
	echo "make release: $$archive"

## k8s-bin: build the Kubernetes binaries (cached in ~/.cache/kcm-rs/k8s-bin).
k8s-bin:
	tests/env/build.sh

## build: build the workspace.
build:
	$(CARGO) build --workspace --all-targets

## testenv-up: start a long-lived environment in $(TESTENV_DIR) for manual use or reuse.
testenv-up:
	K8S_BIN_DIR=$$(tests/env/build.sh | tail -n 1) tests/env/testenv.sh up $(TESTENV_DIR)
	@echo "Use it:   source $(TESTENV_DIR)/env && kubectl get ns   (or curl with \$$ADMIN_TOKEN)"
	@echo "Reuse it: KCM_TESTENV=$(abspath $(TESTENV_DIR)) cargo test -p kcm-tests"

## testenv-down: stop the environment in $(TESTENV_DIR).
testenv-down:
	tests/env/testenv.sh down $(TESTENV_DIR)

## testenv-status: show whether the environment in $(TESTENV_DIR) is up and ready.
testenv-status:
	tests/env/testenv.sh status $(TESTENV_DIR)

## lint: formatting and clippy, warnings are errors.
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## fmt: format the workspace.
fmt:
	$(CARGO) fmt --all

## demo: a scripted tour of every kcm-rs controller on the cluster of `make up` (started if
## it is not running, and stopped again at the end unless KEEP=1; a cluster that was already
## up is left running).
demo:
	K8S_BIN_DIR=$$(tests/env/build.sh | tail -n 1); export K8S_BIN_DIR; \
	$(CARGO) build --release -p kcm-rs -p kcm-virtual-node; \
	$(CARGO) build -q -p kcm-tests --example demo; \
	started=0; \
	if ! tests/env/cluster.sh status $(CLUSTER_DIR) >/dev/null 2>&1; then \
	  tests/env/cluster.sh up $(CLUSTER_DIR); started=1; \
	fi; \
	rc=0; $(CARGO) run -q -p kcm-tests --example demo -- $(CLUSTER_DIR) || rc=$$?; \
	if [ "$$started" = 1 ] && [ "$${KEEP:-0}" != 1 ]; then \
	  tests/env/cluster.sh down $(CLUSTER_DIR); \
	else \
	  echo "make: the cluster stays up (make down stops it): source $(CLUSTER_DIR)/cluster.env"; \
	fi; \
	exit $$rc

## up: a long-lived local cluster in $(CLUSTER_DIR): etcd, kube-apiserver, kube-scheduler,
## kcm-rs (release), the upstream kube-controller-manager for the controllers kcm-rs lacks
## (UPSTREAM_REST=0: none) and kcm-virtual-node with 3 nodes. Prints how to use it.
up:
	K8S_BIN_DIR=$$(tests/env/build.sh | tail -n 1); export K8S_BIN_DIR; \
	$(CARGO) build --release -p kcm-rs -p kcm-virtual-node; \
	tests/env/cluster.sh up $(CLUSTER_DIR)

## down: stop what `make up` started.
down:
	tests/env/cluster.sh down $(CLUSTER_DIR)

## bench: every workload (deployments, endpoints, namespace, podgc, scale, floor) once per
## contender, upstream kube-controller-manager and kcm-rs (release), each on a fresh etcd +
## kube-apiserver with the same controllers, limits and workers; markdown on stdout, JSON and
## SVG charts in target/bench/. BENCH=deployments for one workload (also replicasets,
## virtual-node); BENCH_ARGS for sizes, limits and contenders (--quick: small sizes); flags are
## listed at the top of tests/examples/bench.rs.
bench:
	K8S_BIN_DIR=$$(tests/env/build.sh | tail -n 1); export K8S_BIN_DIR; \
	$(CARGO) build --release -p kcm-rs -p kcm-virtual-node; \
	$(CARGO) run --release -q -p kcm-tests --example bench -- $(if $(BENCH),--bench=$(BENCH)) $(BENCH_ARGS)

## bench-WORKLOAD: the old per-workload targets, now `make bench BENCH=WORKLOAD`.
.PHONY: bench-replicasets bench-endpoints bench-namespace bench-podgc bench-scale bench-deployments bench-floor bench-virtual-node
bench-replicasets bench-endpoints bench-namespace bench-podgc bench-scale bench-deployments bench-floor bench-virtual-node:
	$(MAKE) bench BENCH=$(patsubst bench-%,%,$@)
