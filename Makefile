# uffd-uml: the front door. `make check` and `make test` are the whole
# set-up on a fresh Debian machine (README.md); the work is done by the
# scripts under runner/, uml-kernel/ and build.mk.
#
# Exit status is part of the interface (0 good, 1 bad, 2 setup/usage), but
# GNU make exits 2 whenever a recipe fails. So a goal's driver runs as the
# recipe of an included status file, streaming its output as usual; make
# then restarts, reads the driver's status from that file and ends with it:
# 1 through question mode (-q), the only way make exits 1, and 2 through
# $(error) carrying the driver's one-line message ($ and # escaped: a
# compiler's "#error" is part of the message, not a make comment). The
# message of a status 1 (a kernel that does not build) is printed as it
# is, since $(error) would make it a 2.

GOALS := check test soak check-kselftest mutants bisect-demo matrix bench
GOAL := $(firstword $(filter $(GOALS),$(MAKECMDGOALS)))
STATUS := out/.status-$(GOAL).mk

.PHONY: $(GOALS) clean distclean FORCE
.DEFAULT_GOAL := check

ifneq ($(GOAL),)
ifeq ($(MAKE_RESTARTS),)
# First pass: run the driver. The stale file from a previous run, if any,
# is read but not acted on until the restart.
$(STATUS): FORCE
	@mkdir -p out; rm -f $@.err; \
	UFFD_UML_ERRFILE="$(CURDIR)/$@.err" ./runner/$(GOAL); rc=$$?; \
	if [ $$rc = 1 ] && [ -s $@.err ]; then cat $@.err >&2; rm -f $@.err; fi; \
	{ echo "GOAL_RC := $$rc"; \
	  [ -s $@.err ] && printf 'GOAL_ERR := %s\n' "$$(tr '\n' ' ' <$@.err | sed 's/ $$//; s/[$$]/$$$$/g; s/#/\\#/g')"; true; } >$@
-include $(STATUS)
else
include $(STATUS)
ifneq ($(GOAL_ERR),)
$(error $(GOAL_ERR))
endif
ifneq ($(GOAL_RC),0)
ifeq ($(GOAL_RC),1)
MAKEFLAGS += -q
else
$(error uffd-uml: $(GOAL) ended with status $(GOAL_RC))
endif
endif
endif
endif

$(GOALS):
	@:

clean:
	rm -rf out

# Also drops the cached kernel trees and builds (~3 GiB per kernel).
distclean: clean
	rm -rf "$${UFFD_UML_CACHE:-$${XDG_CACHE_HOME:-$$HOME/.cache}/uffd-uml}"
