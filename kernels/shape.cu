// Shape and indexing kernels: permute, the 2-D strided block copy behind
// Concat/Slice/SliceBackward, row gather and a deterministic scatter-add.
// Copies come in float and int64 flavours (labels and indices are int64).

// out [d0..d7] (the permuted, coalesced shape) from x read through strides
// s (x's strides in out's dimension order).
template <typename T>
__device__ __forceinline__ void permute_body(T* out, const T* x, i64 n, const Dims& sz, const Dims& st) {
    GRID_LOOP(i, n) out[i] = x[strided_offset(i, sz, st)];
}

extern "C" __global__ void permute_forward_kernel(float* out, const float* x, i64 n, DIMS_PARAMS(d), DIMS_PARAMS(s)) {
    permute_body(out, x, n, DIMS(d), DIMS(s));
}

extern "C" __global__ void permute_i64_forward_kernel(i64* out, const i64* x, i64 n, DIMS_PARAMS(d), DIMS_PARAMS(s)) {
    permute_body(out, x, n, DIMS(d), DIMS(s));
}

// dst[r*dst_row + dst_off + c] = src[r*src_row + src_off + c] for r < rows,
// c < width: Concat writes each input into its column band of the output,
// Slice reads a band, SliceBackward writes dy into a band of zeros.
template <typename T>
__device__ __forceinline__ void copy2d_body(T* dst, const T* src, i64 rows, i64 width,
                                            i64 dst_row, i64 dst_off, i64 src_row, i64 src_off) {
    GRID_LOOP(i, rows * width) {
        i64 r = i / width, c = i - r * width;
        dst[r * dst_row + dst_off + c] = src[r * src_row + src_off + c];
    }
}

extern "C" __global__ void copy2d_forward_kernel(float* dst, const float* src, i64 rows, i64 width,
                                                 i64 dst_row, i64 dst_off, i64 src_row, i64 src_off) {
    copy2d_body(dst, src, rows, width, dst_row, dst_off, src_row, src_off);
}

extern "C" __global__ void copy2d_i64_forward_kernel(i64* dst, const i64* src, i64 rows, i64 width,
                                                     i64 dst_row, i64 dst_off, i64 src_row, i64 src_off) {
    copy2d_body(dst, src, rows, width, dst_row, dst_off, src_row, src_off);
}

// out [n_idx, w] = x [rows, w] at rows idx [n_idx]. An index outside [0, rows)
// (a caller bug the CPU backend panics on) yields NaN (float) or -1 (int64)
// rather than an out-of-bounds read.
extern "C" __global__ void gather_forward_kernel(float* out, const float* x, const i64* idx, i64 n_idx, i64 w, i64 rows) {
    GRID_LOOP(i, n_idx * w) {
        i64 k = i / w, c = i - k * w;
        i64 r = idx[k];
        out[i] = (r >= 0 && r < rows) ? x[r * w + c] : CUDART_NAN_F;
    }
}

extern "C" __global__ void gather_i64_forward_kernel(i64* out, const i64* x, const i64* idx, i64 n_idx, i64 w, i64 rows) {
    GRID_LOOP(i, n_idx * w) {
        i64 k = i / w, c = i - k * w;
        i64 r = idx[k];
        out[i] = (r >= 0 && r < rows) ? x[r * w + c] : -1;
    }
}

// ScatterAdd without float atomics, in four launches:
//   1. scatter_count: counts[r] = #{i : idx[i] == r} (integer atomics: exact)
//   2. scan_exclusive: offsets = exclusive prefix sums of counts
//   3. scatter_rank: perm[offsets[idx[i]] + #{j < i : idx[j] == idx[i]}] = i,
//      so each destination's sources are listed in increasing i
//   4. scatter_add: out[r, c] = Σ over r's list of src[i, c], in that order
// The sum order is the CPU backend's (increasing i), so results are bitwise
// deterministic. Step 3 is a stable counting sort in one block (see below):
// O(n·B) comparisons for B = blockDim.x, linear in n however often a row repeats.

// counts [rows] must be zero. Indices outside [0, rows) are dropped.
extern "C" __global__ void scatter_count_forward_kernel(i64* counts, const i64* idx, i64 n, i64 rows) {
    GRID_LOOP(i, n) {
        i64 r = idx[i];
        if (r >= 0 && r < rows) atomicAdd((unsigned long long*)&counts[r], 1ull);
    }
}

// out [n+1] = exclusive prefix sums of in [n] (out[n] = total). One block of
// 1024 threads: each scans a contiguous chunk, chunk totals are scanned in
// shared memory (Hillis-Steele), then each chunk is written.
extern "C" __global__ void scan_exclusive_forward_kernel(i64* out, const i64* in, i64 n) {
    __shared__ i64 sums[1024];
    int t = threadIdx.x;
    i64 chunk = ceil_div(n, blockDim.x);
    i64 lo = min(n, t * chunk), hi = min(n, lo + chunk);
    i64 local = 0;
    for (i64 i = lo; i < hi; ++i) local += in[i];
    sums[t] = local;
    __syncthreads();
    for (int o = 1; o < blockDim.x; o <<= 1) {
        i64 v = t >= o ? sums[t - o] : 0;
        __syncthreads();
        sums[t] += v;
        __syncthreads();
    }
    i64 run = sums[t] - local;  // exclusive prefix of this chunk
    for (i64 i = lo; i < hi; ++i) {
        out[i] = run;
        run += in[i];
    }
    if (t == blockDim.x - 1) out[n] = sums[t];
}

// One block walks idx in chunks of blockDim.x in order. Within a chunk each
// thread ranks its index among the chunk's earlier equal ones (shared
// memory), adds the row's count from earlier chunks (cursor), and the chunk's
// last occurrence of a row advances that row's cursor. Stable and
// deterministic with no float or ordering atomics. cursor [rows] is scratch
// (the kernel zeroes it). Earlier versions counted all earlier equal indices
// per element, O(n²) for one row hit n times (a Gather backward over a
// million repeats ran for minutes).
extern "C" __global__ void scatter_rank_forward_kernel(i64* perm, const i64* idx, i64* cursor, const i64* offsets,
                                                       i64 n, i64 rows) {
    __shared__ i64 chunk_rows[1024];
    int t = threadIdx.x, nt = blockDim.x;
    for (i64 r = t; r < rows; r += nt) cursor[r] = 0;
    __syncthreads();
    for (i64 base = 0; base < n; base += nt) {
        i64 i = base + t;
        i64 r = i < n ? idx[i] : -1;
        bool ok = r >= 0 && r < rows;
        chunk_rows[t] = ok ? r : -1;
        __syncthreads();
        int m = (int)min((i64)nt, n - base);
        i64 local = 0;
        bool last = true;
        // A row hit once (the common case: no duplicates) needs no ranking.
        if (ok && offsets[r + 1] - offsets[r] > 1) {
            for (int j = 0; j < t; ++j) local += chunk_rows[j] == r;
            for (int j = t + 1; j < m && last; ++j) last = chunk_rows[j] != r;
        }
        i64 before = ok ? cursor[r] : 0;
        __syncthreads();  // every read of cursor precedes this chunk's updates
        if (ok) {
            perm[offsets[r] + before + local] = i;
            if (last) cursor[r] = before + local + 1;
        }
        __syncthreads();  // updates visible, chunk_rows free for the next chunk
    }
}

// out [rows, w]; src [n, w]; perm and offsets from the launches above.
extern "C" __global__ void scatter_add_forward_kernel(float* out, const float* src, const i64* perm, const i64* offsets,
                                                      i64 rows, i64 w) {
    GRID_LOOP(o, rows * w) {
        i64 r = o / w, c = o - r * w;
        float acc = 0.f;
        for (i64 k = offsets[r]; k < offsets[r + 1]; ++k) acc += src[perm[k] * w + c];
        out[o] = acc;
    }
}
