// The emulator's scheduler: blocks on a pool of worker threads, a block's
// threads as fibers on its worker, barriers and warp exchanges, and the
// checks a GPU does not make (out-of-bounds faults named by kernel, block and
// thread; divergent barriers; seeded shuffled schedules; NaN-filled memory).
#include "emu/runtime.h"

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <dlfcn.h>
#include <link.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <vector>

#include "emu/emu_core.h"
#include "emu/emu_warp.h"
#include "emu/emu_mma.h"
#include "emu/emu_async.h"

thread_local uint3 emu_threadIdx;
thread_local uint3 emu_blockIdx;
thread_local dim3 emu_blockDim;
thread_local dim3 emu_gridDim;

extern "C" void emu_switch(void** save_sp, void* new_sp);
extern "C" void emu_fiber_start(void);

namespace emu {

enum { CU_ILLEGAL_ADDRESS = 700, CU_LAUNCH_FAILED = 719 };
enum State { NEW, READY, RUNNING, AT_BAR, AT_WARP, EXITED };

// One queued cp.async (emu_async.h).
struct Copy {
    void* dst;
    const void* src;
    unsigned bytes, src_bytes;
};

struct Fiber {
    void* sp;
    char* stack;  // mapping base (guard page first), null while not started or after exit
    unsigned tid;
    uint3 idx;
    int state;
    int op;
    unsigned mask;
    unsigned long long val;
    int arg, width;
    unsigned long long result;
    // cp.async: queued copies; groups[i] is the end (in copies) of committed
    // group i; copies[0, done) and groups[0, gdone) are performed.
    std::vector<Copy> copies;
    std::vector<size_t> groups;
    size_t done = 0, gdone = 0;
};

struct Worker {
    void* sched_sp = nullptr;
    Fiber* cur = nullptr;
    std::vector<Fiber> fibers;
    std::vector<char*> free_stacks;
    std::vector<char*> all_stacks;
    std::vector<unsigned> ready;
    size_t head = 0;
    const Launch* L = nullptr;
    unsigned n = 0;  // threads per block
    unsigned at_bar = 0, exited = 0;
    volatile bool in_kernel = false;
    sigjmp_buf jb;
    uint64_t rng = 0;
    int errcode = 0;
    char err[2048];
    uintptr_t shm_lo = 0, shm_hi = 0;  // this worker's shared memory (shared_window)
};

static thread_local Worker* tw;
static size_t g_page;
static size_t g_stack_bytes = 128 * 1024;
static Schedule g_sched = {false, 0};

void set_schedule(Schedule s) { g_sched = s; }

static void fail(Worker* w, int code, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(Worker* w, int code, const char* fmt, ...) {
    if (w->errcode) return;
    w->errcode = code;
    int off = snprintf(w->err, sizeof w->err, "kernel %s block (%u,%u,%u): ", w->L->k->name, emu_blockIdx.x,
                       emu_blockIdx.y, emu_blockIdx.z);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->err + off, sizeof w->err - off, fmt, ap);
    va_end(ap);
}

// splitmix64: the shuffled schedule's generator, seeded per block so a
// block's order does not depend on which worker runs it.
static uint64_t next_rand(uint64_t* s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void push_ready(Worker* w, unsigned* ids, size_t k) {
    if (w->head == w->ready.size()) {
        w->ready.clear();
        w->head = 0;
    }
    if (g_sched.shuffle) {
        for (size_t i = k; i > 1; --i) {
            size_t j = next_rand(&w->rng) % i;
            unsigned t = ids[i - 1];
            ids[i - 1] = ids[j];
            ids[j] = t;
        }
    }
    for (size_t i = 0; i < k; ++i) {
        w->fibers[ids[i]].state = READY;
        w->ready.push_back(ids[i]);
    }
}

static char* take_stack(Worker* w) {
    if (!w->free_stacks.empty()) {
        char* s = w->free_stacks.back();
        w->free_stacks.pop_back();
        return s;
    }
    char* s = (char*)mmap(nullptr, g_stack_bytes + g_page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                          -1, 0);
    if (s == MAP_FAILED) {
        fprintf(stderr, "fsodgpu-emu: cannot map a %zu-byte fiber stack\n", g_stack_bytes);
        abort();
    }
    mprotect(s, g_page, PROT_NONE);  // overflow guard
    w->all_stacks.push_back(s);
    return s;
}

// Lays out a fresh fiber stack so that emu_switch's pops and ret land in
// emu_fiber_start with the fiber in r12 and a 16-byte aligned stack.
static void prepare(Fiber* f) {
    uintptr_t top = ((uintptr_t)f->stack + g_page + g_stack_bytes) & ~(uintptr_t)15;
    uint64_t* sp = (uint64_t*)(top - 80);
    sp[0] = 0x1f80ull | (0x037full << 32);  // default MXCSR, x87 control word
    sp[1] = sp[2] = sp[3] = 0;                // r15 r14 r13
    sp[4] = (uint64_t)f;                      // r12
    sp[5] = sp[6] = 0;                        // rbx rbp
    sp[7] = (uint64_t)&emu_fiber_start;
    f->sp = sp;
}

}  // namespace emu

using namespace emu;

static void perform_copies(Fiber* f, size_t end);

extern "C" void emu_fiber_main(Fiber* f) {
    Worker* w = tw;
    w->L->k->run(w->L->k->fn, w->L->params);
    perform_copies(f, f->copies.size());  // an exiting thread's copies still land
    f->state = EXITED;
    emu_switch(&f->sp, w->sched_sp);
    abort();  // an exited fiber is never resumed
}

static Worker* current_worker(const char* what) {
    Worker* w = tw;
    if (!w || !w->cur) {
        fprintf(stderr, "fsodgpu-emu: %s called outside a kernel\n", what);
        abort();
    }
    return w;
}

extern "C" void emu_syncthreads(void) {
    Worker* w = current_worker("__syncthreads");
    Fiber* f = w->cur;
    f->state = AT_BAR;
    emu_switch(&f->sp, w->sched_sp);
}

extern "C" unsigned long long emu_warp_op(int op, unsigned mask, unsigned long long value, int arg, int width) {
    Worker* w = current_worker("a warp operation");
    Fiber* f = w->cur;
    f->op = op;
    f->mask = mask;
    f->val = value;
    f->arg = arg;
    f->width = width;
    f->state = AT_WARP;
    emu_switch(&f->sp, w->sched_sp);
    return f->result;
}

// ---- shared memory and cp.async ----

// Every __shared__ variable (and every extern __shared__ array of
// gen_kernels.sh) is a thread_local of this library, so a block's shared
// memory is inside the worker thread's TLS block of this module: that range
// is the shared window ldmatrix and cp.async check against. (It also holds
// the emulator's few thread-locals, which no kernel can name.)
static int find_tls(struct dl_phdr_info* info, size_t, void* arg) {
    Worker* w = (Worker*)arg;
    Dl_info self;
    if (!dladdr((void*)&find_tls, &self) || info->dlpi_addr != (ElfW(Addr))self.dli_fbase) return 0;
    for (int i = 0; i < info->dlpi_phnum; ++i)
        if (info->dlpi_phdr[i].p_type == PT_TLS && info->dlpi_tls_data) {
            w->shm_lo = (uintptr_t)info->dlpi_tls_data;
            w->shm_hi = w->shm_lo + info->dlpi_phdr[i].p_memsz;
        }
    return 1;
}

static bool in_shared(Worker* w, uintptr_t p, size_t n) {
    if (!w->shm_hi) dl_iterate_phdr(find_tls, w);
    return p >= w->shm_lo && p + n <= w->shm_hi;
}

static void perform_copies(Fiber* f, size_t end) {
    for (; f->done < end; ++f->done) {
        const Copy& c = f->copies[f->done];
        if (c.src_bytes) memcpy(c.dst, c.src, c.src_bytes);
        memset((char*)c.dst + c.src_bytes, 0, c.bytes - c.src_bytes);
    }
    if (f->done == f->copies.size() && f->gdone == f->groups.size()) {
        f->copies.clear();
        f->groups.clear();
        f->done = f->gdone = 0;
    }
}

// A bad copy ends the block at once, as a fault does.
static void copy_fault(Worker* w, Fiber* f, const char* fmt, uintptr_t a) {
    fail(w, CU_ILLEGAL_ADDRESS, fmt, f->idx.x, f->idx.y, f->idx.z, (unsigned long)a);
    siglongjmp(w->jb, 1);
}

extern "C" void emu_cp_async(void* dst, const void* src, unsigned bytes, unsigned src_bytes) {
    Worker* w = current_worker("cp.async");
    Fiber* f = w->cur;
    uintptr_t d = (uintptr_t)dst, s = (uintptr_t)src;
    if (d % bytes) copy_fault(w, f, "thread (%u,%u,%u): cp.async destination 0x%lx is not 16-byte aligned", d);
    if (!in_shared(w, d, bytes)) copy_fault(w, f, "thread (%u,%u,%u): cp.async destination 0x%lx is not in shared memory", d);
    if (s % bytes) copy_fault(w, f, "thread (%u,%u,%u): cp.async source 0x%lx is not 16-byte aligned", s);
    if (src_bytes && !in_allocation(s, src_bytes))
        copy_fault(w, f, "thread (%u,%u,%u): cp.async source 0x%lx is not inside a device allocation", s);
    f->copies.push_back(Copy{dst, src, bytes, src_bytes});
    // Under a shuffled schedule a copy lands at once half the time (seeded
    // per block): the earliest the hardware may write it. A kernel that
    // refills a buffer other threads still read (no barrier before the
    // cp.async) then gets different bits than under the natural schedule,
    // which performs every copy at its wait, the latest moment.
    if (g_sched.shuffle && (next_rand(&w->rng) & 1)) {
        Copy& c = f->copies.back();
        if (c.src_bytes) memcpy(c.dst, c.src, c.src_bytes);
        memset((char*)c.dst + c.src_bytes, 0, c.bytes - c.src_bytes);
        c.src_bytes = c.bytes = 0;  // nothing left to do at the wait
    }
}

extern "C" void emu_cp_async_commit(void) {
    Fiber* f = current_worker("cp.async.commit_group")->cur;
    f->groups.push_back(f->copies.size());
}

extern "C" void emu_cp_async_wait(unsigned n) {
    Fiber* f = current_worker("cp.async.wait_group")->cur;
    while (f->groups.size() - f->gdone > n) {
        size_t end = f->groups[f->gdone++];
        perform_copies(f, end);
    }
    if (f->gdone >= 64) {  // a long pipeline: drop what is performed
        size_t c = f->done;
        f->copies.erase(f->copies.begin(), f->copies.begin() + c);
        f->groups.erase(f->groups.begin(), f->groups.begin() + f->gdone);
        for (size_t& e : f->groups) e -= c;
        f->done = f->gdone = 0;
    }
}

static const char* op_name(int op) {
    static const char* names[] = {"__syncwarp",  "__shfl_sync",      "__shfl_up_sync", "__shfl_down_sync", "__shfl_xor_sync",
                                  "__match_any_sync", "__ballot_sync", "__any_sync",     "__all_sync",
                                  "mma.sync.m16n8k8.tf32", "mma.sync.m16n8k8.bf16", "ldmatrix.sync.m8n8.x4"};
    return op >= 0 && op <= EMU_WARP_LDMATRIX_X4 ? names[op] : "a warp operation";
}

static const char* state_name(int s) {
    switch (s) {
        case NEW:
        case READY:
            return "not started";
        case AT_BAR:
            return "waits at __syncthreads";
        case AT_WARP:
            return "waits at a warp operation";
        case EXITED:
            return "exited";
    }
    return "running";
}

// f arrived at a warp operation: if every lane its mask names waits at one
// with the same mask, compute all their results and release them.
static bool try_warp(Worker* w, Fiber* f) {
    unsigned base = f->tid & ~31u, lanes = w->n - base < 32 ? w->n - base : 32;
    unsigned mask = f->mask;
    if (lanes < 32 && (mask >> lanes) != 0) {
        fail(w, CU_LAUNCH_FAILED, "thread (%u,%u,%u) calls %s with mask 0x%08x, which names lanes beyond the %u the warp has",
             f->idx.x, f->idx.y, f->idx.z, op_name(f->op), mask, lanes);
        return false;
    }
    if (!(mask >> (f->tid & 31) & 1)) {
        fail(w, CU_LAUNCH_FAILED, "thread (%u,%u,%u) calls %s with mask 0x%08x, which leaves out its own lane %u", f->idx.x,
             f->idx.y, f->idx.z, op_name(f->op), mask, f->tid & 31);
        return false;
    }
    for (unsigned m = mask; m; m &= m - 1) {
        Fiber* g = &w->fibers[base + __builtin_ctz(m)];
        if (g->state != AT_WARP || g->mask != mask) return true;  // not complete yet
        if (g->op != f->op) {
            fail(w, CU_LAUNCH_FAILED, "lanes of warp %u meet at different warp operations (%s and %s)", f->tid / 32,
                 op_name(f->op), op_name(g->op));
            return false;
        }
    }
    if (f->op == EMU_WARP_MMA_M16N8K8_TF32 || f->op == EMU_WARP_MMA_M16N8K8_BF16) {
        // mma.sync.aligned: the whole warp, one instruction (emu_mma.h).
        if (mask != 0xffffffffu) {
            fail(w, CU_LAUNCH_FAILED, "thread (%u,%u,%u) calls %s with mask 0x%08x: it needs all 32 lanes", f->idx.x, f->idx.y,
                 f->idx.z, op_name(f->op), mask);
            return false;
        }
        void* lanes[32];
        for (unsigned l = 0; l < 32; ++l) lanes[l] = (void*)(uintptr_t)w->fibers[base + l].val;
        emu_mma_run(f->op, lanes);
    }
    if (f->op == EMU_WARP_LDMATRIX_X4) {
        if (mask != 0xffffffffu) {
            fail(w, CU_LAUNCH_FAILED, "thread (%u,%u,%u) calls %s with mask 0x%08x: it needs all 32 lanes", f->idx.x, f->idx.y,
                 f->idx.z, op_name(f->op), mask);
            return false;
        }
        void* lanes[32];
        for (unsigned l = 0; l < 32; ++l) {
            Fiber* g = &w->fibers[base + l];
            lanes[l] = (void*)(uintptr_t)g->val;
            uintptr_t a = (uintptr_t)((const EmuLdsmLane*)lanes[l])->row;
            if (a % 16 || !in_shared(w, a, 16)) {
                fail(w, CU_ILLEGAL_ADDRESS, "thread (%u,%u,%u): %s row address 0x%lx is %s", g->idx.x, g->idx.y, g->idx.z,
                     op_name(f->op), (unsigned long)a, a % 16 ? "not 16-byte aligned" : "not in shared memory");
                return false;
            }
        }
        emu_ldmatrix_run(lanes);
    }
    unsigned long long vote = 0;
    for (unsigned m = mask; m; m &= m - 1) {
        unsigned l = __builtin_ctz(m);
        if (w->fibers[base + l].val) vote |= 1ull << l;
    }
    unsigned ids[32];
    size_t k = 0;
    for (unsigned m = mask; m; m &= m - 1) {
        unsigned l = __builtin_ctz(m);
        Fiber* g = &w->fibers[base + l];
        int width = g->width > 0 && g->width <= 32 ? g->width : 32;
        unsigned seg = l / width * width, src = l;
        switch (g->op) {
            case EMU_WARP_IDX:
                src = seg + ((unsigned)g->arg & (width - 1));
                break;
            case EMU_WARP_UP:
                src = (int)(l - seg) >= g->arg ? l - g->arg : l;
                break;
            case EMU_WARP_DOWN:
                src = (l - seg) + g->arg < (unsigned)width ? l + g->arg : l;
                break;
            case EMU_WARP_XOR:
                src = l ^ (unsigned)g->arg;
                if (src >= seg + width || src >= 32) src = l;
                break;
        }
        switch (g->op) {
            case EMU_WARP_IDX:
            case EMU_WARP_UP:
            case EMU_WARP_DOWN:
            case EMU_WARP_XOR:
                if (!(mask >> src & 1)) {
                    fail(w, CU_LAUNCH_FAILED, "thread (%u,%u,%u) %s reads lane %u, which is not in mask 0x%08x", g->idx.x, g->idx.y,
                         g->idx.z, op_name(g->op), src, mask);
                    return false;
                }
                g->result = w->fibers[base + src].val;
                break;
            case EMU_WARP_MATCH_ANY: {
                unsigned long long r = 0;
                for (unsigned q = mask; q; q &= q - 1) {
                    unsigned j = __builtin_ctz(q);
                    if (w->fibers[base + j].val == g->val) r |= 1ull << j;
                }
                g->result = r;
                break;
            }
            case EMU_WARP_BALLOT:
                g->result = vote;
                break;
            case EMU_WARP_ANY:
                g->result = vote != 0;
                break;
            case EMU_WARP_ALL:
                g->result = vote == mask;
                break;
            default:
                g->result = 0;
        }
        ids[k++] = base + l;
    }
    push_ready(w, ids, k);
    return true;
}

// Describes where each thread is when a block cannot go on.
static void report_stuck(Worker* w) {
    unsigned counts[EXITED + 1] = {0};
    int first[EXITED + 1];
    for (int s = 0; s <= EXITED; ++s) first[s] = -1;
    for (unsigned i = 0; i < w->n; ++i) {
        int s = w->fibers[i].state;
        if (first[s] < 0) first[s] = (int)i;
        counts[s]++;
    }
    char buf[1024];
    int off = 0;
    for (int s = 0; s <= EXITED; ++s) {
        if (!counts[s]) continue;
        const Fiber& f = w->fibers[first[s]];
        off += snprintf(buf + off, sizeof buf - off, "%s%u thread(s) %s (first (%u,%u,%u)%s%s)", off ? "; " : "", counts[s],
                        state_name(s), f.idx.x, f.idx.y, f.idx.z, s == AT_WARP ? " in " : "", s == AT_WARP ? op_name(f.op) : "");
        if (off >= (int)sizeof buf) break;
    }
    fail(w, CU_LAUNCH_FAILED, "divergent barrier: not every thread of the block reaches it (%s)", buf);
}

static bool run_block(Worker* w, uint64_t linear) {
    const Launch& L = *w->L;
    emu_blockIdx.x = (unsigned)(linear % L.grid[0]);
    emu_blockIdx.y = (unsigned)(linear / L.grid[0] % L.grid[1]);
    emu_blockIdx.z = (unsigned)(linear / ((uint64_t)L.grid[0] * L.grid[1]));
    unsigned n = w->n;
    if (w->fibers.size() < n) w->fibers.resize(n);
    for (unsigned i = 0; i < n; ++i) {
        Fiber& f = w->fibers[i];
        f.tid = i;
        f.idx.x = i % L.block[0];
        f.idx.y = i / L.block[0] % L.block[1];
        f.idx.z = i / (L.block[0] * L.block[1]);
        f.state = NEW;
        f.stack = nullptr;
        f.copies.clear();
        f.groups.clear();
        f.done = f.gdone = 0;
    }
    if (L.shmem) emu_reset_dynamic_shared(L.shmem);
    w->rng = g_sched.seed ^ (linear * 0xd1342543de82ef95ull);
    for (const char* c = L.k->name; *c; ++c) w->rng = (w->rng ^ (unsigned char)*c) * 0x100000001b3ull;
    w->ready.clear();
    w->head = 0;
    std::vector<unsigned> ids(n);
    for (unsigned i = 0; i < n; ++i) ids[i] = i;
    push_ready(w, ids.data(), n);
    w->at_bar = w->exited = 0;
    while (w->head < w->ready.size()) {
        Fiber* f = &w->fibers[w->ready[w->head++]];
        if (f->stack == nullptr) {
            f->stack = take_stack(w);
            prepare(f);
        }
        f->state = RUNNING;
        w->cur = f;
        emu_threadIdx = f->idx;
        emu_switch(&w->sched_sp, f->sp);
        w->cur = nullptr;
        switch (f->state) {
            case EXITED:
                w->free_stacks.push_back(f->stack);
                f->stack = nullptr;
                w->exited++;
                break;
            case AT_BAR:
                if (++w->at_bar == n) {
                    w->at_bar = 0;
                    size_t k = 0;
                    for (unsigned i = 0; i < n; ++i) ids[k++] = i;
                    push_ready(w, ids.data(), k);
                }
                break;
            case AT_WARP:
                if (!try_warp(w, f)) return false;
                break;
        }
    }
    if (w->exited != n) {
        report_stuck(w);
        return false;
    }
    return true;
}

// The fiber stacks of an abandoned block (a fault, a divergence) go back to
// the free list: nothing will resume them.
static void reclaim(Worker* w) {
    for (unsigned i = 0; i < w->n && i < w->fibers.size(); ++i) {
        Fiber& f = w->fibers[i];
        if (f.stack) {
            w->free_stacks.push_back(f.stack);
            f.stack = nullptr;
        }
    }
    w->cur = nullptr;
}

static bool run_block_guarded(Worker* w, uint64_t linear) {
    if (sigsetjmp(w->jb, 1)) {
        w->in_kernel = false;
        reclaim(w);
        return false;
    }
    w->in_kernel = true;
    bool ok = run_block(w, linear);
    w->in_kernel = false;
    if (!ok) reclaim(w);
    return ok;
}

// ---- device allocations with guard pages ----

namespace {
struct Alloc {
    char* map;
    size_t map_len;
    size_t bytes;
};
std::mutex& g_alloc_mu = *new std::mutex;
std::map<uintptr_t, Alloc>& g_allocs = *new std::map<uintptr_t, Alloc>;  // by user start; never destroyed (see below)
}  // namespace

namespace emu {

void* guarded_alloc(size_t bytes) {
    // 256-byte granularity as cuMemAlloc guarantees; the block ends where the
    // trailing guard page starts, so a read or write past its end faults.
    size_t user = (bytes + 255) / 256 * 256;
    if (user == 0) user = 256;
    size_t data = (user + g_page - 1) / g_page * g_page;
    size_t len = data + 2 * g_page;
    char* m = (char*)mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) return nullptr;
    mprotect(m, g_page, PROT_NONE);
    mprotect(m + g_page + data, g_page, PROT_NONE);
    char* p = m + g_page + data - user;
    // Fresh memory is NaN (0x7fc00000 words): as float a quiet NaN, as int64 an
    // index far out of range, so a kernel that reads before it writes shows.
    uint32_t* q = (uint32_t*)p;
    for (size_t i = 0; i < user / 4; ++i) q[i] = 0x7fc00000u;
    std::lock_guard<std::mutex> g(g_alloc_mu);
    g_allocs[(uintptr_t)p] = Alloc{m, len, user};
    return p;
}

bool guarded_free(void* p) {
    Alloc a;
    {
        std::lock_guard<std::mutex> g(g_alloc_mu);
        auto it = g_allocs.find((uintptr_t)p);
        if (it == g_allocs.end()) return false;
        a = it->second;
        g_allocs.erase(it);
    }
    munmap(a.map, a.map_len);
    return true;
}

bool in_allocation(uintptr_t p, size_t n) {
    std::lock_guard<std::mutex> g(g_alloc_mu);
    auto it = g_allocs.upper_bound(p);
    if (it == g_allocs.begin()) return false;
    --it;
    return p >= it->first && p + n <= it->first + it->second.bytes;
}

}  // namespace emu

// Names the allocation nearest to a faulting address (best effort: the
// handler must not wait on a lock another thread holds).
static void describe_address(uintptr_t a, char* buf, size_t len) {
    bool locked = false;
    for (int i = 0; i < 1000 && !(locked = g_alloc_mu.try_lock()); ++i) sched_yield();
    if (!locked) {
        snprintf(buf, len, "address 0x%lx", (unsigned long)a);
        return;
    }
    const char* what = "not in or beside any device allocation (a null, host or freed pointer?)";
    char tmp[256];
    auto it = g_allocs.upper_bound(a);
    if (it != g_allocs.begin()) {
        auto p = std::prev(it);
        uintptr_t end = p->first + p->second.bytes;
        if (a >= end && a < end + g_page) {
            snprintf(tmp, sizeof tmp, "%lu bytes past the end of the %zu-byte allocation at 0x%lx", (unsigned long)(a - end),
                     p->second.bytes, (unsigned long)p->first);
            what = tmp;
        }
    }
    if (what != tmp && it != g_allocs.end() && a < it->first && a >= (uintptr_t)it->second.map) {
        snprintf(tmp, sizeof tmp, "%lu bytes before the %zu-byte allocation at 0x%lx", (unsigned long)(it->first - a),
                 it->second.bytes, (unsigned long)it->first);
        what = tmp;
    }
    snprintf(buf, len, "address 0x%lx, %s", (unsigned long)a, what);
    g_alloc_mu.unlock();
}

static struct sigaction g_prev_segv, g_prev_bus;

static void on_fault(int sig, siginfo_t* si, void* ucv) {
    Worker* w = tw;
    if (!w || !w->in_kernel) {
        // Not a kernel's fault: let the previous handler (or the default) have it.
        struct sigaction* prev = sig == SIGSEGV ? &g_prev_segv : &g_prev_bus;
        if ((prev->sa_flags & SA_SIGINFO) && prev->sa_sigaction) {
            prev->sa_sigaction(sig, si, ucv);
            return;
        }
        signal(sig, SIG_DFL);
        return;
    }
    uintptr_t a = (uintptr_t)si->si_addr;
    ucontext_t* uc = (ucontext_t*)ucv;
    bool write = (uc->uc_mcontext.gregs[REG_ERR] & 2) != 0;
    char where[512];
    bool stack = false;
    for (char* s : w->all_stacks)
        if (a >= (uintptr_t)s && a < (uintptr_t)s + g_page) stack = true;
    if (stack)
        snprintf(where, sizeof where, "fiber stack overflow (%zu KiB per thread; FSODGPU_EMU_STACK_KB raises it)",
                 g_stack_bytes / 1024);
    else
        describe_address(a, where, sizeof where);
    Fiber* f = w->cur;
    w->errcode = 0;
    if (f)
        fail(w, CU_ILLEGAL_ADDRESS, "thread (%u,%u,%u): out-of-bounds %s at %s", f->idx.x, f->idx.y, f->idx.z,
             write ? "write" : "read", where);
    else
        fail(w, CU_ILLEGAL_ADDRESS, "fault outside any thread at %s", where);
    siglongjmp(w->jb, 1);
}

// ---- the worker pool ----

namespace {
struct Job {
    const Launch* L;
    uint64_t nblocks;
    unsigned nthreads;
    std::atomic<uint64_t> next{0};
    std::atomic<bool> stop{false};
    uint64_t finished = 0;  // guarded by g_pool_mu
    int code = 0;
    char msg[2048];
};
// Never destroyed: at exit the workers still wait on these, and destroying a
// condition variable with waiters blocks.
std::mutex& g_pool_mu = *new std::mutex;
std::condition_variable& g_pool_cv = *new std::condition_variable;
std::condition_variable& g_done_cv = *new std::condition_variable;
std::deque<Job*>& g_jobs = *new std::deque<Job*>;
int g_workers = 0;
std::once_flag g_pool_once;

void* worker_main(void*) {
    Worker* w = new Worker();
    tw = w;
    stack_t ss;
    ss.ss_size = 256 * 1024;
    ss.ss_sp = malloc(ss.ss_size);
    ss.ss_flags = 0;
    sigaltstack(&ss, nullptr);
    std::unique_lock<std::mutex> lk(g_pool_mu);
    for (;;) {
        g_pool_cv.wait(lk, [] { return !g_jobs.empty(); });
        Job* J = g_jobs.front();
        uint64_t b = J->next.fetch_add(1);
        if (b >= J->nblocks) {
            if (!g_jobs.empty() && g_jobs.front() == J) g_jobs.pop_front();
            continue;
        }
        lk.unlock();
        bool ok = true;
        if (!J->stop.load()) {
            w->L = J->L;
            w->n = J->nthreads;
            w->errcode = 0;
            emu_blockDim = dim3{J->L->block[0], J->L->block[1], J->L->block[2]};
            emu_gridDim = dim3{J->L->grid[0], J->L->grid[1], J->L->grid[2]};
            ok = run_block_guarded(w, b);
        }
        lk.lock();
        if (!ok && !J->code) {
            J->code = w->errcode ? w->errcode : CU_LAUNCH_FAILED;
            snprintf(J->msg, sizeof J->msg, "%s", w->err);
            J->stop.store(true);
        }
        if (++J->finished == J->nblocks) g_done_cv.notify_all();
    }
    return nullptr;
}

void start_pool() {
    g_page = (size_t)sysconf(_SC_PAGESIZE);
    if (const char* s = getenv("FSODGPU_EMU_STACK_KB")) {
        long kb = atol(s);
        if (kb >= 16) g_stack_bytes = (size_t)kb * 1024;
    }
    int n = 0;
    if (const char* s = getenv("FSODGPU_EMU_THREADS")) n = atoi(s);
    if (n <= 0) {
        cpu_set_t set;
        if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
        if (n <= 0) n = (int)sysconf(_SC_NPROCESSORS_ONLN);
        if (n <= 0) n = 1;
    }
    g_workers = n;
    for (int i = 0; i < n; ++i) {
        pthread_t t;
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        // Worker threads must not take the Go runtime's signals.
        sigset_t all, old;
        sigfillset(&all);
        sigdelset(&all, SIGSEGV);
        sigdelset(&all, SIGBUS);
        sigdelset(&all, SIGFPE);
        sigdelset(&all, SIGILL);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        pthread_create(&t, &a, worker_main, nullptr);
        pthread_sigmask(SIG_SETMASK, &old, nullptr);
        pthread_attr_destroy(&a);
    }
}
}  // namespace

namespace emu {

int worker_count() {
    std::call_once(g_pool_once, start_pool);
    return g_workers;
}

int run_launch(const Launch& L, char* msg, size_t msglen) {
    std::call_once(g_pool_once, start_pool);
    Job J;
    J.L = &L;
    J.nblocks = (uint64_t)L.grid[0] * L.grid[1] * L.grid[2];
    J.nthreads = L.block[0] * L.block[1] * L.block[2];
    J.msg[0] = 0;
    std::unique_lock<std::mutex> lk(g_pool_mu);
    g_jobs.push_back(&J);
    g_pool_cv.notify_all();
    g_done_cv.wait(lk, [&] { return J.finished == J.nblocks; });
    for (auto it = g_jobs.begin(); it != g_jobs.end(); ++it)
        if (*it == &J) {
            g_jobs.erase(it);
            break;
        }
    if (J.code) snprintf(msg, msglen, "%s", J.msg);
    return J.code;
}

}  // namespace emu

// The fault handler goes in before the Go runtime starts, so Go forwards
// faults in non-Go code (our workers) to it.
__attribute__((constructor)) static void emu_install_handlers() {
    g_page = (size_t)sysconf(_SC_PAGESIZE);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &g_prev_segv);
    sigaction(SIGBUS, &sa, &g_prev_bus);
}
