// Dropout masks from Philox4x32-10 and the dropout multiply.
//
// The stream is engine/rng's, bit for bit (that package's doc is the
// definition): element i of a stream keyed by seed at counter offset takes
// word i%4 of Philox4x32-10(counter (lo32(offset+i/4), hi32(offset+i/4), 0, 0),
// key (lo32(seed), hi32(seed))), maps it to u = float(word >> 8)·2^-24 and is
// kept (1.0) iff u >= p. Written out here rather than taken from curand so the
// kernel library needs no curand headers and the definition is in one place
// per backend.

#define RNG_PHILOX_M0 0xD2511F53u
#define RNG_PHILOX_M1 0xCD9E8D57u
#define RNG_PHILOX_W0 0x9E3779B9u
#define RNG_PHILOX_W1 0xBB67AE85u

// rng_philox4x32_10 is ten Philox rounds with the key bumped between rounds.
__device__ __forceinline__ uint4 rng_philox4x32_10(uint4 c, unsigned k0, unsigned k1) {
#pragma unroll
    for (int r = 0; r < 10; ++r) {
        if (r > 0) {
            k0 += RNG_PHILOX_W0;
            k1 += RNG_PHILOX_W1;
        }
        unsigned hi0 = __umulhi(RNG_PHILOX_M0, c.x), lo0 = RNG_PHILOX_M0 * c.x;
        unsigned hi1 = __umulhi(RNG_PHILOX_M1, c.z), lo1 = RNG_PHILOX_M1 * c.z;
        c = make_uint4(hi1 ^ c.y ^ k0, lo1, hi0 ^ c.w ^ k1, lo0);
    }
    return c;
}

// 24 bits to [0,1): exact in float32, the same value engine/rng.ToUnit gives.
__device__ __forceinline__ float rng_to_unit(unsigned w) { return (float)(w >> 8) * (1.0f / 16777216.0f); }

// mask [n] float {0,1}. One thread per Philox block of four elements, so each
// block is computed once; offset + block wraps mod 2^64 as in engine/rng.
extern "C" __global__ void dropout_mask_forward_kernel(float* mask, i64 n, double p, unsigned long long seed,
                                                       unsigned long long offset) {
    const float pf = (float)p;
    const i64 blocks = ceil_div(n, 4);
    GRID_LOOP(j, blocks) {
        unsigned long long ctr = offset + (unsigned long long)j;
        uint4 w = rng_philox4x32_10(make_uint4((unsigned)ctr, (unsigned)(ctr >> 32), 0u, 0u), (unsigned)seed,
                                    (unsigned)(seed >> 32));
        unsigned words[4] = {w.x, w.y, w.z, w.w};
        i64 base = j * 4;
#pragma unroll
        for (int k = 0; k < 4; ++k) {
            if (base + k < n) mask[base + k] = rng_to_unit(words[k]) >= pf ? 1.0f : 0.0f;
        }
    }
}

// y = x·mask·scale, scale = float32(1/(1-p)) computed by the launcher as the
// CPU backend does, multiplied in the same order so both give the same bits.
// p = 1 never reaches the kernel (the launcher returns zeros).
extern "C" __global__ void dropout_forward_kernel(float* y, const float* __restrict__ x,
                                                  const float* __restrict__ mask, i64 n, double scale) {
    const float s = (float)scale;
    GRID_LOOP(i, n) { y[i] = __fmul_rn(__fmul_rn(x[i], mask[i]), s); }
}
