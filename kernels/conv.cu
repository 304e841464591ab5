// Convolution (groups 1, NCHW) as implicit GEMM on gemm.cu's tile core: the
// loaders below gather the im2col matrix on the fly, so no column buffer is
// ever written. With P = N·OH·OW output pixels and CRS = C·R·S:
//
//   forward        y[K, P]      = w[K, CRS] · col[CRS, P]         (M=K, N=P, K=CRS)
//   backward data  dx[C, N·H·W] = Σ_{k,r,s} w[k,c,r,s] · dy[k, pixel that tap (r,s) of
//                                  the input pixel reads]          (M=C, N=N·H·W, K=K·R·S)
//   backward filter dw[K, CRS]  = dy[K, P] · colᵀ[P, CRS]          (M=K, N=CRS, K=P)
//
// Backward data walks input pixels and gathers the output pixels that read
// them, so each dx element is written once (no atomics); with stride > 1 the
// taps that land between output pixels contribute zeros. Backward filter
// reduces over P with deterministic split-K (blockIdx.z slices, summed in
// order by the launcher).

struct ConvGeom {
    int N, C, H, W, K, R, S, OH, OW, sh, sw, ph, pw, dh, dw;
};

#define CONV_GEOM_PARAMS i64 N, i64 C, i64 H, i64 W, i64 K, i64 R, i64 S, i64 OH, i64 OW, \
                         i64 sh, i64 sw, i64 ph, i64 pw, i64 dh, i64 dw
#define CONV_GEOM {(int)N, (int)C, (int)H, (int)W, (int)K, (int)R, (int)S, (int)OH, (int)OW, \
                   (int)sh, (int)sw, (int)ph, (int)pw, (int)dh, (int)dw}

// Forward B slab: col[crs, p] = x[n, c, oh*sh-ph+r*dh, ow*sw-pw+s*dw] (0 in
// the padding). Thread t owns pixel column t%128 and rows (t/128)*4..+3, so a
// warp reads 32 neighbouring output pixels: consecutive input columns. T is
// x's storage: float, or bf16_t (BF16 activations, kernels/bf16.cuh).
template <class T>
struct ConvFwdColLoader {
    const T* x;
    int ih0, iw0;
    bool valid;
    float r[4];

    __device__ __forceinline__ ConvFwdColLoader(const T* x_, const ConvGeom& g, i64 p0) {
        i64 p = p0 + (threadIdx.x & 127);
        i64 P = (i64)g.N * g.OH * g.OW;
        valid = p < P;
        int ohw_n = g.OH * g.OW;
        int n = valid ? (int)(p / ohw_n) : 0;
        int ohw = (int)(p - (i64)n * ohw_n);
        int oh = ohw / g.OW, ow = ohw - oh * g.OW;
        ih0 = oh * g.sh - g.ph;
        iw0 = ow * g.sw - g.pw;
        x = x_ + (i64)n * g.C * g.H * g.W;
    }
    __device__ __forceinline__ void load(int k0, const ConvGeom& g) {
        int crs = k0 + (threadIdx.x >> 7) * 4;
        int RS = g.R * g.S;
        int c = crs / RS, rs = crs - c * RS;
        int rr = rs / g.S, ss = rs - rr * g.S;
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            int ih = ih0 + rr * g.dh, iw = iw0 + ss * g.dw;
            bool in = valid && c < g.C && ih >= 0 && ih < g.H && iw >= 0 && iw < g.W;
            r[i] = in ? fsod_ld(x + ((i64)c * g.H + ih) * g.W + iw) : 0.f;
            if (++ss == g.S) {  // step to the next (c, r, s) without dividing
                ss = 0;
                if (++rr == g.R) { rr = 0; ++c; }
            }
        }
    }
    __device__ __forceinline__ void store(GemmSmem& s) const {
        int col = threadIdx.x & 127, kq = (threadIdx.x >> 7) * 4;
#pragma unroll
        for (int i = 0; i < 4; ++i) s[kq + i][col] = r[i];
    }
};

// Binds a geometry to a loader so gemm_tile can call load(k0); forwards the
// loader's tensor-core A staging and its fetch/finish where it has them.
template <class L>
struct WithGeom {
    typedef typename MmaAStageOf<L>::type MmaAStage;
    L& l;
    const ConvGeom& g;
    __device__ __forceinline__ void load(int k0) { l.load(k0, g); }
    template <class S>
    __device__ __forceinline__ void store(S& s) const { l.store(s); }
    template <class S, class LL = L>  // LL: so that a loader without them is a substitution failure
    __device__ __forceinline__ auto fetch(int k0, S& s) -> decltype(static_cast<LL&>(l).fetch(k0, g, s)) { l.fetch(k0, g, s); }
    template <class S, class LL = L>
    __device__ __forceinline__ auto finish(S& s) -> decltype(static_cast<LL&>(l).finish(s)) { l.finish(s); }
};

// y [N,K,OH,OW] = conv(x [N,C,H,W], w [K,C,R,S]) + bias [K] (bias may be
// null). Grid (ceil(P/128), ceil(K/128)), 256 threads.
template <class Core, class T>
__device__ __forceinline__ void conv_forward_body(float* y, const T* x, const float* w, const float* bias, const ConvGeom& g) {
    typedef typename Core::Layout L;
    i64 m0 = (i64)blockIdx.y * GEMM_BM, p0 = (i64)blockIdx.x * GEMM_BN;
    int CRS = g.C * g.R * g.S;
    RowMajorKLoader la(w, CRS, g.K, CRS, m0);
    ConvFwdColLoader<T> cb(x, g, p0);
    WithGeom<ConvFwdColLoader<T> > lb{cb, g};
    Core core;
    gemm_tile(la, lb, 0, CRS, core);

    int ohw_n = g.OH * g.OW;
    i64 P = (i64)g.N * ohw_n;
#pragma unroll
    for (int j = 0; j < 8; ++j) {
        i64 p = p0 + L::col(j);
        if (p >= P) continue;
        int n = (int)(p / ohw_n), hw = (int)(p - (i64)n * ohw_n);
        float* yp = y + (i64)n * g.K * ohw_n + hw;
#pragma unroll
        for (int i = 0; i < 8; ++i) {
            i64 k = m0 + L::row(i);
            if (k < g.K) yp[k * ohw_n] = core.acc[i][j] + (bias ? __ldg(bias + k) : 0.f);
        }
    }
}

extern "C" __global__ void __launch_bounds__(GEMM_THREADS, 1)
conv2d_forward_kernel(float* y, const float* x, const float* w, const float* bias, CONV_GEOM_PARAMS) {
    conv_forward_body<FfmaCore>(y, x, w, bias, CONV_GEOM);
}

extern "C" __global__ void __launch_bounds__(GEMM_THREADS, 1)
conv2d_forward_tf32_kernel(float* y, const float* x, const float* w, const float* bias, CONV_GEOM_PARAMS) {
    conv_forward_body<Tf32Core>(y, x, w, bias, CONV_GEOM);
}

extern "C" __global__ void __launch_bounds__(GEMM_THREADS, 1)
conv2d_forward_bf16_kernel(float* y, const float* x, const float* w, const float* bias, CONV_GEOM_PARAMS) {
    conv_forward_body<Bf16Core>(y, x, w, bias, CONV_GEOM);
}

// x in BF16 storage (the RoI features under precision bf16): the same
// products as conv2d_forward_bf16_kernel on the widened x, bit for bit, since
// Bf16Core rounds its operands to BF16 and a BF16 value rounds to itself.
extern "C" __global__ void __launch_bounds__(GEMM_THREADS, 1)
conv2d_forward_xbf16_bf16_kernel(float* y, const bf16_t* x, const float* w, const float* bias, CONV_GEOM_PARAMS) {
    conv_forward_body<Bf16Core>(y, x, w, bias, CONV_GEOM);
}

// Backward-data A slab: A[c, krs] = w[k, c, r, s] with krs = k*RS + rs.
// Thread t owns row krs = k0 + t/32 and channels (t%32)*4..+3.
// For 1×1 filters (RS = 1) and C a multiple of 4 a thread's four channels are
// one 16-byte chunk, which the tensor-core tile copies by cp.async.
struct ConvWtLoader {
    const float* w;
    int c0;
    bool async;
    float r[4];

    __device__ __forceinline__ ConvWtLoader(const float* w_, i64 cbase) : w(w_), async(false) {
        c0 = (int)cbase + (threadIdx.x & 31) * 4;
    }
    __device__ __forceinline__ void load(int k0, const ConvGeom& g) {
        int krs = k0 + (threadIdx.x >> 5);
        int RS = g.R * g.S;
        int k = krs / RS, rs = krs - k * RS;
        bool in = k < g.K;
        const float* q = w + ((i64)k * g.C + c0) * RS + rs;
#pragma unroll
        for (int j = 0; j < 4; ++j) r[j] = (in && c0 + j < g.C) ? __ldg(q + j * RS) : 0.f;
    }
    __device__ __forceinline__ void store(GemmSmem& s) const {
        *reinterpret_cast<float4*>(&s[threadIdx.x >> 5][(threadIdx.x & 31) * 4]) = make_float4(r[0], r[1], r[2], r[3]);
    }
    __device__ __forceinline__ void fetch(int k0, const ConvGeom& g, GemmSmem& s) {
        int k = k0 + (threadIdx.x >> 5);  // krs, and k itself when RS = 1
        bool valid = k < g.K && c0 < g.C;
        async = g.R * g.S == 1 && (g.C & 3) == 0 && aligned16(w);
        if (async)
            fsod_cp_async16(&s[threadIdx.x >> 5][(threadIdx.x & 31) * 4], valid ? w + (i64)k * g.C + c0 : w, valid);
        else
            load(k0, g);
    }
    __device__ __forceinline__ void finish(GemmSmem& s) const {
        if (!async) store(s);
    }
};

// Backward-data B slab: B[krs, q] for input pixel q = (n, ih, iw) is
// dy[n, k, oh, ow] where oh*sh = ih + ph - r*dh (0 when that is not an output
// pixel). Thread t owns input pixel t%128 and rows (t/128)*4..+3.
struct ConvDyLoader {
    const float* dy;
    int th0, tw0;  // ih + ph, iw + pw
    bool valid;
    float r[4];

    __device__ __forceinline__ ConvDyLoader(const float* dy_, const ConvGeom& g, i64 q0) {
        i64 q = q0 + (threadIdx.x & 127);
        int hw_n = g.H * g.W;
        valid = q < (i64)g.N * hw_n;
        int n = valid ? (int)(q / hw_n) : 0;
        int hw = (int)(q - (i64)n * hw_n);
        int ih = hw / g.W, iw = hw - ih * g.W;
        th0 = ih + g.ph;
        tw0 = iw + g.pw;
        dy = dy_ + (i64)n * g.K * g.OH * g.OW;
    }
    __device__ __forceinline__ void load(int k0, const ConvGeom& g) {
        int krs = k0 + (threadIdx.x >> 7) * 4;
        int RS = g.R * g.S;
        int k = krs / RS, rs = krs - k * RS;
        int rr = rs / g.S, ss = rs - rr * g.S;
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            int th = th0 - rr * g.dh, tw = tw0 - ss * g.dw;
            bool in = valid && k < g.K && th >= 0 && tw >= 0;
            int oh = th, ow = tw;
            if (g.sh > 1) { in = in && th % g.sh == 0; oh = th / g.sh; }
            if (g.sw > 1) { in = in && tw % g.sw == 0; ow = tw / g.sw; }
            in = in && oh < g.OH && ow < g.OW;
            r[i] = in ? __ldg(dy + ((i64)k * g.OH + oh) * g.OW + ow) : 0.f;
            if (++ss == g.S) {
                ss = 0;
                if (++rr == g.R) { rr = 0; ++k; }
            }
        }
    }
    __device__ __forceinline__ void store(GemmSmem& s) const {
        int col = threadIdx.x & 127, kq = (threadIdx.x >> 7) * 4;
#pragma unroll
        for (int i = 0; i < 4; ++i) s[kq + i][col] = r[i];
    }
};

// dx [N,C,H,W] from dy [N,K,OH,OW] and w [K,C,R,S].
// Grid (ceil(N*H*W/128), ceil(C/128)), 256 threads.
template <class Core>
__device__ __forceinline__ void conv_data_backward_body(float* dx, const float* dy, const float* w, const ConvGeom& g) {
    typedef typename Core::Layout L;
    i64 c0 = (i64)blockIdx.y * GEMM_BM, q0 = (i64)blockIdx.x * GEMM_BN;
    ConvWtLoader aw(w, c0);
    WithGeom<ConvWtLoader> la{aw, g};
    ConvDyLoader bd(dy, g, q0);
    WithGeom<ConvDyLoader> lb{bd, g};
    Core core;
    gemm_tile(la, lb, 0, g.K * g.R * g.S, core);

    int hw_n = g.H * g.W;
    i64 Q = (i64)g.N * hw_n;
#pragma unroll
    for (int j = 0; j < 8; ++j) {
        i64 q = q0 + L::col(j);
        if (q >= Q) continue;
        int n = (int)(q / hw_n), hw = (int)(q - (i64)n * hw_n);
        float* xp = dx + (i64)n * g.C * hw_n + hw;
#pragma unroll
        for (int i = 0; i < 8; ++i) {
            i64 c = c0 + L::row(i);
            if (c < g.C) xp[c * hw_n] = core.acc[i][j];
        }
    }
}

extern "C" __global__ void __launch_bounds__(GEMM_THREADS, 1)
conv2d_data_backward_kernel(float* dx, const float* dy, const float* w, CONV_GEOM_PARAMS) {
    conv_data_backward_body<FfmaCore>(dx, dy, w, CONV_GEOM);
}

extern "C" __global__ void __launch_bounds__(GEMM_THREADS, 1)
conv2d_data_backward_tf32_kernel(float* dx, const float* dy, const float* w, CONV_GEOM_PARAMS) {
    conv_data_backward_body<Tf32Core>(dx, dy, w, CONV_GEOM);
}

extern "C" __global__ void __launch_bounds__(GEMM_THREADS, 1)
conv2d_data_backward_bf16_kernel(float* dx, const float* dy, const float* w, CONV_GEOM_PARAMS) {
    conv_data_backward_body<Bf16Core>(dx, dy, w, CONV_GEOM);
}

// Backward-filter A slab: A[k, p] = dy[n, k, ohw] for output pixel p.
// Thread t owns filter row t/2 and pixels (t%2)*4..+3 of the step. For the
// tensor-core tile it stages m-major; when OH·OW is a multiple of 4 the four
// pixels are one 16-byte chunk of dy (one image), copied by cp.async.
struct ConvDyRowLoader {
    typedef GemmSmemM MmaAStage;
    const float* dy;
    int k;
    bool in_rows, async;
    float r[4];

    __device__ __forceinline__ ConvDyRowLoader(const float* dy_, const ConvGeom& g, i64 kbase) : dy(dy_), async(false) {
        k = (int)kbase + (threadIdx.x >> 1);
        in_rows = k < g.K;
    }
    __device__ __forceinline__ void load(int k0, const ConvGeom& g) {
        int ohw_n = g.OH * g.OW;
        int p = k0 + (threadIdx.x & 1) * 4;
        int n = p / ohw_n, ohw = p - n * ohw_n;
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            r[i] = (in_rows && n < g.N) ? __ldg(dy + ((i64)n * g.K + k) * ohw_n + ohw) : 0.f;
            if (++ohw == ohw_n) { ohw = 0; ++n; }
        }
    }
    __device__ __forceinline__ void store(GemmSmem& s) const {
        int row = threadIdx.x >> 1, kq = (threadIdx.x & 1) * 4;
#pragma unroll
        for (int i = 0; i < 4; ++i) s[kq + i][row] = r[i];
    }
    __device__ __forceinline__ void fetch(int k0, const ConvGeom& g, GemmSmemM& s) {
        int ohw_n = g.OH * g.OW;
        int p = k0 + (threadIdx.x & 1) * 4;
        int n = p / ohw_n, ohw = p - n * ohw_n;
        bool valid = in_rows && n < g.N;
        async = (ohw_n & 3) == 0 && (p & 3) == 0 && aligned16(dy);
        if (async)
            fsod_cp_async16(&s[threadIdx.x >> 1][(threadIdx.x & 1) * 4], valid ? dy + ((i64)n * g.K + k) * ohw_n + ohw : dy, valid);
        else
            load(k0, g);
    }
    __device__ __forceinline__ void finish(GemmSmemM& s) const {
        if (!async) *reinterpret_cast<float4*>(&s[threadIdx.x >> 1][(threadIdx.x & 1) * 4]) = make_float4(r[0], r[1], r[2], r[3]);
    }
};

// Backward-filter B slab: B[p, crs] = x[n, c, oh*sh-ph+r*dh, ow*sw-pw+s*dw].
// Thread t owns pixel row t%8 of the step and columns t/8 + 32j (j < 4), so
// a warp reads 8 consecutive pixels of 4 columns and its shared-memory stores
// hit 32 distinct banks. A column's (c, r, s) never changes, so its offsets
// are computed once. T is x's storage, as for ConvFwdColLoader.
template <class T>
struct ConvColRowLoader {
    const T* x;
    int coff[4], roff[4], soff[4];  // c*H*W, r*dh, s*dw; roff = -inf-ish when crs >= CRS
    float r[4];

    __device__ __forceinline__ ConvColRowLoader(const T* x_, const ConvGeom& g, i64 crs0) : x(x_) {
        int RS = g.R * g.S, CRS = g.C * RS;
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            int crs = (int)crs0 + (threadIdx.x >> 3) + 32 * j;
            int c = crs / RS, rs = crs - c * RS, rr = rs / g.S, ss = rs - rr * g.S;
            coff[j] = c * g.H * g.W;
            roff[j] = crs < CRS ? rr * g.dh : -(1 << 30);
            soff[j] = ss * g.dw;
        }
    }
    __device__ __forceinline__ void load(int k0, const ConvGeom& g) {
        int ohw_n = g.OH * g.OW;
        int p = k0 + (threadIdx.x & 7);
        int n = p / ohw_n, ohw = p - n * ohw_n;
        int oh = ohw / g.OW, ow = ohw - oh * g.OW;
        int ih0 = oh * g.sh - g.ph, iw0 = ow * g.sw - g.pw;
        bool pin = n < g.N;
        const T* xn = x + (i64)n * g.C * g.H * g.W;
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            int ih = ih0 + roff[j], iw = iw0 + soff[j];
            bool in = pin && ih >= 0 && ih < g.H && iw >= 0 && iw < g.W;
            r[j] = in ? fsod_ld(xn + coff[j] + ih * g.W + iw) : 0.f;
        }
    }
    __device__ __forceinline__ void store(GemmSmem& s) const {
        int kk = threadIdx.x & 7, col = threadIdx.x >> 3;
#pragma unroll
        for (int j = 0; j < 4; ++j) s[kk][col + 32 * j] = r[j];
    }
};

// dw partials [S, K, CRS]: slice z sums output pixels [z*p_chunk, (z+1)*p_chunk).
// Grid (ceil(CRS/128), ceil(K/128), S), 256 threads.
template <class Core, class T>
__device__ __forceinline__ void conv_filter_backward_body(float* dw_part, const T* x, const float* dy, const ConvGeom& g,
                                                          i64 p_chunk) {
    i64 k0 = (i64)blockIdx.y * GEMM_BM, crs0 = (i64)blockIdx.x * GEMM_BN;
    int CRS = g.C * g.R * g.S;
    int P = g.N * g.OH * g.OW;
    int pbeg = (int)(blockIdx.z * p_chunk), pend = (int)min((i64)P, pbeg + p_chunk);
    ConvDyRowLoader ad(dy, g, k0);
    WithGeom<ConvDyRowLoader> la{ad, g};
    ConvColRowLoader<T> bx(x, g, crs0);
    WithGeom<ConvColRowLoader<T> > lb{bx, g};
    Core core;
    gemm_tile(la, lb, pbeg, pend, core);
    gemm_store<typename Core::Layout>(dw_part + (i64)blockIdx.z * g.K * CRS, g.K, CRS, k0, crs0, core.acc);
}

extern "C" __global__ void __launch_bounds__(GEMM_THREADS, 1)
conv2d_filter_backward_kernel(float* dw_part, const float* x, const float* dy, CONV_GEOM_PARAMS, i64 p_chunk) {
    conv_filter_backward_body<FfmaCore>(dw_part, x, dy, CONV_GEOM, p_chunk);
}

extern "C" __global__ void __launch_bounds__(GEMM_THREADS, 1)
conv2d_filter_backward_tf32_kernel(float* dw_part, const float* x, const float* dy, CONV_GEOM_PARAMS, i64 p_chunk) {
    conv_filter_backward_body<Tf32Core>(dw_part, x, dy, CONV_GEOM, p_chunk);
}

extern "C" __global__ void __launch_bounds__(GEMM_THREADS, 1)
conv2d_filter_backward_bf16_kernel(float* dw_part, const float* x, const float* dy, CONV_GEOM_PARAMS, i64 p_chunk) {
    conv_filter_backward_body<Bf16Core>(dw_part, x, dy, CONV_GEOM, p_chunk);
}

// x in BF16 storage; bit for bit conv2d_filter_backward_bf16_kernel on the
// widened x (see conv2d_forward_xbf16_bf16_kernel).
extern "C" __global__ void __launch_bounds__(GEMM_THREADS, 1)
conv2d_filter_backward_xbf16_bf16_kernel(float* dw_part, const bf16_t* x, const float* dy, CONV_GEOM_PARAMS, i64 p_chunk) {
    conv_filter_backward_body<Bf16Core>(dw_part, x, dy, CONV_GEOM, p_chunk);
}
