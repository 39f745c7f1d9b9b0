# s2i-operator: one Makefile for everything.
#
#   make            build the binaries (release flags) into build/
#   make test       sanitizer build, unit tests (Check), kube-sim tests, conformance, e2e
#   make unit       sanitizer build and unit tests only
#   make e2e        end-to-end tests (sanitizer build)
#   make valgrind   unit tests and one e2e run under valgrind (release build)
#   make lint       clang-tidy + cppcheck;  make fmt  clang-format in place
#   make bench      benchmarks, printing numbers;  make demo  the end-to-end demo
#   make chaos      reliability suite, 1,000 runs per scenario (chaos-short: ~100, in make test)
#   make fuzz       libFuzzer targets, 1,000,000 executions each (fuzz-smoke: seconds, in make test)
#   make deps       install the Debian packages the build and tests need
#   make manifests  regenerate config/crd, config/samples, deploy/s2i-operator.yaml
#   make image      container images (config/images) with buildah, podman or docker
#   make images-daemonless REGISTRY=host:port   our images with no daemon (hack/fixtures.sh)
#
# Layout: every pkg/<module>/ is built into build/lib/lib<module>.a; its
# pkg/<module>/module.mk names the modules it links against (<module>_DEPS, all
# of them, transitively, in link order). cmd/<binary>/cmd.mk does the same for a
# binary (s2i-builder's also makes its self-contained bundle, hack/bundle.sh).
# test/unit/test_<module>[_<part>].c is a Check suite linked against
# <module> and its deps.

SHELL := /bin/bash
VERSION := 0.1.0
CC ?= gcc
SAN ?= 0

ifeq ($(SAN),1)
BUILD ?= build/asan
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD ?= build
SANFLAGS :=
endif

PKGS := libcurl json-c yaml-0.1 openssl libwebsockets libarchive zlib
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null)

CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -Ipkg -DS2I_VERSION=\"$(VERSION)\" \
          $(PKG_CFLAGS) $(SANFLAGS)
LDFLAGS += $(SANFLAGS)
LDLIBS := $(PKG_LIBS) -lpthread -lm

MODULES := $(patsubst pkg/%/,%,$(sort $(dir $(wildcard pkg/*/*.c))))
BINARIES := $(patsubst cmd/%/,%,$(sort $(dir $(wildcard cmd/*/main.c))))
UNIT_SRCS := $(sort $(wildcard test/unit/test_*.c))
UNIT_BINS := $(patsubst test/unit/%.c,$(BUILD)/test/%,$(UNIT_SRCS))
BENCH_SRCS := $(sort $(wildcard test/bench/bench_*.c))
BENCH_BINS := $(patsubst test/bench/%.c,$(BUILD)/bench/%,$(BENCH_SRCS))

-include $(wildcard pkg/*/module.mk) $(wildcard cmd/*/cmd.mk)

lib_of = $(BUILD)/lib/lib$(1).a
libs_for = $(foreach m,$(1) $($(1)_DEPS),$(call lib_of,$(m)))
test_module = $(word 2,$(subst _, ,$(basename $(notdir $(1)))))

.PHONY: all test unit e2e gitops kube-sim-test conformance valgrind lint fmt bench demo deps clean \
        check-deps unit-build manifests image images-daemonless fuzz fuzz-smoke chaos chaos-short
all: $(foreach b,$(BINARIES),$(BUILD)/bin/$(b))

# ---- compilation -----------------------------------------------------------

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

define module_rule
$(call lib_of,$(1)): $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard pkg/$(1)/*.c))
	@mkdir -p $$(dir $$@)
	rm -f $$@ && ar rcs $$@ $$^
endef
$(foreach m,$(MODULES),$(eval $(call module_rule,$(m))))

define binary_rule
$(BUILD)/bin/$(1): $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard cmd/$(1)/*.c)) \
                   $(foreach m,$($(1)_DEPS),$(call lib_of,$(m)))
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $$(filter %.o,$$^) $$(foreach m,$($(1)_DEPS),$$(call lib_of,$$(m))) $$(LDLIBS)
endef
$(foreach b,$(BINARIES),$(eval $(call binary_rule,$(b))))

$(BUILD)/obj/test/unit/%.o: test/unit/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CHECK_CFLAGS) -Itest/unit -MMD -MP -c $< -o $@

define unit_rule
$(BUILD)/test/$(basename $(notdir $(1))): $(BUILD)/obj/test/unit/$(basename $(notdir $(1))).o \
        $(call libs_for,$(call test_module,$(1)))
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(CHECK_LIBS) $$(LDLIBS)
endef
$(foreach t,$(UNIT_SRCS),$(eval $(call unit_rule,$(t))))

# test/bench/bench_<module>.c: a plain program linked like that module's unit tests.
define bench_rule
$(BUILD)/bench/$(basename $(notdir $(1))): $(BUILD)/obj/test/bench/$(basename $(notdir $(1))).o \
        $(call libs_for,$(call test_module,$(1)))
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS)
endef
$(foreach t,$(BENCH_SRCS),$(eval $(call bench_rule,$(t))))

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# ---- tests -----------------------------------------------------------------

check-deps:
	@hack/deps.sh --check >/dev/null 2>&1 || hack/deps.sh

unit-build: $(UNIT_BINS)

# The whole suite, as CI runs it. Sanitizers are on for everything C.
test: check-deps
	$(MAKE) SAN=1 all unit-build
	$(MAKE) SAN=1 unit
	$(MAKE) kube-sim-test
	$(MAKE) conformance
	$(MAKE) SAN=1 e2e
	$(MAKE) SAN=1 gitops
	$(MAKE) SAN=1 chaos-short
	$(MAKE) fuzz-smoke

unit: $(UNIT_BINS)
	@hack/run-unit.sh $(UNIT_BINS)

kube-sim-test:
	cd test/kube-sim && python3 -m unittest discover -s tests -t .

conformance:
	hack/conformance.sh

e2e: all
	BUILD=$(BUILD) hack/run-e2e.sh

# Argo CD health check (Lua), kstatus rules, and live operator states against them.
gitops: all
	cd test && S2I_BUILD_DIR=$(CURDIR)/$(BUILD) python3 -m unittest discover -s gitops -t .

# The unit tests, then an end-to-end run (a build that succeeds, one that fails, a clean
# SIGTERM) with the operator under valgrind: any memory error or leak is a non-zero exit.
VALGRIND_E2E := e2e.test_operator.OperatorTest.test_successful_run_reports_image_and_source \
	e2e.test_operator.OperatorTest.test_failed_build_has_reason_and_log_tail \
	e2e.test_operator.OperatorTest.test_sigterm_stops_cleanly
valgrind:
	$(MAKE) SAN=0 all unit-build
	VALGRIND=1 hack/run-unit.sh $(UNIT_BINS)
	BUILD=$(BUILD) E2E_TESTS="$(VALGRIND_E2E)" S2I_E2E_WRAPPER="valgrind --quiet \
	    --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect" \
	    hack/run-e2e.sh

lint:
	hack/lint.sh

fmt:
	clang-format -i $$(git ls-files '*.c' '*.h')

bench: all $(BENCH_BINS)
	BUILD=$(BUILD) hack/bench.sh

# The reliability suite (test/chaos): runs under API faults and restarts, operator and
# leader SIGKILL; 1,000 runs per scenario (CHAOS_RUNS), ~100 in the short form of make test.
chaos: all
	BUILD=$(BUILD) hack/chaos.sh
chaos-short: all
	BUILD=$(BUILD) hack/chaos.sh --short

# libFuzzer (clang) targets test/fuzz/fuzz_*.c, built from each file's header: 1,000,000
# executions each (FUZZ_RUNS) on scratch copies of test/fuzz/corpus; fuzz-smoke: seconds each.
fuzz:
	hack/fuzz.sh
fuzz-smoke:
	hack/fuzz.sh --smoke

demo: check-deps all
	BUILD=$(BUILD) hack/demo.sh

# Our images without a daemon or a base image: the prepare image (--builder-image) and the
# sample builder and runtime images, made from local files by `s2i-builder image
# push-rootfs` and pushed to REGISTRY (plain HTTP). See hack/fixtures.sh.
images-daemonless: all
	@test -n "$(REGISTRY)" || { echo "usage: make images-daemonless REGISTRY=host:port" >&2; exit 2; }
	BUILD=$(BUILD) hack/fixtures.sh images $(REGISTRY) prepare builder runtime

deps:
	hack/deps.sh

# ---- deployment (config/, deploy/; see config/README.md) ---------------------
# The copies of crds/ in config/ and deploy/s2i-operator.yaml (kubectl kustomize
# config/default); `hack/manifests.sh --check` exits 1 when they are stale.
manifests:
	hack/manifests.sh

# The operator and prepare images from config/images/*/Containerfile. Without an
# engine it says so and fails; the prepare image is also built daemonless by
# s2i-builder's own image code.
image:
	VERSION=$(VERSION) config/images/build.sh

clean:
	rm -rf build
