# compat: one multicall binary (see README.md and ../shared/DESIGN.md).
#
# Sources are found by wildcard: a new core module is a new core/NAME.c, a new
# unit test a new tests/unit/test_NAME.c, a new fuzz target tests/fuzz/fuzz_NAME.c,
# a new proto a new proto/NAME.proto (+ NAME.options). Nothing here needs editing.
#
#   make            bin/compat and its symlinks (dynamic link)
#   make static     bin/compat linked statically
#   make check      unit + integration tests + a short fuzz run; ends "N passed, N failed, N skipped"
#   make SANITIZE=1 check   the same under ASan+UBSan (objects go to build/san)
#   make fuzz FUZZ_SECONDS=N   every libFuzzer target for N seconds
#   make deps       apt-get install everything the build, the tests and the benchmarks use

VERSION     := 0.1.0
CC          ?= cc
PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
FUZZ_SECONDS ?= 10
PKGS        := libelf libnghttp2 jansson zlib
PKG_CFLAGS  := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS    := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# mbedtls 2.28 and nanopb ship no pkg-config file on Debian 12.
EXTRA_LIBS  := -lmbedtls -lmbedx509 -lmbedcrypto -lprotobuf-nanopb
LIBS        := $(PKG_LIBS) $(EXTRA_LIBS)
STATIC_LIBS := -Wl,-Bstatic $(shell pkg-config --static --libs $(PKGS) 2>/dev/null) $(EXTRA_LIBS)

OPT         ?= -O2
CFLAGS      ?= $(OPT) -g
WARN        := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
BUILD_CFLAGS := -std=gnu11 $(WARN) -D_GNU_SOURCE -DCOMPAT_VERSION='"$(VERSION)"' \
                -ffunction-sections -fdata-sections \
                -I. -Ibuild/gen $(PKG_CFLAGS)

ifeq ($(SANITIZE),1)
  BUILD     := build/san
  CFLAGS    += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  LDFLAGS   += -fsanitize=address,undefined
else
  BUILD     := build/$(if $(filter clang%,$(notdir $(CC))),clang,gcc)
endif

PROTOS      := $(wildcard proto/*.proto)
GEN_C       := $(patsubst proto/%.proto,build/gen/%.pb.c,$(PROTOS))
GEN_H       := $(GEN_C:.c=.h)
CORE_SRC    := $(sort $(wildcard core/*.c))
APPLET_SRC  := $(sort $(wildcard applets/*.c))
CORE_OBJ    := $(patsubst %.c,$(BUILD)/%.o,$(CORE_SRC)) $(patsubst build/gen/%.c,$(BUILD)/gen/%.o,$(GEN_C))
APPLET_OBJ  := $(patsubst %.c,$(BUILD)/%.o,$(APPLET_SRC)) $(BUILD)/main.o
UNIT_SRC    := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN    := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
FUZZ_SRC    := $(sort $(wildcard tests/fuzz/fuzz_*.c))
LINKS       := compat-gen compat-check compat-server compat-trace

all: bin/compat

# bin/compat is relinked when the build variant (gcc, clang, san) changes:
# each variant has its own objects, which may all be older than the binary.
VARIANT_STAMP := bin/.variant-$(notdir $(BUILD))
$(VARIANT_STAMP):
	@mkdir -p bin
	@rm -f bin/.variant-*
	@touch $@

bin/compat: $(APPLET_OBJ) $(CORE_OBJ) $(VARIANT_STAMP)
	@mkdir -p bin
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LIBS)
	@for l in $(LINKS); do ln -sf compat bin/$$l; done

# STATIC_OUT: where the static binary goes (tests build one aside). The
# static variant has its own objects, built for size (the budget is 2 MiB).
STATIC_OUT ?= bin/compat
# COMPAT_IMAGE_GEN=0: no `gen IMAGE` in the static binary (core/image.h).
STATIC_CFLAGS ?= -Os -fno-asynchronous-unwind-tables -DCOMPAT_IMAGE_GEN=0
static:
	@$(MAKE) --no-print-directory BUILD=build/static CFLAGS="$(STATIC_CFLAGS)" SANITIZE= \
		STATIC_OUT=$(STATIC_OUT) static-link

static-link: $(APPLET_OBJ) $(CORE_OBJ)
	@mkdir -p $(dir $(STATIC_OUT))
	$(CC) -static -Wl,--gc-sections $(LDFLAGS) -o $(STATIC_OUT) $^ $(STATIC_LIBS)
	strip $(STATIC_OUT)
	@for l in $(LINKS); do ln -sf $(notdir $(STATIC_OUT)) $(dir $(STATIC_OUT))$$l; done
	@if [ "$(STATIC_OUT)" = bin/compat ]; then rm -f bin/.variant-*; fi

$(BUILD)/%.o: %.c $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(BUILD_CFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/gen/%.o: build/gen/%.c $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(BUILD_CFLAGS) $(CFLAGS) -Wno-missing-prototypes -c -o $@ $<

# nanopb's generator picks up proto/NAME.options by itself.
build/gen/%.pb.c build/gen/%.pb.h: proto/%.proto $(wildcard proto/*.options)
	@mkdir -p build/gen
	nanopb_generator.py -q -I proto -D build/gen $<

$(BUILD)/tests/%: tests/unit/%.c $(CORE_OBJ) tests/unit/check.h
	@mkdir -p $(dir $@)
	$(CC) $(BUILD_CFLAGS) $(CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(CORE_OBJ) $(LIBS)

units: $(UNIT_BIN)

check: bin/compat $(UNIT_BIN)
	BUILD=$(BUILD) FUZZ_SECONDS=$(FUZZ_CHECK_SECONDS) SANITIZE=$(SANITIZE) bash tests/run.sh

FUZZ_CHECK_SECONDS ?= 5

# libFuzzer targets: clang, ASan+UBSan, core objects rebuilt in build/fuzz.
FUZZ_CORE_OBJ := $(patsubst %.c,build/fuzz/%.o,$(CORE_SRC)) $(patsubst build/gen/%.c,build/fuzz/gen/%.o,$(GEN_C))
FUZZ_FLAGS  := -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
FUZZ_BIN    := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(FUZZ_SRC))

build/fuzz/%.o: %.c $(GEN_H)
	@mkdir -p $(dir $@)
	clang $(BUILD_CFLAGS) $(FUZZ_FLAGS) -c -o $@ $<

build/fuzz/gen/%.o: build/gen/%.c $(GEN_H)
	@mkdir -p $(dir $@)
	clang $(BUILD_CFLAGS) -Wno-missing-prototypes $(FUZZ_FLAGS) -c -o $@ $<

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_CORE_OBJ)
	clang $(BUILD_CFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_CORE_OBJ) $(LIBS)

fuzz-build: $(FUZZ_BIN)

fuzz: $(FUZZ_BIN)
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash tests/fuzz/run.sh $(FUZZ_BIN)

demo: bin/compat
	bash tests/demo.sh

bench: bin/compat
	@for b in bench/*.sh; do echo "== $$b"; bash $$b || exit 1; done

UNITDIR ?= $(PREFIX)/lib/systemd/system
install: bin/compat
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR)
	install -m 755 bin/compat $(DESTDIR)$(BINDIR)/compat
	@for l in $(LINKS); do ln -sf compat $(DESTDIR)$(BINDIR)/$$l; done
	sed 's|/usr/local/bin|$(BINDIR)|' docs/compat-server.service > $(DESTDIR)$(UNITDIR)/compat-server.service

# Everything the build, tests, fuzzing and benchmarks use, from Debian 12.
DEB_PKGS := build-essential clang pkg-config libelf-dev libnghttp2-dev libjansson-dev \
  libmbedtls-dev libnanopb-dev nanopb zlib1g-dev protobuf-compiler python3-protobuf \
  python3-grpcio nghttp2-client docker-registry skopeo apache2-utils openssl curl \
  libtree pax-utils strace valgrind gcc-multilib libc6-dev-i386 libgrpc++-dev \
  protobuf-compiler-grpc hyperfine file busybox-static
print-deps:
	@echo $(DEB_PKGS)

deps:
	@if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(DEB_PKGS)

clean:
	rm -rf build bin

.PHONY: all static static-link check units fuzz fuzz-build demo bench install deps print-deps clean
# Generated protobuf code is kept (not deleted as an intermediate file).
.SECONDARY: $(GEN_C) $(GEN_H)

-include $(shell find build -name '*.d' 2>/dev/null)
