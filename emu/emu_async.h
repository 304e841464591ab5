// The emulator's model of cp.async (kernels/common.cuh: fsod_cp_async16,
// fsod_cp_async_commit, fsod_cp_async_wait<N>): asynchronous 16-byte copies
// from global to shared memory, in per-thread groups.
//
// Each emulated thread keeps its own queue (runtime.cc, in its fiber):
//   cp.async            checks the copy (destination 16-byte aligned and inside
//                       the block's shared memory, source 16-byte aligned and,
//                       unless it is a zero-fill with src-size 0, inside one
//                       device allocation; else the launch fails naming the
//                       thread) and queues it; nothing is read or written yet
//   cp.async.commit_group  closes the open group (an empty group is allowed)
//   cp.async.wait_group N  performs, oldest first, every committed group but
//                       the N most recent: reads the source, writes the
//                       destination (zeros past src-size)
//   thread exit         performs whatever is still queued
// That is the latest each copy may land by the PTX ISA, so a kernel that
// reads the destination before the wait covering it (or without a barrier
// after the wait, for another thread's copies) reads what was there before,
// deterministically: the emulator's tests show such a kernel gets the stale
// value. A __syncthreads does not complete copies, on the GPU or here.
// Under a shuffled schedule (FSODGPU_EMU_SCHEDULE=shuffle:N) each copy is
// instead performed at issue with probability 1/2, seeded per block: the
// earliest it may land. A kernel that refills a buffer other threads are
// still reading then differs between schedules, which `make emu-check`
// compares; a correct pipeline gives the same bits under all of them.
#pragma once
#include "emu_core.h"

extern "C" void emu_cp_async(void* dst, const void* src, unsigned bytes, unsigned src_bytes);
extern "C" void emu_cp_async_commit(void);
extern "C" void emu_cp_async_wait(unsigned n);

__forceinline__ void fsod_cp_async16(void* dst, const void* src, bool valid) { emu_cp_async(dst, src, 16, valid ? 16 : 0); }
__forceinline__ void fsod_cp_async_commit() { emu_cp_async_commit(); }
template <int N>
__forceinline__ void fsod_cp_async_wait() {
    static_assert(N >= 0, "cp.async.wait_group takes a non-negative count");
    emu_cp_async_wait((unsigned)N);
}
