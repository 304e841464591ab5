// Batched NMS entirely on the GPU, and the bitonic sort it shares with TopK.
//
// Semantics (engine/cpu/nms.go, torchvision.ops.batched_nms): boxes of
// different classes never suppress each other; within a class, boxes are
// ranked by decreasing score, ties by lower index, NaN first; a box is
// dropped when its IoU with a kept box of higher rank is > iou (areas without
// +1; an intersection of 0 never suppresses for a threshold ≥ 0). The keep
// list comes out in rank order across all classes.
//
// Pipeline (cuda/ops_detect.go drives it):
//  1. nms_keys_kernel: key (class, desc(score), index) per box, padded to a
//     power of two; sort_* kernels sort ascending. Boxes of one class form one
//     contiguous segment in rank order, so no coordinate-offset trick is
//     needed and IoU is computed on the boxes as given (bit-identical to the
//     CPU backend's IoU).
//  2. nms_segments_kernel (one block): segment starts, and per segment its
//     offset into the bit mask and into the list of 64×64 tiles.
//  3. nms_mask_kernel: one block of 64 threads per upper-triangular tile of a
//     segment (torchvision's layout: row i of a segment of n boxes holds
//     ceil(n/64) 64-bit words; bit j of word cb says box i suppresses box
//     64·cb+j). Every segment's tiles go in one launch.
//  4. nms_walk_kernel: one block per segment walks its mask 64 rows at a
//     time. The "removed" words live in shared memory; one thread resolves
//     the 64 boxes of the current block against each other with the diagonal
//     words, then all threads OR the kept rows into the later words.
//  5. With more than one class, the kept boxes are sorted once more by
//     (desc(score), index) to interleave the classes in rank order.
// The launcher reads back two small results (segment totals to size the mask,
// then the keep count to shape the output); there is no host loop over boxes.

#define SORT_BLOCK 2048

// Descending order key of a score: larger scores give smaller keys, NaN the
// smallest; −0 and +0 are equal.
__device__ __forceinline__ unsigned nms_desc_key(float s) {
    unsigned u = __float_as_uint(s), asc;
    if (s != s) {
        asc = 0xFFFFFFFFu;
    } else {
        if (u == 0x80000000u) u = 0;
        asc = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
    }
    return ~asc;
}

__device__ __forceinline__ bool sort_greater(unsigned long long ha, unsigned long long la, unsigned long long hb,
                                             unsigned long long lb) {
    return ha > hb || (ha == hb && la > lb);
}

// Sorts each chunk of min(p, SORT_BLOCK) elements in shared memory, each
// chunk in the direction the global bitonic network wants. (hi, lo) pairs
// sort ascending; hi may be null (all zero).
extern "C" __global__ void sort_block_kernel(unsigned long long* hi, unsigned long long* lo, i64 p) {
    __shared__ unsigned long long sh[SORT_BLOCK], sl[SORT_BLOCK];
    const i64 chunk = min((i64)SORT_BLOCK, p), base = (i64)blockIdx.x * chunk;
    for (i64 i = threadIdx.x; i < chunk; i += blockDim.x) {
        sh[i] = hi ? hi[base + i] : 0ULL;
        sl[i] = lo[base + i];
    }
    __syncthreads();
    for (i64 k = 2; k <= chunk; k <<= 1) {
        for (i64 j = k >> 1; j > 0; j >>= 1) {
            for (i64 t = threadIdx.x; t < chunk / 2; t += blockDim.x) {
                const i64 i = 2 * t - (t & (j - 1)), q = i + j;
                const bool asc = ((base + i) & k) == 0;
                if (sort_greater(sh[i], sl[i], sh[q], sl[q]) == asc) {
                    unsigned long long a = sh[i], b = sl[i];
                    sh[i] = sh[q], sl[i] = sl[q], sh[q] = a, sl[q] = b;
                }
            }
            __syncthreads();
        }
    }
    for (i64 i = threadIdx.x; i < chunk; i += blockDim.x) {
        if (hi) hi[base + i] = sh[i];
        lo[base + i] = sl[i];
    }
}

// One compare-exchange step of stage k at distance j ≥ SORT_BLOCK.
extern "C" __global__ void sort_merge_global_kernel(unsigned long long* hi, unsigned long long* lo, i64 p, i64 k,
                                                    i64 j) {
    GRID_LOOP(t, p / 2) {
        const i64 i = 2 * t - (t & (j - 1)), q = i + j;
        const bool asc = (i & k) == 0;
        unsigned long long hi_i = hi ? hi[i] : 0ULL, hi_q = hi ? hi[q] : 0ULL, li = lo[i], lq = lo[q];
        if (sort_greater(hi_i, li, hi_q, lq) == asc) {
            if (hi) hi[i] = hi_q, hi[q] = hi_i;
            lo[i] = lq, lo[q] = li;
        }
    }
}

// The steps j = SORT_BLOCK/2 … 1 of stage k, in shared memory per chunk.
extern "C" __global__ void sort_merge_block_kernel(unsigned long long* hi, unsigned long long* lo, i64 p, i64 k) {
    __shared__ unsigned long long sh[SORT_BLOCK], sl[SORT_BLOCK];
    const i64 base = (i64)blockIdx.x * SORT_BLOCK;
    for (i64 i = threadIdx.x; i < SORT_BLOCK; i += blockDim.x) {
        sh[i] = hi ? hi[base + i] : 0ULL;
        sl[i] = lo[base + i];
    }
    __syncthreads();
    for (i64 j = SORT_BLOCK / 2; j > 0; j >>= 1) {
        for (i64 t = threadIdx.x; t < SORT_BLOCK / 2; t += blockDim.x) {
            const i64 i = 2 * t - (t & (j - 1)), q = i + j;
            const bool asc = ((base + i) & k) == 0;
            if (sort_greater(sh[i], sl[i], sh[q], sl[q]) == asc) {
                unsigned long long a = sh[i], b = sl[i];
                sh[i] = sh[q], sl[i] = sl[q], sh[q] = a, sl[q] = b;
            }
        }
        __syncthreads();
    }
    for (i64 i = threadIdx.x; i < SORT_BLOCK; i += blockDim.x) {
        if (hi) hi[base + i] = sh[i];
        lo[base + i] = sl[i];
    }
}

// TopK keys: lo = desc(x[i]) << 32 | i, padded with ~0 to p.
extern "C" __global__ void topk_keys_kernel(unsigned long long* lo, const float* __restrict__ x, i64 n, i64 p) {
    GRID_LOOP(i, p) {
        lo[i] = i < n ? ((unsigned long long)nms_desc_key(x[i]) << 32) | (unsigned long long)i : ~0ULL;
    }
}

// values [k], indices [k] from the first k sorted keys.
extern "C" __global__ void topk_gather_kernel(float* values, i64* indices, const unsigned long long* __restrict__ lo,
                                              const float* __restrict__ x, i64 k) {
    GRID_LOOP(i, k) {
        const i64 idx = (i64)(lo[i] & 0xFFFFFFFFULL);
        values[i] = x[idx];
        indices[i] = idx;
    }
}

// NMS keys: hi = class with the sign bit flipped (signed order as unsigned),
// lo = desc(score) << 32 | index; pads sort last.
extern "C" __global__ void nms_keys_kernel(unsigned long long* hi, unsigned long long* lo,
                                           const float* __restrict__ scores, const i64* __restrict__ classes, i64 m,
                                           i64 p) {
    GRID_LOOP(i, p) {
        if (i < m) {
            hi[i] = (unsigned long long)classes[i] ^ 0x8000000000000000ULL;
            lo[i] = ((unsigned long long)nms_desc_key(scores[i]) << 32) | (unsigned long long)i;
        } else {
            hi[i] = ~0ULL;
            lo[i] = ~0ULL;
        }
    }
}

// Exclusive block scan of one value per thread (blockDim.x a multiple of
// 32); *total gets the block's sum. Every thread must call it.
__device__ __forceinline__ long long nms_block_scan(long long v, long long* total) {
    __shared__ long long warpTot[32];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    long long x = v;
#pragma unroll
    for (int o = 1; o < 32; o <<= 1) {
        long long y = __shfl_up_sync(FULL_MASK, x, o);
        if (lane >= o) x += y;
    }
    if (lane == 31) warpTot[warp] = x;
    __syncthreads();
    if (warp == 0) {
        long long t = lane < nw ? warpTot[lane] : 0;
#pragma unroll
        for (int o = 1; o < 32; o <<= 1) {
            long long y = __shfl_up_sync(FULL_MASK, t, o);
            if (lane >= o) t += y;
        }
        warpTot[lane] = t;
    }
    __syncthreads();
    const long long before = warp > 0 ? warpTot[warp - 1] : 0;
    *total = warpTot[nw - 1];
    __syncthreads();
    return before + x - v;
}

#define NMS_SEG_ITEMS 4

// One block. From the sorted class keys hi [m]: segStart [S], segMaskOff [S]
// (first mask word of the segment), segTileOff [S+1] (first tile), and
// totals = {S, tiles, mask words, max words per row}.
extern "C" __global__ void nms_segments_kernel(i64* segStart, i64* segMaskOff, i64* segTileOff, i64* totals,
                                               const unsigned long long* __restrict__ hi, i64 m) {
    long long carry = 0;
    for (i64 base = 0; base < m; base += (i64)blockDim.x * NMS_SEG_ITEMS) {
        const i64 first = base + (i64)threadIdx.x * NMS_SEG_ITEMS;
        long long cnt = 0;
#pragma unroll
        for (int q = 0; q < NMS_SEG_ITEMS; ++q) {
            const i64 i = first + q;
            if (i < m && (i == 0 || hi[i] != hi[i - 1])) ++cnt;
        }
        long long tot, pos = carry + nms_block_scan(cnt, &tot);
#pragma unroll
        for (int q = 0; q < NMS_SEG_ITEMS; ++q) {
            const i64 i = first + q;
            if (i < m && (i == 0 || hi[i] != hi[i - 1])) segStart[pos++] = i;
        }
        carry += tot;
    }
    const long long nseg = carry;
    __syncthreads();
    long long mcarry = 0, tcarry = 0, maxnb = 0;
    for (i64 base = 0; base < nseg; base += blockDim.x) {
        const i64 s = base + threadIdx.x;
        long long words = 0, tiles = 0;
        if (s < nseg) {
            const long long n = (s + 1 < nseg ? segStart[s + 1] : m) - segStart[s], nb = (n + 63) / 64;
            words = n * nb;
            tiles = nb * (nb + 1) / 2;
            maxnb = max(maxnb, nb);
        }
        long long tw, tt;
        const long long ew = nms_block_scan(words, &tw), et = nms_block_scan(tiles, &tt);
        if (s < nseg) segMaskOff[s] = mcarry + ew, segTileOff[s] = tcarry + et;
        mcarry += tw;
        tcarry += tt;
    }
    __shared__ long long redMax[32];
    for (int o = 16; o > 0; o >>= 1) maxnb = max(maxnb, __shfl_xor_sync(FULL_MASK, maxnb, o));
    if ((threadIdx.x & 31) == 0) redMax[threadIdx.x >> 5] = maxnb;
    __syncthreads();
    if (threadIdx.x == 0) {
        for (int w = 1; w < (int)(blockDim.x >> 5); ++w) maxnb = max(maxnb, redMax[w]);
        segTileOff[nseg] = tcarry;
        totals[0] = nseg;
        totals[1] = tcarry;
        totals[2] = mcarry;
        totals[3] = maxnb;
    }
}

// sboxes [m] = boxes in sorted order.
extern "C" __global__ void nms_gather_boxes_kernel(float4* sboxes, const float4* __restrict__ boxes,
                                                   const unsigned long long* __restrict__ lo, i64 m) {
    GRID_LOOP(i, m) { sboxes[i] = boxes[lo[i] & 0xFFFFFFFFULL]; }
}

__device__ __forceinline__ float nms_go_min(float a, float b) {
    if (a != a || b != b) return a != a ? a : b;
    return a < b ? a : b;
}
__device__ __forceinline__ float nms_go_max(float a, float b) {
    if (a != a || b != b) return a != a ? a : b;
    return a > b ? a : b;
}

// Whether kept box a (area areaA) suppresses candidate b, exactly as the CPU
// backend evaluates it.
__device__ __forceinline__ bool nms_suppresses(float4 a, float areaA, float4 b, float thr) {
    const float w = nms_go_max(0.f, nms_go_min(a.z, b.z) - nms_go_max(a.x, b.x));
    const float h = nms_go_max(0.f, nms_go_min(a.w, b.w) - nms_go_max(a.y, b.y));
    const float inter = __fmul_rn(w, h);
    if (inter == 0.f && thr >= 0.f) return false;
    const float areaB = __fmul_rn(b.z - b.x, b.w - b.y);
    return __fdiv_rn(inter, __fsub_rn(__fadd_rn(areaB, areaA), inter)) > thr;
}

// One block of 64 threads per upper-triangular tile of every segment.
extern "C" __global__ void nms_mask_kernel(unsigned long long* mask, const float4* __restrict__ sboxes,
                                           const i64* __restrict__ segStart, const i64* __restrict__ segMaskOff,
                                           const i64* __restrict__ segTileOff, i64 nseg, i64 m, double thr) {
    __shared__ float4 cols[64];
    const i64 t = blockIdx.x;
    i64 lo = 0, hi = nseg - 1;
    while (lo < hi) {  // last segment whose first tile is ≤ t
        const i64 mid = (lo + hi + 1) >> 1;
        if (segTileOff[mid] <= t) lo = mid; else hi = mid - 1;
    }
    const i64 s = lo, start = segStart[s];
    const i64 n = (s + 1 < nseg ? segStart[s + 1] : m) - start, nb = (n + 63) / 64, u = t - segTileOff[s];
    i64 a = 0, z = nb - 1;
    while (a < z) {  // last row block whose first tile is ≤ u; row r starts at r·nb − r(r−1)/2
        const i64 mid = (a + z + 1) >> 1;
        if (mid * nb - mid * (mid - 1) / 2 <= u) a = mid; else z = mid - 1;
    }
    const i64 rb = a, cb = rb + (u - (rb * nb - rb * (rb - 1) / 2));
    const i64 ncols = min((i64)64, n - cb * 64);
    if ((i64)threadIdx.x < ncols) cols[threadIdx.x] = sboxes[start + cb * 64 + threadIdx.x];
    __syncthreads();
    const i64 row = rb * 64 + threadIdx.x;
    if (row >= n) return;
    const float4 box = sboxes[start + row];
    const float area = __fmul_rn(box.z - box.x, box.w - box.y);
    const float th = (float)thr;
    unsigned long long bits = 0;
    for (i64 j = rb == cb ? threadIdx.x + 1 : 0; j < ncols; ++j)
        if (nms_suppresses(box, area, cols[j], th)) bits |= 1ULL << j;
    mask[segMaskOff[s] + row * nb + cb] = bits;
}

// One block per segment. keepOut[segStart..] gets the segment's kept original
// indices in rank order, keepFlag [m] marks kept sorted positions, and
// *total accumulates the number kept. removed is in dynamic shared memory
// unless removedGlobal is non-null (segments too long for shared memory),
// then removedGlobal + s·stride.
extern "C" __global__ void nms_walk_kernel(i64* keepOut, i64* keepFlag, unsigned long long* total,
                                           unsigned long long* removedGlobal, i64 stride,
                                           const unsigned long long* __restrict__ mask,
                                           const unsigned long long* __restrict__ lo,
                                           const i64* __restrict__ segStart, const i64* __restrict__ segMaskOff,
                                           i64 nseg, i64 m) {
    extern __shared__ unsigned long long nms_removed_shared[];
    __shared__ unsigned long long diag[64];
    __shared__ int keptList[64];
    __shared__ int nkept;
    __shared__ long long count;
    const i64 s = blockIdx.x, start = segStart[s];
    const i64 n = (s + 1 < nseg ? segStart[s + 1] : m) - start, nb = (n + 63) / 64;
    unsigned long long* removed = removedGlobal ? removedGlobal + s * stride : nms_removed_shared;
    const unsigned long long* mk = mask + segMaskOff[s];
    for (i64 i = threadIdx.x; i < nb; i += blockDim.x) removed[i] = 0ULL;
    if (threadIdx.x == 0) count = 0;
    __syncthreads();
    for (i64 rb = 0; rb < nb; ++rb) {
        const i64 rows = min((i64)64, n - rb * 64);
        if ((i64)threadIdx.x < rows) diag[threadIdx.x] = mk[(rb * 64 + threadIdx.x) * nb + rb];
        __syncthreads();
        if (threadIdx.x == 0) {
            unsigned long long rem = removed[rb];
            long long cnt = count;
            int c = 0;
            for (int k = 0; k < rows; ++k) {
                const i64 pos = start + rb * 64 + k;
                if (!((rem >> k) & 1ULL)) {
                    keptList[c++] = k;
                    rem |= diag[k];
                    keepOut[start + cnt++] = (i64)(lo[pos] & 0xFFFFFFFFULL);
                    keepFlag[pos] = 1;
                } else {
                    keepFlag[pos] = 0;
                }
            }
            nkept = c;
            count = cnt;
        }
        __syncthreads();
        // Each thread ORs a strided subset of the kept rows for one later
        // word in a register (independent loads, so they pipeline), then
        // merges it with one shared-memory atomic.
        const i64 ncols = nb - rb - 1, nk = nkept;
        if (ncols > 0 && nk > 0) {
            const i64 groups = max((i64)1, (i64)blockDim.x / ncols);
            for (i64 q = threadIdx.x; q < ncols * groups; q += blockDim.x) {
                const i64 g = q / ncols, cb = rb + 1 + (q - g * ncols);
                unsigned long long acc = 0;
#pragma unroll 4
                for (i64 kk = g; kk < nk; kk += groups) acc |= mk[(rb * 64 + keptList[kk]) * nb + cb];
                if (acc) atomicOr(removed + cb, acc);
            }
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) atomicAdd(total, (unsigned long long)count);
}

// Keys of the kept boxes for the cross-class rank sort: lo as sorted, pads
// (~0) for dropped positions and beyond m.
extern "C" __global__ void nms_final_keys_kernel(unsigned long long* out, const unsigned long long* __restrict__ lo,
                                                 const i64* __restrict__ keepFlag, i64 m, i64 p) {
    GRID_LOOP(i, p) { out[i] = (i < m && keepFlag[i]) ? lo[i] : ~0ULL; }
}

// keep [k] = original indices from the first k sorted keys.
extern "C" __global__ void nms_indices_kernel(i64* keep, const unsigned long long* __restrict__ lo, i64 k) {
    GRID_LOOP(i, k) { keep[i] = (i64)(lo[i] & 0xFFFFFFFFULL); }
}

// keep [k] = src [k] (the single-class fast path).
extern "C" __global__ void nms_copy_kernel(i64* keep, const i64* __restrict__ src, i64 k) {
    GRID_LOOP(i, k) { keep[i] = src[i]; }
}
