// Atomics. Blocks run in parallel on OS threads, so these are real host
// atomics (sequentially consistent); the float and double adds are
// compare-and-swap loops, which is what the hardware's result is
// indistinguishable from. Each returns the old value, as CUDA's do.
#pragma once

template <typename T>
__forceinline__ T emu_atomic_add_int(T* p, T v) {
    return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST);
}
__forceinline__ int atomicAdd(int* p, int v) { return emu_atomic_add_int(p, v); }
__forceinline__ unsigned atomicAdd(unsigned* p, unsigned v) { return emu_atomic_add_int(p, v); }
__forceinline__ unsigned long long atomicAdd(unsigned long long* p, unsigned long long v) { return emu_atomic_add_int(p, v); }

template <typename F, typename U>
__forceinline__ F emu_atomic_add_float(F* p, F v) {
    U* q = reinterpret_cast<U*>(p);
    U old = __atomic_load_n(q, __ATOMIC_SEQ_CST), want;
    F f;
    do {
        memcpy(&f, &old, sizeof f);
        F n = f + v;
        memcpy(&want, &n, sizeof want);
    } while (!__atomic_compare_exchange_n(q, &old, want, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
    return f;
}
__forceinline__ float atomicAdd(float* p, float v) { return emu_atomic_add_float<float, unsigned>(p, v); }
__forceinline__ double atomicAdd(double* p, double v) { return emu_atomic_add_float<double, unsigned long long>(p, v); }

#define EMU_ATOMIC_BITS(name, builtin)                                                                   \
    __forceinline__ int name(int* p, int v) { return builtin(p, v, __ATOMIC_SEQ_CST); }                   \
    __forceinline__ unsigned name(unsigned* p, unsigned v) { return builtin(p, v, __ATOMIC_SEQ_CST); }    \
    __forceinline__ unsigned long long name(unsigned long long* p, unsigned long long v) {                \
        return builtin(p, v, __ATOMIC_SEQ_CST);                                                           \
    }
EMU_ATOMIC_BITS(atomicOr, __atomic_fetch_or)
EMU_ATOMIC_BITS(atomicAnd, __atomic_fetch_and)
EMU_ATOMIC_BITS(atomicXor, __atomic_fetch_xor)
EMU_ATOMIC_BITS(atomicSub, __atomic_fetch_sub)
#undef EMU_ATOMIC_BITS

template <typename T>
__forceinline__ T emu_atomic_exch(T* p, T v) {
    return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST);
}
__forceinline__ int atomicExch(int* p, int v) { return emu_atomic_exch(p, v); }
__forceinline__ unsigned atomicExch(unsigned* p, unsigned v) { return emu_atomic_exch(p, v); }
__forceinline__ unsigned long long atomicExch(unsigned long long* p, unsigned long long v) { return emu_atomic_exch(p, v); }
__forceinline__ float atomicExch(float* p, float v) {
    unsigned u = __atomic_exchange_n(reinterpret_cast<unsigned*>(p), emu_bitcast<unsigned>(v), __ATOMIC_SEQ_CST);
    return emu_bitcast<float>(u);
}

template <typename T>
__forceinline__ T emu_atomic_cas(T* p, T cmp, T v) {
    __atomic_compare_exchange_n(p, &cmp, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    return cmp;
}
__forceinline__ int atomicCAS(int* p, int c, int v) { return emu_atomic_cas(p, c, v); }
__forceinline__ unsigned atomicCAS(unsigned* p, unsigned c, unsigned v) { return emu_atomic_cas(p, c, v); }
__forceinline__ unsigned long long atomicCAS(unsigned long long* p, unsigned long long c, unsigned long long v) {
    return emu_atomic_cas(p, c, v);
}

template <typename T>
__forceinline__ T emu_atomic_minmax(T* p, T v, bool is_max) {
    T old = __atomic_load_n(p, __ATOMIC_SEQ_CST);
    while ((is_max ? v > old : v < old) &&
           !__atomic_compare_exchange_n(p, &old, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
    }
    return old;
}
__forceinline__ int atomicMax(int* p, int v) { return emu_atomic_minmax(p, v, true); }
__forceinline__ unsigned atomicMax(unsigned* p, unsigned v) { return emu_atomic_minmax(p, v, true); }
__forceinline__ long long atomicMax(long long* p, long long v) { return emu_atomic_minmax(p, v, true); }
__forceinline__ unsigned long long atomicMax(unsigned long long* p, unsigned long long v) { return emu_atomic_minmax(p, v, true); }
__forceinline__ int atomicMin(int* p, int v) { return emu_atomic_minmax(p, v, false); }
__forceinline__ unsigned atomicMin(unsigned* p, unsigned v) { return emu_atomic_minmax(p, v, false); }
__forceinline__ long long atomicMin(long long* p, long long v) { return emu_atomic_minmax(p, v, false); }
__forceinline__ unsigned long long atomicMin(unsigned long long* p, unsigned long long v) { return emu_atomic_minmax(p, v, false); }
