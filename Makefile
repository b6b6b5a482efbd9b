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
# Extra arguments for the test binaries, e.g. CARGO_TEST_ARGS='--test-threads=1 --nocapture'.
CARGO_TEST_ARGS ?=

.PHONY: test k8s-bin build testenv-up testenv-down testenv-status lint fmt demo bench-replicasets

## test: build everything that is missing, then run all unit and integration tests
# (--no-fail-fast: every test binary runs and reports, even after a failure).
# Each integration test binary starts its own etcd + kube-apiserver (about 5 s) unless
# KCM_TESTENV names a running environment (see testenv-up).
test:
	K8S_BIN_DIR=$$(tests/env/build.sh | tail -n 1); export K8S_BIN_DIR; \
	echo "make: Kubernetes binaries in $$K8S_BIN_DIR"; \
	$(CARGO) build --workspace --all-targets; \
	$(CARGO) test --workspace --no-fail-fast -- $(CARGO_TEST_ARGS)

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

## demo: kcm-rs on a local control plane with sample workloads (config/demo/workloads.yaml).
demo:
	K8S_BIN_DIR=$$(tests/env/build.sh | tail -n 1); export K8S_BIN_DIR; \
	$(CARGO) build --workspace --bins --examples; \
	$(CARGO) run -q -p kcm-tests --example demo

## bench-replicasets: 200 ReplicaSets x 5 replicas to ready, upstream kube-controller-manager vs kcm-rs
## (debug and release), each on a fresh control plane with the same QPS limits.
bench-replicasets:
	K8S_BIN_DIR=$$(tests/env/build.sh | tail -n 1); export K8S_BIN_DIR; \
	$(CARGO) build -p kcm-rs && $(CARGO) build --release -p kcm-rs; \
	$(CARGO) run -q -p kcm-tests --example bench_replicasets -- upstream debug release

## bench-namespace: one namespace holding 5000 objects of 10 kinds (one a CRD) deleted, upstream
## kube-controller-manager vs kcm-rs (debug and release), each on a fresh control plane.
.PHONY: bench-namespace
bench-namespace:
	K8S_BIN_DIR=$$(tests/env/build.sh | tail -n 1); export K8S_BIN_DIR; \
	$(CARGO) build -p kcm-rs && $(CARGO) build --release -p kcm-rs; \
	$(CARGO) run -q -p kcm-tests --example bench_namespace -- upstream debug release
