# compat: one multicall binary (see README.md).
#
# Sources are found by wildcard: a new core module is a new core/NAME.c, a new
# unit test a new tests/unit/test_NAME.c, a new fuzz target tests/fuzz/fuzz_NAME.c,
# a new proto a new proto/NAME.proto (+ NAME.options). Nothing here needs editing.
#
#   make            bin/compat and its symlinks (dynamic link)
#   make static     bin/compat linked statically
#   make check      unit + integration tests; ends "N passed, N failed, N skipped"
#   make check-host the whole-machine sweeps and the Debian 11/12/13 cross-release trees
#   make check-cross  only the cross-release trees (root, minutes)
#   make check-fuzz every fuzz target for a few seconds
#   make SANITIZE=1 check   the same under ASan+UBSan (objects go to build/san)
#   make CC=clang SANITIZE=thread check   under ThreadSanitizer (build/tsan)
#   make fuzz FUZZ_SECONDS=N   every libFuzzer target for N seconds
#   make deps       apt-get install everything the build, the tests and the benchmarks use

VERSION     := 0.1.0
CC          ?= cc
PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
FUZZ_SECONDS ?= 10
# Library flags are computed when a recipe uses them (recursive '='), not when
# make reads this file: 'make deps demo' on a bare machine installs pkg-config
# and the -dev packages first, then builds with them. 'depcheck' (run before
# any compile) stops with one line naming what is missing.
PKGS        := libelf libnghttp2 jansson zlib
PKG_CFLAGS   = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# mbedtls 2.28 and nanopb ship no pkg-config file on Debian 12.
EXTRA_LIBS  := -lmbedtls -lmbedx509 -lmbedcrypto -lprotobuf-nanopb
# The default build links these libraries from their static archives and glibc
# dynamically (DESIGN §8): the loader has one library to map, so a process
# starts about as fast as /bin/true. LINK=shared links them dynamically.
LINK        ?= static-libs
ifeq ($(LINK),shared)
  LIBS       = $(shell pkg-config --libs $(PKGS) 2>/dev/null) $(EXTRA_LIBS)
else
  LIBS       = -Wl,-Bstatic $(shell pkg-config --static --libs $(PKGS) 2>/dev/null) $(EXTRA_LIBS) -Wl,-Bdynamic
endif
STATIC_LIBS  = -Wl,-Bstatic $(shell pkg-config --static --libs $(PKGS) 2>/dev/null) $(EXTRA_LIBS)

OPT         ?= -O2
CFLAGS      ?= $(OPT) -g
WARN        := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
BUILD_CFLAGS = -std=gnu11 $(WARN) -D_GNU_SOURCE -DCOMPAT_VERSION='"$(VERSION)"' \
                -ffunction-sections -fdata-sections \
                -I. -Ibuild/gen $(PKG_CFLAGS) $(SAN_FLAGS)

# The sanitizer flags are kept apart from CFLAGS so that 'make SANITIZE=1
# CFLAGS=-O1' still builds with them.
ifeq ($(SANITIZE),1)
  BUILD     := build/san
  SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  override LDFLAGS += -fsanitize=address,undefined
else ifeq ($(SANITIZE),thread)
  # ThreadSanitizer (make CC=clang SANITIZE=thread): the server's loops,
  # workers and control thread (docs/serve.md "Threads").
  BUILD     := build/tsan
  SAN_FLAGS := -fsanitize=thread -fno-omit-frame-pointer
  override LDFLAGS += -fsanitize=thread
else
  BUILD     := build/$(if $(filter clang%,$(notdir $(CC))),clang,gcc)
endif

PROTOS      := $(wildcard proto/*.proto)
GEN_C       := $(patsubst proto/%.proto,build/gen/%.pb.c,$(PROTOS))
GEN_H       := $(GEN_C:.c=.h)
CORE_SRC    := $(sort $(wildcard core/*.c))
APPLET_SRC  := $(sort $(wildcard applets/*.c))
CORE_OBJ    := $(patsubst %.c,$(BUILD)/%.o,$(CORE_SRC)) $(patsubst build/gen/%.c,$(BUILD)/gen/%.o,$(GEN_C)) \
               $(BUILD)/core/audit/embed.o $(BUILD)/core/audit/auditmap.o $(BUILD)/core/reflection_embed.o
# Server reflection (core/reflection.c) answers from the descriptors of every
# proto/*.proto: protoc writes them as one FileDescriptorSet (with whatever
# they import, no source comments) and core/reflection_embed.S embeds it
# (.incbin), as the audit objects are.
DESC_SET    := build/gen/descriptors.pb
APPLET_OBJ  := $(patsubst %.c,$(BUILD)/%.o,$(APPLET_SRC)) $(BUILD)/main.o
# The LD_AUDIT object of the loader cache (core/audit/, docs/trace.md): a
# -nostdlib shared object per ABI this host can build for (x86-64, and i386
# where $(CC) -m32 works), embedded into bin/compat by core/audit/embed.S
# (.incbin) and written by compat trace --cache DIR. Not in the core/*.c
# wildcard: only its map parser (auditmap.c) is also linked into compat.
# An ABI that cannot be built is embedded empty (compat says so at run time).
IS_CLANG    := $(filter clang%,$(notdir $(CC)))
AUDIT_DIR   := $(BUILD)/audit
AUDIT_SRC   := core/audit/compat-audit.c core/audit/auditmap.c
AUDIT_CFLAGS := -std=gnu11 $(WARN) -D_GNU_SOURCE -I. -O2 -fPIC -ffreestanding -fno-builtin \
                -fno-stack-protector -fno-asynchronous-unwind-tables -fvisibility=hidden \
                -ffunction-sections -fdata-sections $(if $(IS_CLANG),,-fno-tree-loop-distribute-patterns)
AUDIT_LDFLAGS := -shared -nostdlib -Wl,-z,defs -Wl,-z,noexecstack -Wl,-z,relro -Wl,--gc-sections \
                 -Wl,-z,noseparate-code -Wl,--build-id=none -Wl,--hash-style=gnu \
                 -Wl,-soname,compat-audit.so -s
HOST_ARCH   := $(shell uname -m)
AUDIT_ABIS  := $(if $(filter x86_64,$(HOST_ARCH)),x86_64 $(if $(shell printf '\043include <link.h>\nint f(void);int f(void){return LA_SER_ORIG;}\n' | \
                 $(CC) -m32 -D_GNU_SOURCE -shared -nostdlib -x c -o /dev/null - 2>/dev/null && echo y),i386))
AUDIT_SO    := $(patsubst %,$(AUDIT_DIR)/compat-audit-%.so,$(AUDIT_ABIS))
AUDIT_MFLAG_x86_64 := -m64
AUDIT_MFLAG_i386   := -m32
AUDIT_OBJ   := $(BUILD)/core/audit/embed.o $(BUILD)/core/audit/auditmap.o

UNIT_SRC    := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN    := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
FUZZ_SRC    := $(sort $(wildcard tests/fuzz/fuzz_*.c))
APPLETS     := $(shell sed -n 's/^\tAPPLET(\([a-z]*\)).*/\1/p' applets/applets.h)
# A link per applet, and the prototype's name for the server.
LINKS       := $(addprefix compat-,$(APPLETS)) compat-server

all: bin/compat

# bin/compat is relinked when the build variant (gcc, clang, san) changes:
# each variant has its own objects, which may all be older than the binary.
VARIANT_STAMP := bin/.variant-$(notdir $(BUILD))-$(LINK)
$(VARIANT_STAMP):
	@mkdir -p bin
	@rm -f bin/.variant-*
	@touch $@

bin/compat: $(APPLET_OBJ) $(CORE_OBJ) $(VARIANT_STAMP)
	@mkdir -p bin
	$(CC) -Wl,--gc-sections $(LDFLAGS) -o $@ $(filter %.o,$^) $(LIBS)
	@for l in $(LINKS); do ln -sf compat bin/$$l; done

# STATIC_OUT: where the static binary goes (tests build one aside). The
# static variant has its own objects, built for size (the budget is 2 MiB).
STATIC_OUT ?= bin/compat
STATIC_CFLAGS ?= -Os -fno-asynchronous-unwind-tables
static: | $(DEPS_FIRST)
	@$(MAKE) --no-print-directory BUILD=build/static CFLAGS="$(STATIC_CFLAGS)" SANITIZE= \
		STATIC_OUT=$(STATIC_OUT) static-link

static-link: $(APPLET_OBJ) $(CORE_OBJ)
	@mkdir -p $(dir $(STATIC_OUT))
	$(CC) -static -Wl,--gc-sections $(LDFLAGS) -o $(STATIC_OUT) $^ $(STATIC_LIBS)
	strip $(STATIC_OUT)
	@for l in $(LINKS); do ln -sf $(notdir $(STATIC_OUT)) $(dir $(STATIC_OUT))$$l; done
	@if [ "$(STATIC_OUT)" = bin/compat ]; then rm -f bin/.variant-*; touch bin/.variant-static; fi

# The commit goes into --version; core/version.o is rebuilt when it changes.
build/commit: FORCE
	@mkdir -p build
	@c=$$(git describe --always --dirty --abbrev=12 2>/dev/null || echo unknown); \
	[ "$$(cat $@ 2>/dev/null)" = "$$c" ] || echo "$$c" > $@
$(BUILD)/core/version.o: build/commit
$(BUILD)/core/version.o: BUILD_CFLAGS += -DCOMPAT_COMMIT='"$(shell cat build/commit 2>/dev/null)"'
FORCE:

# 'make deps X' installs first, even with -j: every compile waits for it.
DEPS_FIRST := $(filter deps,$(MAKECMDGOALS))

depcheck: | $(DEPS_FIRST)
	@command -v pkg-config > /dev/null || { echo "compat: pkg-config is not installed (run 'make deps')" >&2; exit 1; }; \
	missing=; for p in $(PKGS); do pkg-config --exists $$p || missing="$$missing $$p"; done; \
	for h in mbedtls/ssl.h pb.h; do [ -e /usr/include/$$h ] || missing="$$missing $$h"; done; \
	command -v nanopb_generator.py > /dev/null || missing="$$missing nanopb_generator.py"; \
	command -v protoc > /dev/null || missing="$$missing protoc"; \
	if [ -n "$$missing" ]; then echo "compat: missing build dependencies:$$missing (run 'make deps')" >&2; exit 1; fi

$(BUILD)/%.o: %.c $(GEN_H) | depcheck
	@mkdir -p $(dir $@)
	$(CC) $(BUILD_CFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/gen/%.o: build/gen/%.c $(GEN_H) | depcheck
	@mkdir -p $(dir $@)
	$(CC) $(BUILD_CFLAGS) $(CFLAGS) -Wno-missing-prototypes -c -o $@ $<

$(AUDIT_DIR)/compat-audit-%.so: $(AUDIT_SRC) core/audit/auditmap.h Makefile
	@mkdir -p $(dir $@)
	$(CC) $(AUDIT_MFLAG_$*) $(AUDIT_CFLAGS) $(AUDIT_LDFLAGS) -o $@ $(AUDIT_SRC) -lgcc

$(BUILD)/core/audit/embed.o: core/audit/embed.S $(AUDIT_SO)
	@mkdir -p $(dir $@)
	$(CC) -c $(foreach a,$(AUDIT_ABIS),-DAUDIT_SO_$(a)='"$(AUDIT_DIR)/compat-audit-$(a).so"') -o $@ $<

audit: $(AUDIT_SO)

$(DESC_SET): $(PROTOS) | depcheck
	@mkdir -p $(dir $@)
	protoc --descriptor_set_out=$@ --include_imports -Iproto $(PROTOS)

$(BUILD)/core/reflection_embed.o: core/reflection_embed.S $(DESC_SET)
	@mkdir -p $(dir $@)
	$(CC) -c -DDESCRIPTOR_SET='"$(DESC_SET)"' -o $@ $<

# nanopb's generator picks up proto/NAME.options by itself.
build/gen/%.pb.c build/gen/%.pb.h: proto/%.proto $(wildcard proto/*.options) | depcheck
	@mkdir -p build/gen
	nanopb_generator.py -q -I proto -D build/gen $<

$(BUILD)/tests/%: tests/unit/%.c $(CORE_OBJ) $(wildcard tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(BUILD_CFLAGS) $(CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(CORE_OBJ) $(LIBS)

units: $(UNIT_BIN)

# make check: unit and integration tests (budget: 60 s on 2 cores).
# make check-host: the whole-machine sweeps (gen = ldd on every ELF file,
# every program judged) and the Debian cross-release trees.
# make check-fuzz: every fuzz target for FUZZ_CHECK_SECONDS over its seeds.
check: bin/compat $(UNIT_BIN)
	BUILD=$(BUILD) SUITE=check SANITIZE=$(SANITIZE) bash tests/run.sh

check-host: bin/compat
	BUILD=$(BUILD) SUITE=host SANITIZE=$(SANITIZE) bash tests/run.sh

check-fuzz:
	BUILD=$(BUILD) SUITE=fuzz FUZZ_SECONDS=$(FUZZ_CHECK_SECONDS) bash tests/run.sh

FUZZ_CHECK_SECONDS ?= 5

# make check-threads: the server's tests (its loops, workers, control thread
# and shared index) under ThreadSanitizer, built with clang in build/tsan;
# bin/compat is the TSan build afterwards (`make` relinks the usual one).
THREAD_TESTS := test_server|test_service|test_fetcher|test_h2|test_hostindex|test_ev|serve|hostile|reflection
check-threads:
	$(MAKE) CC=clang SANITIZE=thread units bin/compat
	BUILD=build/tsan SUITE=check SANITIZE=thread TESTS='$(THREAD_TESTS)' bash tests/run.sh

# The cross-release sweep (docs/cross-release.md): Debian 11, 12 and 13 trees,
# each file judged by compat and by the other trees' own loaders. Root (chroot),
# a few minutes, deb.debian.org the first time; not part of `make check`.
check-cross: bin/compat
	BUILD=$(BUILD) SUITE=host TESTS=cross_release bash tests/run.sh

# libFuzzer targets: clang, ASan+UBSan, core objects rebuilt in build/fuzz.
FUZZ_CORE_OBJ := $(patsubst %.c,build/fuzz/%.o,$(CORE_SRC) core/audit/auditmap.c) \
                 $(patsubst build/gen/%.c,build/fuzz/gen/%.o,$(GEN_C)) $(BUILD)/core/audit/embed.o \
                 $(BUILD)/core/reflection_embed.o
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
	@for b in bench/*.sh; do [ $$b = bench/lib.sh ] && continue; echo "== $$b"; bash $$b || exit 1; done

UNITDIR ?= $(PREFIX)/lib/systemd/system
MANDIR  ?= $(PREFIX)/share/man/man1
DOCDIR  ?= $(PREFIX)/share/doc/compat
COMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions
# After 'make static', install what it built rather than relinking the default.
INSTALL_FROM := $(if $(wildcard bin/.variant-static),,bin/compat)

# Man pages, one per applet and one for compat, made from --help by help2man.
man: $(INSTALL_FROM)
	@command -v help2man > /dev/null || { echo "compat: help2man is not installed (run 'make deps')" >&2; exit 1; }
	@mkdir -p build/man
	help2man -N --no-discard-stderr -n 'will this program run on this node?' \
		--version-string=$(VERSION) -o build/man/compat.1 bin/compat
	@for a in $(APPLETS); do \
		n=$$(bin/compat $$a --help | awk 'BEGIN{RS=""} NR==2{gsub(/\n/," "); sub(/\. .*/,""); sub(/\.$$/,""); print; exit}'); \
		help2man -N --no-discard-stderr -n "$$n" --version-string=$(VERSION) \
			-o build/man/compat-$$a.1 bin/compat-$$a || exit 1; \
	done

install: $(INSTALL_FROM) man
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(MANDIR) $(DESTDIR)$(DOCDIR) $(DESTDIR)$(COMPLETIONDIR)
	install -m 755 bin/compat $(DESTDIR)$(BINDIR)/compat
	@for l in $(LINKS); do ln -sf compat $(DESTDIR)$(BINDIR)/$$l; done
	sed -e 's|/usr/local/bin|$(BINDIR)|' -e 's|/usr/local/share/doc/compat|$(DOCDIR)|' \
		docs/compat-server.service > $(DESTDIR)$(UNITDIR)/compat-server.service
	install -m 644 build/man/*.1 $(DESTDIR)$(MANDIR)/
	ln -sf compat-serve.1 $(DESTDIR)$(MANDIR)/compat-server.1
	install -m 644 README.md LICENSE $(DESTDIR)$(DOCDIR)/
	install -m 644 docs/*.md $(DESTDIR)$(DOCDIR)/
	install -m 644 docs/compat.bash-completion $(DESTDIR)$(COMPLETIONDIR)/compat
	@for l in $(LINKS); do ln -sf compat $(DESTDIR)$(COMPLETIONDIR)/$$l; done

# Everything the build, tests, fuzzing and benchmarks use, from Debian 12.
DEB_PKGS := build-essential clang pkg-config libelf-dev libnghttp2-dev libjansson-dev \
  libmbedtls-dev libnanopb-dev nanopb zlib1g-dev protobuf-compiler python3-protobuf \
  python3-grpcio nghttp2-client docker-registry skopeo apache2-utils openssl curl \
  libtree pax-utils strace valgrind gcc-multilib libc6-dev-i386 libgrpc++-dev \
  protobuf-compiler-grpc hyperfine file busybox-static procps mmdebstrap debian-archive-keyring \
  help2man man-db bash-completion libfuse3-dev fuse3
print-deps:
	@echo $(DEB_PKGS)

deps:
	@if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(DEB_PKGS)

clean:
	rm -rf build bin

.PHONY: man install FORCE depcheck all audit static static-link check check-host check-cross check-fuzz check-threads units fuzz fuzz-build demo bench install deps print-deps clean
# Generated protobuf code is kept (not deleted as an intermediate file).
.SECONDARY: $(GEN_C) $(GEN_H)

-include $(shell find build -name '*.d' 2>/dev/null)
