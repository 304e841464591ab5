// The emulator's own checks, each shown to fire: it launches the
// deliberately broken kernels of emu/testkernels/bad.cu through the driver
// API (as the Go binary does) on bin/emu-test/libcuda.so.1 and fails unless
// each is reported for the right reason. `make emu-test` runs it.
#include <cuda.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vector>

extern "C" const char* fsodgpu_emu_last_error(void);
extern "C" void fsodgpu_emu_reset_error(void);
extern "C" void fsodgpu_emu_set_schedule(int shuffle, unsigned long long seed);

static int failures = 0;

#define CHECK(cond, ...)                                  \
    do {                                                  \
        if (!(cond)) {                                    \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                 \
            fprintf(stderr, "\n");                        \
            failures++;                                   \
        }                                                 \
    } while (0)

static CUmodule mod;

static CUfunction fn(const char* name) {
    CUfunction f = nullptr;
    CUresult r = cuModuleGetFunction(&f, mod, name);
    if (r) {
        fprintf(stderr, "FAIL: cuModuleGetFunction(%s) = %d\n", name, (int)r);
        exit(1);
    }
    return f;
}

static CUresult launch(const char* name, unsigned grid, unsigned block, std::vector<void*> args) {
    return cuLaunchKernel(fn(name), grid, 1, 1, block, 1, 1, 0, nullptr, args.data(), nullptr);
}

static CUdeviceptr alloc(size_t bytes) {
    CUdeviceptr p = 0;
    if (cuMemAlloc(&p, bytes)) {
        fprintf(stderr, "FAIL: cuMemAlloc(%zu)\n", bytes);
        exit(1);
    }
    return p;
}

static bool has(const char* s, const char* sub) { return strstr(s, sub) != nullptr; }

static void expect_error(const char* what, CUresult r, CUresult want, std::vector<const char*> subs) {
    const char* msg = fsodgpu_emu_last_error();
    CHECK(r == want, "%s: launch returned %d, want %d", what, (int)r, (int)want);
    for (const char* s : subs) CHECK(has(msg, s), "%s: report \"%s\" lacks \"%s\"", what, msg, s);
    printf("%s %s: %s\n", failures ? "?" : "ok", what, msg);
    fsodgpu_emu_reset_error();
}

// Out of bounds: 1024 floats fill their 4096-byte block exactly, so x[1024]
// is the first byte of the guard page.
static void test_oob() {
    long long n = 1024;
    CUdeviceptr x = alloc(n * 4), out = alloc(n * 4);
    cuMemsetD32(x, 0, n);
    void* a[] = {&out, &x, &n};
    CUresult r = launch("emu_test_oob_read_kernel", 5, 256, {a[0], a[1], a[2]});
    expect_error("out-of-bounds read", r, CUDA_ERROR_ILLEGAL_ADDRESS,
                 {"kernel emu_test_oob_read_kernel", "block (4,0,0)", "thread (0,0,0)", "out-of-bounds read",
                  "0 bytes past the end of the 4096-byte allocation"});
    // A GPU's fault is sticky: later calls fail until the context is reset.
    CUresult r2 = cuMemsetD32(x, 0, n);
    CHECK(r2 == CUDA_ERROR_ILLEGAL_ADDRESS || r2 == CUDA_SUCCESS, "after reset: %d", (int)r2);
    void* b[] = {&x, &n};
    r = launch("emu_test_oob_write_kernel", 1, 32, {b[0], b[1]});
    expect_error("out-of-bounds write", r, CUDA_ERROR_ILLEGAL_ADDRESS,
                 {"kernel emu_test_oob_write_kernel", "thread (5,0,0)", "out-of-bounds write",
                  "276 bytes past the end of the 4096-byte allocation"});
    cuMemFree(x);
    cuMemFree(out);
}

static void test_sticky() {
    long long n = 1024;
    CUdeviceptr x = alloc(n * 4), out = alloc(n * 4);
    CUresult r = launch("emu_test_oob_read_kernel", 5, 256, {&out, &x, &n});
    CHECK(r == CUDA_ERROR_ILLEGAL_ADDRESS, "oob: %d", (int)r);
    CUresult r2 = cuMemsetD32(x, 0, n);
    CHECK(r2 == CUDA_ERROR_ILLEGAL_ADDRESS, "a fault must poison later calls as on a GPU: got %d", (int)r2);
    printf("%s sticky fault: later calls return %d\n", r2 == CUDA_ERROR_ILLEGAL_ADDRESS ? "ok" : "?", (int)r2);
    fsodgpu_emu_reset_error();
    cuMemFree(x);
    cuMemFree(out);
}

static void test_divergent() {
    long long n = 256;
    CUdeviceptr out = alloc(n * 4);
    CUresult r = launch("emu_test_divergent_barrier_kernel", 1, 256, {&out, &n});
    expect_error("divergent __syncthreads", r, CUDA_ERROR_LAUNCH_FAILED,
                 {"kernel emu_test_divergent_barrier_kernel", "divergent barrier", "128 thread(s) waits at __syncthreads",
                  "128 thread(s) exited"});
    r = launch("emu_test_divergent_shfl_kernel", 1, 32, {&out});
    expect_error("divergent shuffle", r, CUDA_ERROR_LAUNCH_FAILED,
                 {"kernel emu_test_divergent_shfl_kernel", "divergent", "__shfl_xor_sync", "16 thread(s) exited"});
    cuMemFree(out);
}

static std::vector<float> run_shift(const char* kernel, int shuffle, unsigned long long seed) {
    const int blocks = 4, threads = 256, n = blocks * threads;
    std::vector<float> h(n), o(n);
    for (int i = 0; i < n; ++i) h[i] = (float)i;
    CUdeviceptr x = alloc(n * 4), out = alloc(n * 4);
    cuMemcpyHtoD(x, h.data(), n * 4);
    fsodgpu_emu_set_schedule(shuffle, seed);
    CUresult r = launch(kernel, blocks, threads, {&out, &x});
    fsodgpu_emu_set_schedule(0, 0);
    CHECK(r == CUDA_SUCCESS, "%s: %d", kernel, (int)r);
    cuMemcpyDtoH(o.data(), out, n * 4);
    cuMemFree(x);
    cuMemFree(out);
    return o;
}

static bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && memcmp(a.data(), b.data(), a.size() * 4) == 0;
}

// Races: with the barrier every schedule gives the right answer; without it
// two shuffled schedules disagree (the check `make emu-check` applies to the
// golden cases).
static void test_race() {
    std::vector<float> a = run_shift("emu_test_with_barrier_kernel", 1, 1), b = run_shift("emu_test_with_barrier_kernel", 1, 2);
    bool right = true;
    for (int i = 0; i < 1024; ++i) right &= a[i] == (float)(i / 256 * 256 + (i % 256 + 1) % 256);
    CHECK(right && same_bits(a, b), "the barrier kernel must agree under shuffle:1 and shuffle:2 and be right");
    std::vector<float> c = run_shift("emu_test_missing_barrier_kernel", 1, 1), d = run_shift("emu_test_missing_barrier_kernel", 1, 2);
    CHECK(!same_bits(c, d), "the missing-barrier kernel must differ between shuffle:1 and shuffle:2");
    printf("%s race: with barrier seeds 1/2 agree (%s), without barrier they differ (%s)\n", failures ? "?" : "ok",
           same_bits(a, b) ? "yes" : "no", same_bits(c, d) ? "no" : "yes");
}

// Uninitialised memory: a fresh allocation is NaN, so reading it first shows.
static void test_nan_fill() {
    long long n = 1000;
    CUdeviceptr out = alloc(n * 4);
    CUresult r = launch("emu_test_read_before_write_kernel", 4, 256, {&out, &n});
    CHECK(r == CUDA_SUCCESS, "read-before-write: %d", (int)r);
    std::vector<float> o(n);
    cuMemcpyDtoH(o.data(), out, n * 4);
    int nans = 0;
    for (float v : o) nans += isnan(v);
    CHECK(nans == n, "fresh memory read before written: %d of %lld NaN", nans, n);
    printf("%s NaN fill: %d of %lld values read before written are NaN\n", nans == n ? "ok" : "?", nans, n);
    cuMemFree(out);
}

static void test_unimplemented() {
    CUdeviceptr p;
    size_t pitch;
    CUresult r = cuMemAllocPitch(&p, &pitch, 64, 64, 4);
    const char* s = nullptr;
    cuGetErrorString(r, &s);
    CHECK(r != CUDA_SUCCESS && s && has(s, "cuMemAllocPitch") && has(s, "not implemented"),
          "an unimplemented call must fail naming itself: %d %s", (int)r, s ? s : "(null)");
    printf("ok unimplemented call: %s\n", s ? s : "");
}

int main(int argc, char** argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: emu_test FATBIN\n");
        return 2;
    }
    FILE* f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 2;
    }
    std::vector<char> img;
    char buf[65536];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, f)) > 0) img.insert(img.end(), buf, buf + k);
    fclose(f);
    CUdevice dev;
    CUcontext ctx;
    if (cuInit(0) || cuDeviceGet(&dev, 0) || cuDevicePrimaryCtxRetain(&ctx, dev) || cuCtxSetCurrent(ctx)) {
        fprintf(stderr, "FAIL: init\n");
        return 1;
    }
    // The test kernels are not in the fatbin: load a fatbin header alone,
    // which the emulator treats as "names hidden" and resolves from its table.
    unsigned char hdr[16] = {0x50, 0xed, 0x55, 0xba, 1, 0, 16, 0};
    if (cuModuleLoadData(&mod, hdr)) {
        fprintf(stderr, "FAIL: module load\n");
        return 1;
    }
    CUmodule real;
    CUfunction g;
    CHECK(cuModuleLoadData(&real, img.data()) == CUDA_SUCCESS, "loading %s", argv[1]);
    CHECK(cuModuleGetFunction(&g, real, "fill_forward_kernel") == CUDA_SUCCESS, "fill_forward_kernel must be found");
    CHECK(cuModuleGetFunction(&g, real, "emu_test_oob_read_kernel") == CUDA_ERROR_NOT_FOUND,
          "a kernel the fatbin lacks must not be found in it");
    test_oob();
    test_sticky();
    test_divergent();
    test_race();
    test_nan_fill();
    test_unimplemented();
    if (failures) {
        fprintf(stderr, "emu_test: %d failure(s)\n", failures);
        return 1;
    }
    printf("emu_test: all checks fire\n");
    return 0;
}
