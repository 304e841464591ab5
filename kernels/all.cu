// The single translation unit of the kernel library: `make kernels` compiles
// this file into kernels/fsodgpu.fatbin (SASS for sm_70..sm_90 + PTX for the
// newest), which kernels/embed.go embeds into the cuda build of the binary.
// One unit keeps one module, one function table and one ptxas report, and lets
// conv.cu reuse gemm.cu's tile machinery without a separate header.
#include "common.cuh"
#include "bf16.cuh"

// Dense families (this order matters: conv.cu builds on gemm.cu's templates).
#include "elementwise.cu"
#include "bf16.cu"
#include "reduce.cu"
#include "shape.cu"
#include "gemm.cu"
#include "conv.cu"
#include "pool.cu"
#include "resize.cu"
#include "optim.cu"

// Detection families are written in parallel with the dense ones; each is
// compiled in as soon as its file exists, so neither side blocks the other.
#if __has_include("roi_align.cu")
#include "roi_align.cu"
#endif
#if __has_include("channel_attention.cu")
#include "channel_attention.cu"
#endif
#if __has_include("rc_loss.cu")
#include "rc_loss.cu"
#endif
#if __has_include("nms.cu")
#include "nms.cu"
#endif
#if __has_include("losses.cu")
#include "losses.cu"
#endif
#if __has_include("boxes.cu")
#include "boxes.cu"
#endif
#if __has_include("rng.cu")
#include "rng.cu"
#endif

// Activations and pooling of the SPP-family necks, RoI pooling and the
// YOLOv1 loss (issue 10).
#include "activations.cu"
#include "adaptive_pool.cu"
#include "roi_pool.cu"
#include "yolov1_loss.cu"
