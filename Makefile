# fsodgpu build. `make` builds the CUDA binary when nvcc is present and the
# CPU-only binary otherwise; `make test` is what CI runs.
GO      ?= go
NVCC    ?= nvcc
BIN     := bin/fsodgpu
FATBIN  := kernels/fsodgpu.fatbin
HAVE_NVCC := $(shell command -v $(NVCC) >/dev/null 2>&1 && echo yes)
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

# SASS for every architecture we support, PTX for the newest so future GPUs JIT it.
CUDA_ARCHS ?= 70 75 80 86 89 90
NEWEST_ARCH := $(lastword $(CUDA_ARCHS))
GENCODE := $(foreach a,$(CUDA_ARCHS),-gencode=arch=compute_$(a),code=sm_$(a)) \
           -gencode=arch=compute_$(NEWEST_ARCH),code=compute_$(NEWEST_ARCH)
# No --use_fast_math: the kernels must agree with the CPU reference.
NVCCFLAGS ?= -O3 -std=c++14 -Xptxas -v
CU_SRCS := $(wildcard kernels/*.cu)
CU_HDRS := $(wildcard kernels/*.cuh)

# The cuda build links only against the driver (libcuda). Where no driver is
# installed (CI, build machines) link against the toolkit's stub library; the
# binary then loads the real libcuda.so.1 on the GPU machine.
CUDA_HOME ?= /usr/local/cuda
CUDA_STUB_LIB := $(firstword $(wildcard /usr/lib/x86_64-linux-gnu/stubs/libcuda.so $(CUDA_HOME)/lib64/stubs/libcuda.so))
CUDA_CGO_LDFLAGS := $(CGO_LDFLAGS) $(if $(CUDA_STUB_LIB),-L$(dir $(CUDA_STUB_LIB)))

.PHONY: fuzz fuzz-short
.PHONY: all build kernels test test-cpu test-cuda-build bench bench-cuda cpu-bin run demo-regress demo-yolo-regress vet clean golden gpu-verify-prep gpu-verify nightly nightly-test

all: build

ifeq ($(HAVE_NVCC),yes)
build: kernels
	CGO_LDFLAGS='$(CUDA_CGO_LDFLAGS)' $(GO) build -tags cuda -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/fsodgpu
else
build:
	@echo "nvcc not found: building the CPU-only binary (install CUDA >= 11.8 and run 'make' for the GPU build)"
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/fsodgpu
endif

# One fatbin holding every kernel family; the ptxas report (registers, spills)
# goes to bench/ptxas-report.txt.
kernels: $(FATBIN)

$(FATBIN): $(CU_SRCS) $(CU_HDRS)
ifeq ($(HAVE_NVCC),yes)
	@mkdir -p bench
	$(NVCC) $(NVCCFLAGS) -fatbin $(GENCODE) -o $(FATBIN) kernels/all.cu 2> bench/ptxas-report.txt || (cat bench/ptxas-report.txt; exit 1)
	@echo "ptxas report in bench/ptxas-report.txt; kernels with spills:"
	@s=$$(grep -B3 -E '[1-9][0-9]* bytes spill (stores|loads)' bench/ptxas-report.txt | grep -oE "entry function '[^']+' for '[^']+'" | sort -u); \
	if [ -n "$$s" ]; then echo "$$s"; else echo "  none"; fi
else
	@echo "make kernels: nvcc not found. Install the CUDA toolkit (>= 11.8; on Debian 12: nvidia-cuda-toolkit from non-free) and put nvcc on PATH." >&2
	@exit 1
endif

vet:
	$(GO) vet ./...

# The tensor-core kernels must be HMMA on every sm_80+ target and the trap
# fallback below (scripts/sass_check.sh; ~45 s of cuobjdump on 2 cores).
.PHONY: sass-check
sass-check: kernels
	scripts/sass_check.sh $(FATBIN) "$(CUDA_ARCHS)" bench/ptxas-report.txt

test-cpu:
	$(GO) test ./...

# Compile and link the cuda-tagged build and its tests without running them
# (no GPU in CI, and cu's init would exit): a kernel or launcher that does not
# compile fails here. `-exec /bin/true` links every test binary and runs none.
test-cuda-build: kernels
	CGO_LDFLAGS='$(CUDA_CGO_LDFLAGS)' $(GO) vet -tags cuda ./...
	CGO_LDFLAGS='$(CUDA_CGO_LDFLAGS)' $(GO) build -tags cuda ./...
	CGO_LDFLAGS='$(CUDA_CGO_LDFLAGS)' $(GO) test -tags cuda -count=1 -exec /bin/true ./...
	CGO_LDFLAGS='$(CUDA_CGO_LDFLAGS)' $(GO) build -tags cuda -o /dev/null ./cmd/fsodgpu

ifeq ($(HAVE_NVCC),yes)
test: vet test-cpu test-cuda-build sass-check emu-check
else
test: vet test-cpu
	@echo "nvcc not found: skipped the CUDA kernel build and the cuda-tagged compile"
endif

# CPU kernel benchmarks beside PyTorch's on the same shapes (the cuda-tagged
# binary only starts where a GPU is: use bench-cuda there).
bench: cpu-bin
	./bin/fsodgpu-cpu bench kernels --backend cpu --json bench/results/kernels-cpu.json
	/usr/bin/python3 bench/torch_bench.py --device cpu --json bench/results/torch-cpu.json
	./bin/fsodgpu-cpu bench compare bench/results/kernels-cpu.json bench/results/torch-cpu.json

bench-cuda: build
	$(BIN) bench kernels --backend cuda --json bench/results/kernels-$$($(BIN) devices --short).json

cpu-bin:
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/fsodgpu-cpu ./cmd/fsodgpu

run: cpu-bin
	./bin/fsodgpu-cpu train

# The demo end to end, then its AP against our own baseline
# (configs/reported/demo.yaml, demo-all.yaml): CI's guard against accuracy regressions.
demo-regress: cpu-bin
	rm -rf runs/ci-demo
	./bin/fsodgpu-cpu train --out runs/ci-demo --quiet
	./bin/fsodgpu-cpu regress --reported configs/reported/demo.yaml runs/ci-demo
	./bin/fsodgpu-cpu regress --reported configs/reported/demo-all.yaml runs/ci-demo

# The YOLOv1 demo (configs/demo-yolo.yaml, about 2.5 minutes) end to end and
# its AP50 over all 20 classes against configs/reported/demo-yolo.yaml.
demo-yolo-regress: cpu-bin
	rm -rf runs/ci-demo-yolo
	./bin/fsodgpu-cpu train --config configs/demo-yolo.yaml --out runs/ci-demo-yolo --quiet
	./bin/fsodgpu-cpu regress --reported configs/reported/demo-yolo.yaml runs/ci-demo-yolo

# Regenerate the shipped golden cases with PyTorch (Debian python3-torch works).
golden:
	/usr/bin/python3 testdata/golden/make_golden.py testdata/golden
	/usr/bin/python3 testdata/golden/make_golden_neck.py testdata/golden

clean:
	rm -rf bin $(FATBIN)

# ---- CUDA emulator (emu/): the cuda binary runs every kernel on the CPU ----
# `make emu` builds bin/fsodgpu (the cuda build) and bin/emu/libcuda.so.1, a
# driver stand-in whose kernels are kernels/all.cu compiled by g++ with
# emu/cuda_emu.h. Run the unchanged binary on it with
#   LD_LIBRARY_PATH=$PWD/bin/emu bin/fsodgpu check --backend cuda
# bin/emu-test/libcuda.so.1 adds the deliberately bad kernels of
# emu/testkernels/ that the emulator's own checks are tested with.
EMU_CXX ?= g++
EMU_CC ?= gcc
EMU_OPT ?= -O2 -g
# No FMA contraction (the kernels' __fmul_rn/__fadd_rn must round as on the
# GPU); -mfma only lets fmaf() be one instruction instead of a libm call.
# Only the kernels get -mfma -mavx2; the driver and scheduler stay baseline
# x86-64, so cuInit can refuse a CPU without them with a clear message.
EMU_BASE_FLAGS := -std=c++17 $(EMU_OPT) -fPIC -pthread -ffp-contract=off -ftls-model=initial-exec \
             -I. -Iemu/include -I$(CUDA_HOME)/include -Wall -Wno-unknown-pragmas -Wno-sign-compare
EMU_FLAGS := $(EMU_BASE_FLAGS) -mfma -mavx2
EMU_HDRS := $(wildcard emu/*.h emu/include/*.h)
EMU_TEST_CU := $(wildcard emu/testkernels/*.cu)
EMU_OBJ := bin/emu/obj

.PHONY: emu emu-lib emu-test emu-check emu-demo emu-nccl

emu: build emu-lib

emu-lib: bin/emu/libcuda.so.1 bin/emu-test/libcuda.so.1 bin/emu/libnccl.so.2

# The NCCL stand-in (emu/nccl.cc): what cuda/nccl.go dlopens as libnccl.so.2
# when LD_LIBRARY_PATH holds bin/emu. Multi-process communicators talk TCP.
bin/emu/libnccl.so.2: emu/nccl.cc emu/nccl.map
	@mkdir -p bin/emu
	$(EMU_CXX) -std=c++17 $(EMU_OPT) -fPIC -pthread -Wall -shared -o $@ -Wl,--version-script=emu/nccl.map -Wl,-soname,libnccl.so.2 emu/nccl.cc

$(EMU_OBJ)/kernels.cc: emu/gen_kernels.sh $(CU_SRCS) $(CU_HDRS)
	@mkdir -p $(EMU_OBJ)
	emu/gen_kernels.sh kernels/all.cu > $@
$(EMU_OBJ)/kernels_test.cc: emu/gen_kernels.sh $(CU_SRCS) $(CU_HDRS) $(EMU_TEST_CU)
	@mkdir -p $(EMU_OBJ)
	emu/gen_kernels.sh kernels/all.cu $(EMU_TEST_CU) > $@
$(EMU_OBJ)/%.o: $(EMU_OBJ)/%.cc $(EMU_HDRS)
	$(EMU_CXX) $(EMU_FLAGS) -c $< -o $@
$(EMU_OBJ)/runtime.o: emu/runtime.cc $(EMU_HDRS)
	@mkdir -p $(EMU_OBJ)
	$(EMU_CXX) $(EMU_BASE_FLAGS) -c $< -o $@
$(EMU_OBJ)/driver.o: emu/driver.cc $(EMU_HDRS)
	@mkdir -p $(EMU_OBJ)
	$(EMU_CXX) $(EMU_BASE_FLAGS) -c $< -o $@
$(EMU_OBJ)/switch.o: emu/switch.S
	@mkdir -p $(EMU_OBJ)
	$(EMU_CC) -c $< -o $@
$(EMU_OBJ)/stubs.c: emu/gen_stubs.sh $(EMU_OBJ)/driver.o
	emu/gen_stubs.sh $(EMU_OBJ)/driver.o $(CUDA_STUB_LIB) $(wildcard $(BIN)) > $@
$(EMU_OBJ)/stubs.o: $(EMU_OBJ)/stubs.c
	$(EMU_CC) -O2 -fPIC -c $< -o $@
EMU_COMMON_OBJS := $(EMU_OBJ)/runtime.o $(EMU_OBJ)/driver.o $(EMU_OBJ)/switch.o $(EMU_OBJ)/stubs.o
bin/emu/libcuda.so.1: $(EMU_COMMON_OBJS) $(EMU_OBJ)/kernels.o emu/exports.map
	$(EMU_CXX) -shared -pthread -o $@ -Wl,--version-script=emu/exports.map -Wl,-soname,libcuda.so.1 $(EMU_COMMON_OBJS) $(EMU_OBJ)/kernels.o
bin/emu-test/libcuda.so.1: $(EMU_COMMON_OBJS) $(EMU_OBJ)/kernels_test.o emu/exports.map
	@mkdir -p bin/emu-test
	$(EMU_CXX) -shared -pthread -o $@ -Wl,--version-script=emu/exports.map -Wl,-soname,libcuda.so.1 $(EMU_COMMON_OBJS) $(EMU_OBJ)/kernels_test.o

# Fuzz every parser of user files, one target at a time (go test runs one
# -fuzz target per invocation): `make fuzz` gives each 10 minutes, `make
# fuzz-short` (CI) 5000 executions each. A crasher is written to the package's
# testdata/fuzz/<Target>/ and replayed by plain `go test` from then on.
FUZZTIME ?= 10m
# How long the fuzzer may spend shrinking each new input; short runs keep it
# small or they spend their time shrinking (and can overrun their deadline).
FUZZMINIMIZETIME ?= 60s
FUZZ_TARGETS := \
	./engine/data:FuzzBaselinePlanes \
	./engine/data/voc:FuzzReadAnnotation \
	./engine/data/voc:FuzzSplitFile \
	./engine/data/coco:FuzzLoadInstances \
	./engine/eval:FuzzVOCAnnotation \
	./engine/eval:FuzzVOCDetections \
	./engine/eval:FuzzCOCOGroundTruth \
	./engine/eval:FuzzCOCOResults \
	./engine/train:FuzzParsePlan \
	./engine/safetensors:FuzzParse \
	./engine/weights:FuzzReadPth \
	./engine/weights:FuzzReadPkl

# scripts/fuzz.sh tells a finding (a failing input written) from Go 1.26's
# end-of-run deadline race (go.dev/issue/75804).
fuzz:
	GO=$(GO) scripts/fuzz.sh $(FUZZTIME) $(FUZZMINIMIZETIME) $(FUZZ_TARGETS)

# CI's budget is a count of executions, not a duration: a count has no
# deadline for the coordinator to race, and a loaded runner only runs slower.
# 5000 executions per target take about 2 minutes in all on 2 cores with a
# warm Go cache (7 minutes from a cold one); CI runs FUZZ_EXECS=1000x.
FUZZ_EXECS ?= 5000x
fuzz-short:
	$(MAKE) fuzz FUZZTIME=$(FUZZ_EXECS) FUZZMINIMIZETIME=200x

# The emulated suite (in `make test` where nvcc exists): the emulator's own
# checks on its bad test kernels, the golden cases on the emulated device in
# the natural schedule and in two shuffled ones (a race between barriers
# shows as a failed case), the cuda-tagged CUDA-vs-CPU Go tests (-short
# shapes) and TestCUDATrainingIterationMatchesCPU, then emu-demo and
# emu-nccl (about 40 s: multi-process NCCL with the stand-in libnccl).
EMU_RUN := LD_LIBRARY_PATH=$(CURDIR)/bin/emu
bin/emu-test/emu_test: emu/emu_test.cc bin/emu-test/libcuda.so.1
	$(EMU_CXX) -std=c++17 -O1 -g -I. -I$(CUDA_HOME)/include -o $@ emu/emu_test.cc -Lbin/emu-test -l:libcuda.so.1

emu-test: bin/emu-test/emu_test $(FATBIN)
	LD_LIBRARY_PATH=$(CURDIR)/bin/emu-test bin/emu-test/emu_test $(FATBIN)

emu-check: emu emu-test
	$(EMU_RUN) $(BIN) devices
	@mkdir -p runs/emu-check
	$(EMU_RUN) $(BIN) check --backend cuda --parity=false --golden testdata/golden --digests runs/emu-check/natural.txt
	$(EMU_RUN) FSODGPU_EMU_SCHEDULE=shuffle:1 $(BIN) check --backend cuda --parity=false --golden testdata/golden --digests runs/emu-check/shuffle1.txt
	$(EMU_RUN) FSODGPU_EMU_SCHEDULE=shuffle:2 $(BIN) check --backend cuda --parity=false --golden testdata/golden --digests runs/emu-check/shuffle2.txt
	@# A race (shared memory read without a barrier) shows as different bits under another schedule.
	cmp runs/emu-check/natural.txt runs/emu-check/shuffle1.txt && cmp runs/emu-check/natural.txt runs/emu-check/shuffle2.txt && echo "golden cases bit-identical under the natural and two shuffled schedules"
	@# The tensor-core paths (the emulated device is sm_80) at each precision's tolerances (README "Precision").
	$(EMU_RUN) $(BIN) check --backend cuda --parity=false --golden testdata/golden --precision tf32
	$(EMU_RUN) $(BIN) check --backend cuda --parity=false --golden testdata/golden --precision bf16
	CGO_LDFLAGS='$(CUDA_CGO_LDFLAGS)' $(EMU_RUN) $(GO) test -tags cuda -short -count=1 -timeout 600s ./cuda
	CGO_LDFLAGS='$(CUDA_CGO_LDFLAGS)' $(EMU_RUN) $(GO) test -tags cuda -short -count=1 -timeout 600s -run CUDA ./engine/model
	$(MAKE) emu-demo
	$(MAKE) emu-nccl

# A short demo on the emulated CUDA backend (20 base + 10 fine-tune iterations,
# 2 data-parallel replicas, host all-reduce) beside the CPU backend, its losses
# compared by scripts/compare_losses.py (bands stated there). The FP32 run is
# the tight comparison (--precision fp32: the emulated device is sm_80, whose
# default would be TF32 convolutions); then the same plan with the
# tensor-core paths at tf32 and bf16 against the CPU's FP32, in the wider
# bands of README "Precision".
EMU_DEMO_TF32_BAND ?= --total-only --strict-tol 2e-2 --drift-tol 0.10
EMU_DEMO_BF16_BAND ?= --total-only --strict-tol 3e-2 --drift-tol 0.15
emu-demo: emu cpu-bin
	rm -rf runs/emu-demo
	$(EMU_RUN) $(BIN) train --config testdata/emu/demo.yaml --backend cuda --precision fp32 --replicas 2 --out runs/emu-demo/cuda --quiet
	./bin/fsodgpu-cpu train --config testdata/emu/demo.yaml --backend cpu --replicas 2 --out runs/emu-demo/cpu --quiet
	/usr/bin/python3 scripts/compare_losses.py runs/emu-demo/cuda runs/emu-demo/cpu base finetune/5shot_seed0
	$(EMU_RUN) $(BIN) train --config testdata/emu/demo.yaml --backend cuda --precision tf32 --replicas 2 --out runs/emu-demo/cuda-tf32 --quiet
	/usr/bin/python3 scripts/compare_losses.py $(EMU_DEMO_TF32_BAND) runs/emu-demo/cuda-tf32 runs/emu-demo/cpu base finetune/5shot_seed0
	$(EMU_RUN) $(BIN) train --config testdata/emu/demo.yaml --backend cuda --precision bf16 --replicas 2 --out runs/emu-demo/cuda-bf16 --quiet
	/usr/bin/python3 scripts/compare_losses.py $(EMU_DEMO_BF16_BAND) runs/emu-demo/cuda-bf16 runs/emu-demo/cpu base finetune/5shot_seed0

# Multi-process NCCL on the emulator (scripts/emu_nccl.sh: two torchrun-style
# processes with the stand-in libnccl against one process of two replicas, a
# killed rank, and the 2-device clique tests).
emu-nccl: emu
	scripts/emu_nccl.sh $(BIN) $(CURDIR)/bin/emu runs/emu-nccl
	@# The clique tests skip without 2 devices or libnccl: here a skip is a failure.
	CGO_LDFLAGS='$(CUDA_CGO_LDFLAGS)' $(EMU_RUN) FSODGPU_EMU_DEVICES=2 $(GO) test -tags cuda -count=1 -timeout 600s -run NCCL -v ./cuda ./engine/dist > runs/emu-nccl/clique.log 2>&1; \
	rc=$$?; grep -E '^(--- |ok|FAIL)' runs/emu-nccl/clique.log; \
	if [ $$rc != 0 ] || grep -q -- '--- SKIP' runs/emu-nccl/clique.log; then cat runs/emu-nccl/clique.log; exit 1; fi

# The GPU verification (scripts/gpu-verify.sh; README "GPU verification"):
# gpu-verify-prep builds here what a GPU machine without Go runs — the cuda
# binary, the cuda-tagged parity test binaries (bin/gpu/PKG.test, with the
# package directory each runs in), the demo plans cut to 200 and 40 base
# iterations — stripped so tree + bin stays well under 64 MiB. gpu-verify then
# runs the script (on the GPU machine: bash scripts/gpu-verify.sh). The test
# binaries travel gzipped (each embeds the fatbin): tree + bin/fsodgpu + bin/gpu
# must stay under the device tool's 64 MiB.
GPU_TEST_PKGS := cuda engine/model
gpu-verify-prep: kernels
	@rm -rf bin/gpu; mkdir -p bin/gpu
	CGO_LDFLAGS='$(CUDA_CGO_LDFLAGS)' $(GO) build -tags cuda -ldflags '-s -w $(LDFLAGS)' -o $(BIN) ./cmd/fsodgpu
	@for p in $(GPU_TEST_PKGS); do \
		n=$$(echo $$p | tr / _); \
		CGO_LDFLAGS='$(CUDA_CGO_LDFLAGS)' $(GO) test -c -tags cuda -ldflags '-s -w' -o bin/gpu/$$n.test ./$$p || exit 1; \
		gzip -9f bin/gpu/$$n.test; \
		echo $$p > bin/gpu/$$n.dir; \
	done
	git rev-parse HEAD > bin/gpu/COMMIT
	scripts/gpu-plan.sh 200 bin/gpu/plan-200.yaml
	scripts/gpu-plan.sh 40 bin/gpu/plan-40.yaml
	@du -sh bin

gpu-verify: gpu-verify-prep
	bash scripts/gpu-verify.sh

# The nightly regression on a GPU machine (scripts/nightly.sh: VOC split 1,
# 1/5/10 shots x seeds 0-2 by default, NIGHTLY_* to change), and its
# end-to-end test on the CPU with a tiny synthetic plan.
nightly: build
	bash scripts/nightly.sh

nightly-test: cpu-bin
	bash scripts/nightly-test.sh
