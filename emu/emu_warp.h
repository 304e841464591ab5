// Warp-level operations. A lane that calls one deposits its value in its
// warp's slot and waits; when every lane named in the mask has arrived at a
// warp operation, the runtime computes each lane's result from the slots and
// releases them (emu_warp_op in runtime.cc). Lanes never read a slot another
// lane may already be rewriting, so the values are those of one exchange.
// A mask naming a lane that exited, does not exist or waits elsewhere is a
// divergence error reported with the kernel's name (hardware would hang or
// return garbage).
#pragma once
#include <stdint.h>
#include <string.h>

enum {
    EMU_WARP_SYNC = 0,
    EMU_WARP_IDX = 1,
    EMU_WARP_UP = 2,
    EMU_WARP_DOWN = 3,
    EMU_WARP_XOR = 4,
    EMU_WARP_MATCH_ANY = 5,
    EMU_WARP_BALLOT = 6,
    EMU_WARP_ANY = 7,
    EMU_WARP_ALL = 8,
    // The tensor-core mma shapes of emu_mma.h: value points at the lane's
    // EmuMmaLane, the mask must be the full warp.
    EMU_WARP_MMA_M16N8K8_TF32 = 9,
    EMU_WARP_MMA_M16N8K8_BF16 = 10,
    // ldmatrix.sync.aligned.m8n8.x4.shared.b16 (emu_mma.h): value points at
    // the lane's EmuLdsmLane, the mask must be the full warp.
    EMU_WARP_LDMATRIX_X4 = 11,
};

extern "C" unsigned long long emu_warp_op(int op, unsigned mask, unsigned long long value, int arg, int width);

template <typename T>
__forceinline__ T emu_shfl(int op, unsigned mask, T v, int arg, int width) {
    static_assert(sizeof(T) <= 8, "shuffle of more than 8 bytes");
    unsigned long long b = 0;
    memcpy(&b, &v, sizeof(T));
    b = emu_warp_op(op, mask, b, arg, width);
    memcpy(&v, &b, sizeof(T));
    return v;
}

template <typename T>
__forceinline__ T __shfl_sync(unsigned mask, T v, int src, int width = 32) { return emu_shfl(EMU_WARP_IDX, mask, v, src, width); }
template <typename T>
__forceinline__ T __shfl_up_sync(unsigned mask, T v, unsigned d, int width = 32) { return emu_shfl(EMU_WARP_UP, mask, v, (int)d, width); }
template <typename T>
__forceinline__ T __shfl_down_sync(unsigned mask, T v, unsigned d, int width = 32) { return emu_shfl(EMU_WARP_DOWN, mask, v, (int)d, width); }
template <typename T>
__forceinline__ T __shfl_xor_sync(unsigned mask, T v, int m, int width = 32) { return emu_shfl(EMU_WARP_XOR, mask, v, m, width); }

template <typename T>
__forceinline__ unsigned __match_any_sync(unsigned mask, T v) {
    static_assert(sizeof(T) <= 8, "match of more than 8 bytes");
    unsigned long long b = 0;
    memcpy(&b, &v, sizeof(T));
    return (unsigned)emu_warp_op(EMU_WARP_MATCH_ANY, mask, b, 0, 32);
}
__forceinline__ unsigned __ballot_sync(unsigned mask, int p) { return (unsigned)emu_warp_op(EMU_WARP_BALLOT, mask, p != 0, 0, 32); }
__forceinline__ int __any_sync(unsigned mask, int p) { return (int)emu_warp_op(EMU_WARP_ANY, mask, p != 0, 0, 32); }
__forceinline__ int __all_sync(unsigned mask, int p) { return (int)emu_warp_op(EMU_WARP_ALL, mask, p != 0, 0, 32); }
__forceinline__ void __syncwarp(unsigned mask = 0xffffffffu) { emu_warp_op(EMU_WARP_SYNC, mask, 0, 0, 32); }
