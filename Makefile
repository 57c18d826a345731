# dann - GNU Makefile.  `make` builds build/libdann.a and build/dann; `make test` runs the suite.
# Toggles: OPENMP=0|1 (default 1), SANITIZE=1 (ASan+UBSan), DEBUG=1 (-O0 -g), BLAS=0 (portable gemm),
# FUZZ=1 (clang's libFuzzer instrumentation; `make fuzz` sets it, see there).
# CFLAGS given on the command line replace the optimisation flags only (-O2 -march=native).
# -ffp-contract=off: no compiler fuses a*b+c into one rounding unless the code says so (GCC's
# default in C11 mode, not clang's), so every compiler computes the same floats.
CC      ?= cc
OPENMP  ?= 1
BLAS    ?= 1
BUILD   ?= build
CFLAGS  ?= -O2 -march=native
override CFLAGS += -std=c11 -ffp-contract=off -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Wall -Wextra -g -Iinclude -Isrc -MMD -MP
override CFLAGS += -I/usr/include/cairo
override LDLIBS += -lpng -ljpeg -lz -larchive -lm
# src/viz (the pictures and the proxy A-distance, linked into the CLI only): cairo (+ fontconfig,
# released at exit), liblinear
VIZ_LIBS := -lcairo -lfontconfig -llinear

ifeq ($(DEBUG),1)
  override CFLAGS += -O0
endif
ifeq ($(SANITIZE),1)
  override CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  override LDFLAGS += -fsanitize=address,undefined
  override BUILD := $(BUILD)-san
endif
ifeq ($(FUZZ),1)
  override CFLAGS += -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  override LDFLAGS += -fsanitize=address,undefined
endif
ifeq ($(OPENMP),1)
  override CFLAGS += -fopenmp
  override LDFLAGS += -fopenmp
else
  override CFLAGS += -Wno-unknown-pragmas
endif
# OpenBLAS: the OpenMP build when OpenMP is on, so BLAS and our kernels share one thread pool
# (the pthread build's threads would fight OpenMP's for the 2 cores); the pthread build otherwise.
ifeq ($(BLAS),1)
  ifeq ($(OPENMP),1)
    BLASDIR := /usr/lib/x86_64-linux-gnu/openblas-openmp
  else
    BLASDIR := /usr/lib/x86_64-linux-gnu/openblas-pthread
  endif
  override CFLAGS += -DDANN_USE_CBLAS -I/usr/include/x86_64-linux-gnu/$(notdir $(BLASDIR))
  override LDLIBS += -L$(BLASDIR) -Wl,-rpath,$(BLASDIR) -lopenblas
endif

# The target architecture (the compiler's, so a cross build gets its own).
ARCH := $(firstword $(subst -, ,$(shell $(CC) -dumpmachine)))

# MPI (Open MPI, libopenmpi-dev): the CLI's src/cli/mpi.c, for `mpirun -np N dann train` and
# grids over ranks; MPI=0 builds a one-process CLI (the default for cross builds). The library
# never links MPI.
MPI ?= $(if $(and $(filter $(ARCH),$(shell uname -m)),$(shell command -v mpicc 2>/dev/null)),1,0)
ifeq ($(MPI),1)
  MPI_CFLAGS := -DDANN_MPI $(shell mpicc --showme:compile 2>/dev/null)
  MPI_LDLIBS := $(shell mpicc --showme:link 2>/dev/null)
  override LDLIBS += $(MPI_LDLIBS)
$(BUILD)/obj/src/cli/mpi.o: override CFLAGS += $(MPI_CFLAGS)
endif

# The AVX-512 convolution kernels: built with AVX-512 on x86-64 whatever -march says, and used
# only where the CPU has it (checked at run time).
ifeq ($(ARCH),x86_64)
$(BUILD)/obj/src/layers/conv2d_avx512.o: override CFLAGS += -mavx512f -mfma
endif

# The v16 kernels (src/layers/v16/, over src/layers/simd.h) are compiled once per ISA of the
# target: portable C everywhere, AVX2+FMA (without AVX-512, whatever -march says) and AVX-512
# on x86-64 (chosen at run time), NEON on aarch64.
V16_SRC := $(sort $(wildcard src/layers/v16/*.c))
V16_ISAS := portable
V16_FLAGS_portable := -Wno-psabi
ifeq ($(ARCH),x86_64)
  V16_ISAS += avx2 avx512
  V16_FLAGS_avx2 := -DV16_AVX2 -mavx2 -mfma -mno-avx512f
  V16_FLAGS_avx512 := -DV16_AVX512 -mavx512f -mfma
endif
ifeq ($(ARCH),aarch64)
  V16_ISAS += neon
  V16_FLAGS_neon := -DV16_NEON
endif
V16_OBJ := $(foreach i,$(V16_ISAS),$(V16_SRC:src/layers/v16/%.c=$(BUILD)/obj/v16/%_$(i).o))
define V16_RULE
$(BUILD)/obj/v16/%_$(1).o: src/layers/v16/%.c
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS) $$(V16_FLAGS_$(1)) -c $$< -o $$@
endef
$(foreach i,$(V16_ISAS),$(eval $(call V16_RULE,$(i))))

LIB_SRC  := $(sort $(wildcard src/core/*.c src/layers/*.c src/optim/*.c src/model/*.c src/data/*.c src/io/*.c))
CLI_SRC  := $(sort $(wildcard src/cli/*.c src/viz/*.c))
TEST_SRC := $(sort $(wildcard tests/*.c))
FUZZ_SRC := $(sort $(wildcard fuzz/fuzz_*.c))

# VIZ=0 (make test-arm's cross build): without src/viz and what includes it (no cairo; liblinear
# stays: select_scores.c uses it).
ifeq ($(VIZ),0)
  VIZ_USERS := $(shell grep -l '"viz/' src/cli/*.c tests/*.c fuzz/*.c 2>/dev/null)
  CLI_SRC := $(filter-out src/viz/% $(VIZ_USERS),$(CLI_SRC))
  TEST_SRC := $(filter-out $(VIZ_USERS) tests/viz_testutil.c,$(TEST_SRC))
  FUZZ_SRC := $(filter-out $(VIZ_USERS),$(FUZZ_SRC))
  VIZ_LIBS := -llinear
endif

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/obj/%.o)
FUZZ_NAMES := $(FUZZ_SRC:fuzz/fuzz_%.c=%)
FUZZ_OBJ := $(FUZZ_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/fuzz/table.o

.PHONY: all test test-arm deps-arm clean fixtures deps demo bench bench-compare bench-kernels \
        fuzz fuzz-corpus

# Debian packages needed to build and test (apt-get; uses sudo when not root). ARM_DEPS: the
# aarch64 cross build of make test-arm (its libraries from Debian's arm64 architecture).
DEPS := libopenmpi-dev openmpi-bin build-essential libopenblas-dev libopenblas-openmp-dev libpng-dev libjpeg-dev zlib1g-dev libarchive-dev libcairo2-dev fonts-dejavu-core libfontconfig-dev liblinear-dev
ARM_DEPS := gcc-aarch64-linux-gnu qemu-user-static libpng-dev:arm64 libjpeg-dev:arm64 zlib1g-dev:arm64 libarchive-dev:arm64 liblinear-dev:arm64 libgomp1:arm64
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
all: $(BUILD)/libdann.a $(BUILD)/dann

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libdann.a: $(LIB_OBJ) $(V16_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/dann: $(CLI_OBJ) $(BUILD)/libdann.a
	$(CC) $(LDFLAGS) $^ $(VIZ_LIBS) $(LDLIBS) -o $@

# The tests also link the CLI modules (all but its main) to test the training loop and helpers
# (with VIZ=0 from an archive, so that a module no test reaches, one calling into src/viz, is
# left out), and every fuzz target's entry point, renamed fuzz_entry_<name> and listed in a generated table
# (tests/test_fuzz_regress.c replays fuzz/regress/<name>/* and fuzz/corpus/<name>/* through it).
$(BUILD)/obj/fuzz/fuzz_%.o: fuzz/fuzz_%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DLLVMFuzzerTestOneInput=fuzz_entry_$* -c $< -o $@

$(BUILD)/obj/fuzz/table.c: $(FUZZ_SRC) Makefile
	@mkdir -p $(dir $@)
	@{ echo '#include <stddef.h>'; echo '#include <stdint.h>'; \
	  for t in $(FUZZ_NAMES); do echo "int fuzz_entry_$$t(const uint8_t *, size_t);"; done; \
	  echo 'const struct fuzz_entry { const char *name; int (*fn)(const uint8_t *, size_t); } fuzz_entries[] = {'; \
	  for t in $(FUZZ_NAMES); do echo "    {\"$$t\", fuzz_entry_$$t},"; done; \
	  echo '    {NULL, NULL}};'; } > $@

$(BUILD)/obj/fuzz/table.o: $(BUILD)/obj/fuzz/table.c
	$(CC) $(CFLAGS) -c $< -o $@

TEST_CLI := $(filter-out %/src/cli/main.o,$(CLI_OBJ))
ifeq ($(VIZ),0)
$(BUILD)/libdanncli.a: $(TEST_CLI)
	@rm -f $@
	$(AR) rcs $@ $^
TEST_CLI := $(BUILD)/libdanncli.a
endif
$(BUILD)/test_dann: $(TEST_OBJ) $(FUZZ_OBJ) $(TEST_CLI) $(BUILD)/libdann.a
	$(CC) $(LDFLAGS) $^ $(VIZ_LIBS) $(LDLIBS) -o $@

# demo_data.c embeds data/demo/ with .incbin, which the compiler's dependency files do not list.
$(BUILD)/obj/src/cli/demo_data.o: $(wildcard data/demo/*.gz data/demo/mnist/*.gz)

# The suite runs from the repository root; it finds ../shared/data when present.
test: $(BUILD)/test_dann $(BUILD)/dann
	OPENBLAS_CORETYPE=$${OPENBLAS_CORETYPE:-Haswell} $(BUILD)/test_dann

# Regenerates the committed PyTorch fixtures (needs Debian's python3-torch).
fixtures:
	/usr/bin/python3 tools/make_fixtures.py tests/fixtures
	/usr/bin/python3 tools/make_net_fixtures.py tests/fixtures
	/usr/bin/python3 tools/make_preset_fixtures.py tests/fixtures

deps:
	@dpkg -s $(DEPS) >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(DEPS); }

deps-arm: deps
	@dpkg -s $(ARM_DEPS) >/dev/null 2>&1 || { $(SUDO) dpkg --add-architecture arm64 && \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(ARM_DEPS); }

# make test-arm: the aarch64 cross build (build-arm/: NEON and portable v16 kernels, no OpenBLAS,
# no plots, no dann binary, so the command-line tests skip) runs ARM_TESTS under qemu-aarch64-static (the
# whole suite is too slow emulated: its real-data and command-line tests are left out), and a
# checkpoint written by the native build after 2 steps resumes there to the native build's
# bits after 2 more (kernels_cross_isa_resume).
ARM_CC ?= aarch64-linux-gnu-gcc
# qemu runs the binary on Debian's arm64 libraries (libc6:arm64, libgomp1:arm64), not on the cross
# toolchain's /usr/aarch64-linux-gnu: its ld.so with the arm64 libc hangs every pthread_create.
ARM_RUN ?= qemu-aarch64-static
# (model_training_is_deterministic, 40 steps, took 6.4 of the 11.2 CPU minutes under qemu; the
# kernel tests check NEON at 1 and 2 threads against portable, bit for bit, instead)
ARM_TESTS ?= kernels_ detmath implementations fused conv_weights_from torch_ ckpt_
test-arm: $(BUILD)/test_dann
	$(MAKE) BUILD=build-arm CC=$(ARM_CC) CFLAGS=-O2 BLAS=0 VIZ=0 build-arm/test_dann
	rm -rf build-arm/xisa && mkdir -p build-arm/xisa
	DANN_XISA_WRITE=build-arm/xisa $(BUILD)/test_dann kernels_cross_isa_resume
	DANN_XISA_CHECK=build-arm/xisa $(ARM_RUN) build-arm/test_dann kernels_cross_isa_resume
	$(ARM_RUN) build-arm/test_dann $(ARM_TESTS)

demo: $(BUILD)/dann
	OPENBLAS_CORETYPE=$${OPENBLAS_CORETYPE:-Haswell} $(BUILD)/dann demo

# Speed: `make bench` times dann alone; `make bench-compare` runs dann and the PyTorch twin
# alternately (needs Debian's python3-torch) and prints the ratios.
bench: $(BUILD)/dann
	$(BUILD)/dann bench

bench-compare: $(BUILD)/dann
	/usr/bin/python3 bench/compare.py


# ---- Installing: the shared library, make install, the examples, Debian packages ----------------
# One set of library objects makes both libdann.a and the shared library: position-independent
# (Debian's gcc builds position-independent executables anyway) and with hidden visibility, so
# that the shared library exports only what include/dann.h marks DANN_API, which the export list
# src/libdann.map names too (the suite's exports_match_header compares nm -D with the header).
# The soname's major and the file's major.minor come from the header's DANN_VERSION_* (their
# rules: docs/VERSIONING.md). A distributable build must not use -march=native: give CFLAGS (the
# Debian build takes dpkg-buildflags'); the per-ISA kernel objects keep their own -m flags and are
# chosen at run time.
$(LIB_OBJ) $(V16_OBJ): override CFLAGS += -fPIC -fvisibility=hidden
DANN_MAJOR := $(shell sed -n 's/^.define DANN_VERSION_MAJOR \([0-9]*\).*/\1/p' include/dann.h)
DANN_MINOR := $(shell sed -n 's/^.define DANN_VERSION_MINOR \([0-9]*\).*/\1/p' include/dann.h)
DANN_PATCH := $(shell sed -n 's/^.define DANN_VERSION_PATCH \([0-9]*\).*/\1/p' include/dann.h)
SONAME := libdann.so.$(DANN_MAJOR)
SOFILE := libdann.so.$(DANN_MAJOR).$(DANN_MINOR)
# What the library itself links: LDLIBS without the CLI's MPI (cairo and liblinear are not in it).
LIB_LDLIBS = $(filter-out $(MPI_LDLIBS),$(LDLIBS))

all: $(BUILD)/$(SOFILE)
$(BUILD)/$(SOFILE): $(LIB_OBJ) $(V16_OBJ) src/libdann.map
	$(CC) -shared $(LDFLAGS) -Wl,-soname,$(SONAME) -Wl,--version-script=src/libdann.map \
	  -Wl,--no-undefined $(LIB_OBJ) $(V16_OBJ) $(LIB_LDLIBS) -o $@
	ln -sf $(SOFILE) $(BUILD)/$(SONAME)
	ln -sf $(SONAME) $(BUILD)/libdann.so

# examples/*.c see the public header alone (no -Isrc) and link the shared library; `make test`
# builds them and the suite runs them (examples_*).
EXAMPLES := $(patsubst examples/%.c,$(BUILD)/examples/%,$(wildcard examples/*.c))
EXAMPLE_SAN := -fsanitize=address,undefined -fno-omit-frame-pointer
EXAMPLE_CFLAGS := -std=c11 -O2 -g -Wall -Wextra -Iinclude $(if $(filter 1,$(SANITIZE)),$(EXAMPLE_SAN))
$(BUILD)/examples/%: examples/%.c include/dann.h $(BUILD)/$(SOFILE)
	@mkdir -p $(dir $@)
	$(CC) $(EXAMPLE_CFLAGS) $< -o $@ $(LDFLAGS) -L$(BUILD) -Wl,-rpath,$(abspath $(BUILD)) -ldann
test: $(EXAMPLES) $(BUILD)/$(SOFILE)

# make install [PREFIX=/usr/local] [DESTDIR=...] [LIBDIR=...]; make uninstall with the same.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/dann
# dann.pc: Requires.private names the pkg-config modules of the libraries libdann links,
# Libs.private the rest of its link line (OpenBLAS, libm, OpenMP), for static linking. libarchive
# stays a plain -larchive: Debian's libarchive.pc lists the libraries of its own static build
# (acl, zstd, lz4, ...), whose -dev packages libarchive-dev does not bring, so `pkg-config
# --static` through it fails on a system that has only libarchive-dev.
PC_MODULES := libpng:-lpng zlib:-lz libjpeg:-ljpeg
PC_REQUIRES = $(foreach m,$(PC_MODULES),$(if $(filter $(word 2,$(subst :, ,$(m))),$(LIB_LDLIBS)),$(word 1,$(subst :, ,$(m)))))
PC_LIBS_PRIVATE = $(filter-out $(foreach m,$(PC_MODULES),$(word 2,$(subst :, ,$(m)))),$(LIB_LDLIBS)) $(filter -fopenmp,$(LDFLAGS))
DOC_FILES := README.md $(wildcard docs/*.md docs/*.png)

.PHONY: install uninstall deb deps-deb
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR) \
	  $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(DOCDIR)/docs $(DESTDIR)$(DOCDIR)/examples
	install -m 755 $(BUILD)/dann $(DESTDIR)$(BINDIR)/dann
	install -m 644 $(BUILD)/libdann.a $(DESTDIR)$(LIBDIR)/libdann.a
	install -m 755 $(BUILD)/$(SOFILE) $(DESTDIR)$(LIBDIR)/$(SOFILE)
	ln -sf $(SOFILE) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libdann.so
	install -m 644 include/dann.h $(DESTDIR)$(INCLUDEDIR)/dann.h
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))|g' \
	  -e 's|@INCLUDEDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))|g' \
	  -e 's|@VERSION@|$(DANN_MAJOR).$(DANN_MINOR).$(DANN_PATCH)|g' \
	  -e 's|@REQUIRES_PRIVATE@|$(strip $(PC_REQUIRES))|g' -e 's|@LIBS_PRIVATE@|$(strip $(PC_LIBS_PRIVATE))|g' \
	  src/dann.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/dann.pc
	chmod 644 $(DESTDIR)$(LIBDIR)/pkgconfig/dann.pc
	install -m 644 docs/dann.1 $(DESTDIR)$(MANDIR)/man1/dann.1
	install -m 644 README.md $(DESTDIR)$(DOCDIR)/README.md
	install -m 644 $(filter docs/%,$(DOC_FILES)) $(DESTDIR)$(DOCDIR)/docs/
	install -m 644 $(wildcard examples/*.c examples/README.md) $(DESTDIR)$(DOCDIR)/examples/

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/dann $(DESTDIR)$(LIBDIR)/libdann.a $(DESTDIR)$(LIBDIR)/$(SOFILE) \
	  $(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/libdann.so \
	  $(DESTDIR)$(LIBDIR)/pkgconfig/dann.pc $(DESTDIR)$(INCLUDEDIR)/dann.h \
	  $(DESTDIR)$(MANDIR)/man1/dann.1
	rm -rf $(DESTDIR)$(DOCDIR)

# make deb: the Debian packages libdann0, libdann-dev and dann (debian/), built with
# dpkg-buildpackage in a copy of the tree in a temporary folder (it writes its outputs into the
# source tree's parent folder) and collected in $(BUILD)/deb/. DEB_DEPS: what that step alone needs.
DEB_DEPS := debhelper dpkg-dev fakeroot
DEPS += pkgconf
deps-deb: deps
	@dpkg -s $(DEB_DEPS) >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(DEB_DEPS); }
deb: deps-deb
	tools/build_deb.sh $(BUILD)/deb
# ---- end of installing ---------------------------------------------------------------------------

# `make bench-kernels`: each kernel set's convolutions, step and eval by thread CPU time at 1
# thread (bench/kernels.c: comparable on a loaded machine, unlike wall-clock times).
$(BUILD)/bench_kernels: $(BUILD)/obj/bench/kernels.o $(BUILD)/libdann.a
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@
bench-kernels: $(BUILD)/bench_kernels
	$(BUILD)/bench_kernels

# make fuzz [FUZZ_SECONDS=60] [FUZZ_TARGETS="png idx"]: builds every libFuzzer target with clang
# (Debian's clang; -fsanitize=fuzzer,address,undefined, into build-fuzz/) and runs each for
# FUZZ_SECONDS, one after the other. The pattern every target follows (new readers add theirs):
#   - fuzz/fuzz_<name>.c defines LLVMFuzzerTestOneInput and no other global symbol: it feeds
#     the bytes to the parser's real entry point (through a temporary file when the reader takes
#     a path) and frees what it returns; nothing else is needed in this Makefile;
#   - fuzz/corpus/<name>/ holds its small seed inputs (made by fuzz/make_corpus.sh where
#     generated: `make fuzz-corpus`); the run grows build-fuzz/corpus/<name>/ from them;
#   - a crash is left in build-fuzz/crashes/<name>/; once fixed, commit that input to
#     fuzz/regress/<name>/: `make test` replays every file of fuzz/regress/<name>/ and
#     fuzz/corpus/<name>/ through the same function (tests/test_fuzz_regress.c).
# FUZZ_FLAGS adds libFuzzer options (e.g. -runs=N, -jobs=N).
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= $(FUZZ_NAMES)
FUZZ_FLAGS ?=
fuzz:
	$(MAKE) BUILD=build-fuzz CC=clang OPENMP=0 BLAS=0 MPI=0 FUZZ=1 $(FUZZ_TARGETS:%=build-fuzz/fuzz_%)
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p build-fuzz/corpus/$$t build-fuzz/crashes/$$t && \
	  echo "fuzz: $$t for $(FUZZ_SECONDS) s" && \
	  build-fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -close_fd_mask=3 -rss_limit_mb=2048 \
	    -max_len=65536 -timeout=30 -print_final_stats=1 -artifact_prefix=build-fuzz/crashes/$$t/ \
	    $(FUZZ_FLAGS) build-fuzz/corpus/$$t fuzz/corpus/$$t || exit 1; \
	done

# The libFuzzer binaries (built by `make fuzz`, BUILD=build-fuzz FUZZ=1).
$(BUILD)/fuzz_%: fuzz/fuzz_%.c $(filter-out %/src/cli/main.o,$(CLI_OBJ)) $(BUILD)/libdann.a
	$(CC) $(CFLAGS) -fsanitize=fuzzer $(LDFLAGS) $^ $(VIZ_LIBS) $(LDLIBS) -o $@

fuzz-corpus:
	fuzz/make_corpus.sh

clean:
	rm -rf build build-san build-arm build-fuzz

-include $(LIB_OBJ:.o=.d) $(V16_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(FUZZ_OBJ:.o=.d)
