// Math and bit intrinsics. The kernel library compiles with -ffp-contract=off
// (no FMA contraction), so __fmul_rn/__fadd_rn are exactly IEEE single
// operations, as on the GPU. expf/logf/tanhf come from glibc: they differ from
// CUDA's by an ulp or two, which the CPU-parity tolerances already allow.
#pragma once
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <type_traits>

__forceinline__ float __fmul_rn(float a, float b) { return a * b; }
__forceinline__ float __fadd_rn(float a, float b) { return a + b; }
__forceinline__ float __fsub_rn(float a, float b) { return a - b; }
__forceinline__ float __fdiv_rn(float a, float b) { return a / b; }
__forceinline__ float __fsqrt_rn(float a) { return sqrtf(a); }
__forceinline__ float __frcp_rn(float a) { return 1.0f / a; }
__forceinline__ float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
__forceinline__ double __dmul_rn(double a, double b) { return a * b; }
__forceinline__ double __dadd_rn(double a, double b) { return a + b; }
__forceinline__ double __dsub_rn(double a, double b) { return a - b; }
__forceinline__ double __ddiv_rn(double a, double b) { return a / b; }
__forceinline__ float __saturatef(float x) { return x < 0.f ? 0.f : (x > 1.f ? 1.f : (x != x ? 0.f : x)); }
__forceinline__ float rsqrtf(float x) { return 1.0f / sqrtf(x); }

template <typename To, typename From>
__forceinline__ To emu_bitcast(From f) {
    static_assert(sizeof(To) == sizeof(From), "bit cast between different sizes");
    To t;
    memcpy(&t, &f, sizeof t);
    return t;
}
__forceinline__ unsigned __float_as_uint(float f) { return emu_bitcast<unsigned>(f); }
__forceinline__ int __float_as_int(float f) { return emu_bitcast<int>(f); }
__forceinline__ float __uint_as_float(unsigned u) { return emu_bitcast<float>(u); }
__forceinline__ float __int_as_float(int u) { return emu_bitcast<float>(u); }
__forceinline__ long long __double_as_longlong(double d) { return emu_bitcast<long long>(d); }
__forceinline__ double __longlong_as_double(long long l) { return emu_bitcast<double>(l); }

__forceinline__ unsigned __umulhi(unsigned a, unsigned b) { return (unsigned)(((unsigned long long)a * b) >> 32); }
__forceinline__ int __mulhi(int a, int b) { return (int)(((long long)a * b) >> 32); }
__forceinline__ unsigned long long __umul64hi(unsigned long long a, unsigned long long b) {
    return (unsigned long long)(((unsigned __int128)a * b) >> 64);
}
__forceinline__ int __ffs(int x) { return __builtin_ffs(x); }
__forceinline__ int __ffsll(long long x) { return __builtin_ffsll(x); }
__forceinline__ int __popc(unsigned x) { return __builtin_popcount(x); }
__forceinline__ int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
__forceinline__ int __clz(int x) { return x == 0 ? 32 : __builtin_clz((unsigned)x); }
__forceinline__ int __clzll(long long x) { return x == 0 ? 64 : __builtin_clzll((unsigned long long)x); }
__forceinline__ unsigned __brev(unsigned x) {
    unsigned r = 0;
    for (int i = 0; i < 32; ++i) r |= ((x >> i) & 1u) << (31 - i);
    return r;
}

// CUDA's min/max are overloaded for every arithmetic pair; the result has the
// usual arithmetic conversion of the two (as CUDA's mixed overloads do).
template <typename A, typename B,
          typename = typename std::enable_if<std::is_arithmetic<A>::value && std::is_arithmetic<B>::value>::type>
__forceinline__ typename std::common_type<A, B>::type min(A a, B b) {
    typedef typename std::common_type<A, B>::type T;
    return (T)b < (T)a ? (T)b : (T)a;
}
template <typename A, typename B,
          typename = typename std::enable_if<std::is_arithmetic<A>::value && std::is_arithmetic<B>::value>::type>
__forceinline__ typename std::common_type<A, B>::type max(A a, B b) {
    typedef typename std::common_type<A, B>::type T;
    return (T)a < (T)b ? (T)b : (T)a;
}
