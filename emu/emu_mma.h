// The emulator's model of the tensor cores: the five matrix-unit wrappers
// kernels/common.cuh declares for nvcc (fsod_cvt_tf32, fsod_pack_bf16x2,
// fsod_mma_m16n8k8_tf32, fsod_mma_m16n8k8_bf16, fsod_ldmatrix_x4), here as the
// hardware behaves. (cp.async, the asynchronous copies that feed them, is
// emu_async.h.)
//
// Rounding (exact, bit for bit):
//   cvt.rna.tf32.f32   round to nearest, ties away from zero, to 10 mantissa
//                      bits; the result is a .b32 whose low 13 bits are 0.
//                      Inf stays Inf, a finite value that rounds past the
//                      largest TF32 becomes Inf, NaN becomes the canonical
//                      NaN 0x7fffffff.
//   cvt.rn.bf16x2.f32  round to nearest even to 7 mantissa bits, NaN to the
//                      canonical 0x7fff; the first PTX source goes to the
//                      upper half (fsod_pack_bf16x2(lo, hi) puts lo low).
//
// mma.sync.aligned.m16n8k8.row.col.f32.{tf32,bf16}: a warp-collective
// operation. Every lane deposits a pointer to its fragments (emu_warp_op with
// op EMU_WARP_MMA_*, full mask); when all 32 lanes have arrived the scheduler
// calls emu_mma_run, which gathers A[16x8], B[8x8], C[16x8] from the lanes by
// the PTX ISA fragment layouts, computes D, and scatters it back by the same
// layouts. A lane that exited or waits elsewhere is a divergence error, as
// for a shuffle. The layouts (groupID g = lane>>2, threadID_in_group t = lane%4):
//   tf32 A  a[r], r = 0..3   row g + 8(r&1)   col t + 4(r>>1)
//   tf32 B  b[r], r = 0..1   row t + 4r       col g
//   bf16 A  a[r] half e      row g + 8r       col 2t + e      (e = 0: bits 0..15)
//   bf16 B  b[0] half e      row 2t + e       col g
//   C, D    c[r], r = 0..3   row g + 8(r>>1)  col 2t + (r&1)
// The hardware reads a .tf32 operand's upper 19 bits only, so the model
// masks the low 13 (a kernel that skips cvt.rna gets truncation, as on the
// GPU). Products of TF32 or BF16 values are exact in fp32; the model adds
// them to C one k at a time in fp32, round to nearest even. The tensor
// cores' internal summation (order, alignment, rounding of the 8-term sum)
// is not documented and differs from this at the level of fp32 rounding, so
// results of real hardware match the emulator to ~1e-6 relative, not bit for
// bit; tests compare across that with a tolerance.
//
// ldmatrix.sync.aligned.m8n8.x4.shared.b16: a warp collective too (full
// mask, every lane arrives with its row address). Lanes 8j..8j+7 give the
// row addresses of matrix j (8 rows of 16 bytes); lane i receives in r[j]
// the 32-bit word i%4 of row i/4 of matrix j. The scheduler checks every
// lane's address before any is read: 16-byte aligned, and the 16 bytes
// inside the block's shared memory (the worker's thread-local block, where
// every __shared__ variable lives); otherwise the launch fails naming the
// thread and the address, where hardware would fault or read garbage.
#pragma once
#include <stdint.h>
#include <string.h>

#include "emu_core.h"
#include "emu_warp.h"

struct EmuMmaLane {
    const uint32_t* a;
    const uint32_t* b;
    const float* c;
    float* d;
};

static inline uint32_t emu_f32_bits(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    return u;
}

static inline float emu_bits_f32(uint32_t u) {
    float x;
    memcpy(&x, &u, 4);
    return x;
}

// Round-to-nearest-ties-away on the magnitude bits: adding half an ULP of
// the kept part carries into it exactly when the dropped bits are >= half.
// Overflow carries into the exponent and gives Inf, as the hardware does.
static inline uint32_t emu_tf32_rna_bits(float x) {
    uint32_t u = emu_f32_bits(x);
    if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fffffffu;  // NaN
    if ((u & 0x7f800000u) == 0x7f800000u) return u;            // Inf
    return (u + 0x1000u) & 0xffffe000u;
}

static inline uint16_t emu_bf16_rne_bits(float x) {
    uint32_t u = emu_f32_bits(x);
    if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fffu;  // NaN
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

__forceinline__ unsigned fsod_cvt_tf32(float x) { return emu_tf32_rna_bits(x); }

__forceinline__ unsigned fsod_pack_bf16x2(float lo, float hi) {
    return (unsigned)emu_bf16_rne_bits(lo) | (unsigned)emu_bf16_rne_bits(hi) << 16;
}

static inline void emu_mma_lane(int op, const uint32_t* a, const uint32_t* b, const float* c, float* d) {
    float out[4];
    EmuMmaLane l = {a, b, c, out};
    emu_warp_op(op, 0xffffffffu, (unsigned long long)(uintptr_t)&l, 0, 32);
    memcpy(d, out, sizeof out);
}

__forceinline__ void fsod_mma_m16n8k8_tf32(float d[4], const unsigned a[4], const unsigned b[2], const float c[4]) {
    emu_mma_lane(EMU_WARP_MMA_M16N8K8_TF32, a, b, c, d);
}

__forceinline__ void fsod_mma_m16n8k8_bf16(float d[4], const unsigned a[2], const unsigned b[1], const float c[4]) {
    emu_mma_lane(EMU_WARP_MMA_M16N8K8_BF16, a, b, c, d);
}

// The collective step, run by the scheduler once all 32 lanes of a warp wait
// at the same mma; lanes[l] is lane l's EmuMmaLane.
static inline void emu_mma_run(int op, void* const lanes[32]) {
    float A[16][8], B[8][8], C[16][8];
    for (int l = 0; l < 32; ++l) {
        const EmuMmaLane* p = (const EmuMmaLane*)lanes[l];
        int g = l >> 2, t = l & 3;
        if (op == EMU_WARP_MMA_M16N8K8_TF32) {
            for (int r = 0; r < 4; ++r) A[g + 8 * (r & 1)][t + 4 * (r >> 1)] = emu_bits_f32(p->a[r] & 0xffffe000u);
            for (int r = 0; r < 2; ++r) B[t + 4 * r][g] = emu_bits_f32(p->b[r] & 0xffffe000u);
        } else {
            for (int r = 0; r < 2; ++r)
                for (int e = 0; e < 2; ++e) A[g + 8 * r][2 * t + e] = emu_bits_f32((p->a[r] >> (16 * e)) << 16);
            for (int e = 0; e < 2; ++e) B[2 * t + e][g] = emu_bits_f32((p->b[0] >> (16 * e)) << 16);
        }
        for (int r = 0; r < 4; ++r) C[g + 8 * (r >> 1)][2 * t + (r & 1)] = p->c[r];
    }
    for (int l = 0; l < 32; ++l) {
        const EmuMmaLane* p = (const EmuMmaLane*)lanes[l];
        int g = l >> 2, t = l & 3;
        for (int r = 0; r < 4; ++r) {
            int row = g + 8 * (r >> 1), col = 2 * t + (r & 1);
            float acc = C[row][col];
            for (int k = 0; k < 8; ++k) acc = acc + A[row][k] * B[k][col];
            p->d[r] = acc;
        }
    }
}

// ---- ldmatrix ----

struct EmuLdsmLane {
    const void* row;
    uint32_t* r;
};

__forceinline__ void fsod_ldmatrix_x4(unsigned r[4], const void* row) {
    uint32_t out[4];
    EmuLdsmLane l = {row, out};
    emu_warp_op(EMU_WARP_LDMATRIX_X4, 0xffffffffu, (unsigned long long)(uintptr_t)&l, 0, 32);
    memcpy(r, out, sizeof out);
}

// The collective step once the scheduler has checked every lane's address:
// lane i gets word i%4 of the row that lane 8j + i/4 addressed, for each j.
static inline void emu_ldmatrix_run(void* const lanes[32]) {
    for (int i = 0; i < 32; ++i) {
        EmuLdsmLane* p = (EmuLdsmLane*)lanes[i];
        for (int j = 0; j < 4; ++j) {
            const EmuLdsmLane* src = (const EmuLdsmLane*)lanes[8 * j + i / 4];
            memcpy(&p->r[j], (const char*)src->row + 4 * (i % 4), 4);
        }
    }
}

