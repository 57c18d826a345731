/* grl.c - the gradient reversal layer of DANN. Forward is the identity (callers feed the same
 * features to the domain head, no copy); backward multiplies the incoming gradient by -lambda.
 * It sits between the feature extractor and the domain classifier only, so the domain
 * classifier's own parameters still descend the domain loss while the features ascend it. */
#include "layers/layers.h"

void grl_backward(float *dinp, const float *dout, size_t n, float lambda) {
    for (size_t i = 0; i < n; i++) dinp[i] += -lambda * dout[i];
}
