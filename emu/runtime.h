// Interface between the generated kernel unit, the scheduler (runtime.cc)
// and the driver stand-in (driver.cc).
#pragma once
#include <stddef.h>
#include <stdint.h>

// Largest dynamic shared memory a launch may request without the opt-in
// attribute, as on every GPU since sm_70.
#define EMU_MAX_DYN_SHARED (48 * 1024)

struct EmuKernel {
    const char* name;
    void* fn;
    void (*run)(void* fn, void** params);
    int nargs;
};

extern "C" {
// The generated kernel unit provides these.
const EmuKernel* emu_kernel_table(int* n);
void emu_reset_dynamic_shared(size_t bytes);
}

namespace emu {

// One kernel launch as the scheduler runs it.
struct Launch {
    const EmuKernel* k;
    unsigned grid[3], block[3];
    size_t shmem;
    void** params;
};

// Runs every block of the launch on the worker pool and waits. Returns 0 or
// the CUresult of the first failure; msg then holds the report.
int run_launch(const Launch& L, char* msg, size_t msglen);

// Device allocations with guard pages (runtime.cc owns the table so the
// fault handler can name the allocation an access missed).
void* guarded_alloc(size_t bytes);
bool guarded_free(void* p);
// Whether [p, p+n) lies inside one live allocation.
bool in_allocation(uintptr_t p, size_t n);
int worker_count();

struct Schedule {
    bool shuffle;
    uint64_t seed;
};
void set_schedule(Schedule s);

}  // namespace emu
