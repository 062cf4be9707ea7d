# onceonly — the two commands: `make demo` and `make test`. Both install what is missing.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)

.PHONY: all bootstrap build demo test bench bench-dossier bench-audit bench-kbo fuzz clean

all: build

bootstrap:
	@scripts/bootstrap.sh

$(BUILD_DIR)/build.ninja: CMakeLists.txt
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

build: bootstrap $(BUILD_DIR)/build.ninja
	ninja -C $(BUILD_DIR) -j$(JOBS)

demo: build
	scripts/demo.sh $(BUILD_DIR)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure --timeout 300 -j$(JOBS)

# The federation benchmark (issue 6): the gateway against a direct call and nginx grpc_pass,
# five modes interleaved; results in bench/results/. Installs nginx, gnuplot and h2load.
bench: build
	@scripts/bootstrap.sh --bench
	BUILD_DIR=$(CURDIR)/$(BUILD_DIR) bench/federation_bench.sh

# Google Benchmark micro-benchmarks of the in-process request path.
bench-dossier: build
	$(BUILD_DIR)/bench/dossier_bench --benchmark_min_time=2

# Durable appends need a real disk (not tmpfs): the databases go under the build directory.
bench-audit: build
	mkdir -p $(BUILD_DIR)/tmp
	TMPDIR=$(CURDIR)/$(BUILD_DIR)/tmp $(BUILD_DIR)/bench/audit_bench --benchmark_min_time=2

# The companies registry at national scale (1.9 M enterprises; ~8 GB of disk, ~6 min here):
# generate, import against the sqlite3 .import baseline, apply a daily update, time the reads.
bench-kbo: build
	BUILD_DIR=$(CURDIR)/$(BUILD_DIR) bench/kbo_bench.sh

# libFuzzer targets (fuzz/), built with clang, ASan and UBSan in their own build directory, run
# FUZZ_SECONDS each, two at a time, from the committed seeds; `make fuzz FUZZ_SECONDS=600` for
# the long runs, FUZZ_TARGETS="kbo_csv merkle_proof" for some of them. Fails on any crash.
FUZZ_BUILD_DIR ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=
fuzz: bootstrap
	cmake -S . -B $(FUZZ_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_COMPILER=clang++ -DONCEONLY_FUZZ=ON \
	  $(if $(shell command -v ccache),-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
	nice -n 10 ninja -C $(FUZZ_BUILD_DIR) -j$(JOBS) fuzzers
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh $(FUZZ_BUILD_DIR) $(FUZZ_TARGETS)

clean:
	rm -rf $(BUILD_DIR)
