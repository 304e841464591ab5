// BF16 storage: activations kept in bfloat16 under precision bf16 (README
// "Precision"), today the RoI-Align input and output. A stored value is the
// upper 16 bits of an fp32; the conversions are integer arithmetic, identical
// under nvcc and the emulator, so no PTX is involved and every architecture
// can read BF16 storage (only the kernels that multiply it need sm_80).
//
//   fsod_f32_to_bf16(x)   round to nearest, ties to even, as cvt.rn.bf16.f32
//                         and fsod_pack_bf16x2: an fp32 that rounds past the
//                         largest BF16 becomes Inf, NaN the canonical 0x7fff
//   fsod_bf16_to_f32(h)   exact
//   fsod_ld(p)            __ldg of a float or a BF16 element, as a float: the
//                         loaders that read activations are templated on it
typedef unsigned short bf16_t;

__device__ __forceinline__ bf16_t fsod_f32_to_bf16(float x) {
    unsigned u = __float_as_uint(x);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (bf16_t)0x7fffu;
    u += 0x7fffu + ((u >> 16) & 1u);
    return (bf16_t)(u >> 16);
}

__device__ __forceinline__ float fsod_bf16_to_f32(bf16_t h) { return __uint_as_float((unsigned)h << 16); }

__device__ __forceinline__ float fsod_ld(const float* p) { return __ldg(p); }
__device__ __forceinline__ float fsod_ld(const bf16_t* p) { return fsod_bf16_to_f32(__ldg(p)); }
