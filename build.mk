# Everything of ours that is compiled: the guest programs (static, musl,
# against the UAPI headers in HEADERS), the host supervisor, and the
# initramfs. Driven by runner/check; variables come from runner/lib.sh.
OUT ?= out
# Set by runner/check; needed only for the guest programs and the rootfs.
HEADERS ?=
GEN_INIT_CPIO_SRC ?=
# tools/testing/selftests/mm of the tree under test (check-kselftest).
KSELFTEST_SRC ?=
BUSYBOX ?= /bin/busybox
MUSL_CC ?= musl-gcc
CC ?= gcc

# Rows name only the fields they use, as kernel tables do.
WARN := -Wall -Wextra -Werror -Wno-missing-field-initializers
GUEST_CFLAGS = -static -O2 -g $(WARN) -isystem $(HEADERS) -pthread
HOST_CFLAGS := -O2 -g $(WARN)

# runner/check gives each kernel tree its own: out/guest/<tree's cache key>.
GUEST ?= $(OUT)/guest
HOST := $(OUT)/host
# What the guest programs were built from: another tree under test (other
# headers, other selftests) rebuilds them, whatever the files' times.
BUILT_FOR := $(GUEST)/.built-for
ifneq ($(HEADERS),)
$(shell mkdir -p $(GUEST); echo '$(HEADERS) $(KSELFTEST_SRC)' | cmp -s - $(BUILT_FOR) || \
	echo '$(HEADERS) $(KSELFTEST_SRC)' >$(BUILT_FOR))
endif
SCENARIO_SRC := $(wildcard tests/*.c)
SCENARIO_HDR := $(wildcard tests/*.h)

.PHONY: all guest host
all: $(GUEST)/rootfs.cpio $(HOST)/supervise
guest: $(GUEST)/init $(GUEST)/uffd-scenarios $(GUEST)/tap-runner $(GUEST)/fault-inject $(GUEST)/fault-cost
host: $(HOST)/supervise

# runner/bench's probe of the host (not part of a check).
$(HOST)/host-remap: tests/bench/host-remap.c
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -o $@ $<

$(GUEST)/uffd-scenarios: $(SCENARIO_SRC) $(SCENARIO_HDR) $(BUILT_FOR)
	@mkdir -p $(@D)
	$(MUSL_CC) $(GUEST_CFLAGS) -o $@ $(SCENARIO_SRC)

$(GUEST)/fault-inject: tests/faults/fault-inject.c $(BUILT_FOR)
	@mkdir -p $(@D)
	$(MUSL_CC) $(GUEST_CFLAGS) -o $@ $<

$(GUEST)/fault-cost: tests/bench/fault-cost.c tests/uffd-common.c tests/uffd-common.h tests/uffd-uapi.h $(BUILT_FOR)
	@mkdir -p $(@D)
	$(MUSL_CC) $(GUEST_CFLAGS) -o $@ tests/bench/fault-cost.c tests/uffd-common.c

$(GUEST)/tap-runner: runner/tap-runner.c $(BUILT_FOR)
	@mkdir -p $(@D)
	$(MUSL_CC) $(GUEST_CFLAGS) -o $@ $<

$(GUEST)/init: rootfs/init.c $(BUILT_FOR)
	@mkdir -p $(@D)
	$(MUSL_CC) $(GUEST_CFLAGS) -o $@ $<

SUPERVISE_SRC := runner/supervise.c runner/console-scan.c runner/report.c
$(HOST)/supervise: $(SUPERVISE_SRC) runner/console-scan.h runner/report.h
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -o $@ $(SUPERVISE_SRC)

# Upstream's own sources, as they are in the tree under test; warnings are
# theirs to fix, not ours to fail on.
# -I..: 7.3 includes "kselftest.h" from tools/testing/selftests.
KSELFTEST_CFLAGS = -static -O2 -w -I.. -isystem $(HEADERS) -pthread
# 7.3 renamed thp_settings.c hugepage_settings.c; uffd-wp-mremap came
# with 6.13.
KSELFTEST_COMMON = uffd-common.c vm_util.c \
	$(notdir $(wildcard $(KSELFTEST_SRC)/thp_settings.c $(KSELFTEST_SRC)/hugepage_settings.c))
KSELFTEST_PROGS = $(notdir $(basename $(wildcard $(addprefix $(KSELFTEST_SRC)/, \
	uffd-unit-tests.c uffd-stress.c uffd-wp-mremap.c))))
$(GUEST)/kselftest/%: $(KSELFTEST_SRC)/%.c $(BUILT_FOR) $(addprefix $(KSELFTEST_SRC)/,$(KSELFTEST_COMMON) uffd-common.h)
	@mkdir -p $(@D)
	cd $(KSELFTEST_SRC) && $(MUSL_CC) $(KSELFTEST_CFLAGS) -o $(abspath $@) $*.c $(KSELFTEST_COMMON)

$(GUEST)/rootfs-kselftest.cpio: rootfs/initramfs.list rootfs/kselftest.list $(GUEST)/init $(GUEST)/uffd-scenarios $(GUEST)/tap-runner $(GUEST)/fault-inject $(GUEST)/fault-cost $(addprefix $(GUEST)/kselftest/,$(KSELFTEST_PROGS)) $(HOST)/gen_init_cpio $(BUSYBOX)
	{ cat rootfs/initramfs.list rootfs/kselftest.list; \
	  for p in $(KSELFTEST_PROGS); do \
		echo "file /kselftest/$$p $(abspath $(GUEST))/kselftest/$$p 0755 0 0"; done; } >$@.list
	BUSYBOX=$(BUSYBOX) GUEST=$(abspath $(GUEST)) \
		$(HOST)/gen_init_cpio -t 0 $@.list >$@.tmp
	mv $@.tmp $@
	rm -f $@.list

$(HOST)/gen_init_cpio: $(GEN_INIT_CPIO_SRC)
	@mkdir -p $(@D)
	$(CC) -O2 -o $@ $<

$(GUEST)/rootfs.cpio: rootfs/initramfs.list $(GUEST)/init $(GUEST)/uffd-scenarios $(GUEST)/tap-runner $(GUEST)/fault-inject $(GUEST)/fault-cost $(HOST)/gen_init_cpio $(BUSYBOX)
	BUSYBOX=$(BUSYBOX) GUEST=$(abspath $(GUEST)) \
		$(HOST)/gen_init_cpio -t 0 $< >$@.tmp
	mv $@.tmp $@
