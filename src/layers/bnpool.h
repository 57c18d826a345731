/* bnpool.h - the SIMD plane kernels of the fused BatchNorm-[dropout]-maxpool-ReLU forward
 * (bn_pool_x86.c), internal to src/layers. A plane kernel computes what batchnorm.c's C loop
 * computes for one (image, channel) plane, bit for bit. */
#ifndef DANN_BNPOOL_H
#define DANN_BNPOOL_H

#include <stdint.h>
#include "layers/layers.h"

/* y, am, xs: the plane's OH x W/2 outputs, winner indices and winner inputs; x: its 2*OH x W
 * inputs; the value normalised is ((x - mu) * scale + shift) * f. */
typedef void (*bn_plane_fn)(float *y, int32_t *am, float *xs, const float *x, float mu,
                            float scale, float shift, float f, int OH, int W);

/* The plane kernel for kernel set impl (KERNELS_*) and width W, or NULL (use the C loop). */
bn_plane_fn bn_pool_plane_simd(int impl, int W);

#endif
