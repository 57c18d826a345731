/* logsoftmax_nll.c - LogSoftmax over classes and the NLL loss averaged over the batch
 * (torch.nn.LogSoftmax(dim=1) followed by torch.nn.NLLLoss()). The backward of the pair is fused:
 * d/dx [mean_b -logsoftmax(x_b)[y_b]] = (softmax(x_b) - onehot(y_b)) / B.
 * exp and log are detmath.h's, so the losses and gradients are the same bits on every ISA. */
#include "core/detmath.h"
#include "layers/layers.h"

void logsoftmax_forward(float *logp, const float *inp, int B, int C) {
    for (int b = 0; b < B; b++) {
        const float *x = inp + (size_t)b * C;
        float *y = logp + (size_t)b * C;
        float mx = x[0];
        for (int c = 1; c < C; c++) mx = x[c] > mx ? x[c] : mx;
        double sum = 0.0;
        for (int c = 0; c < C; c++) sum += det_exp((double)x[c] - mx);
        const float lse = mx + (float)det_log(sum);
        for (int c = 0; c < C; c++) y[c] = x[c] - lse;
    }
}

float nll_loss(const float *logp, const int32_t *y, int B, int C) {
    double s = 0.0;
    for (int b = 0; b < B; b++) {
        DANN_ASSERT(y[b] >= 0 && y[b] < C);
        s -= logp[(size_t)b * C + y[b]];
    }
    return B ? (float)(s / B) : 0.0f;
}

void logsoftmax_nll_backward(float *dinp, const float *logp, const int32_t *y, int B, int C,
                             float scale) {
    logsoftmax_nll_backward_n(dinp, logp, y, B, C, scale, B);
}

void logsoftmax_nll_backward_n(float *dinp, const float *logp, const int32_t *y, int B, int C,
                               float scale, int n) {
    const float k = scale / (float)n;
    for (int b = 0; b < B; b++) {
        const float *lp = logp + (size_t)b * C;
        float *dx = dinp + (size_t)b * C;
        for (int c = 0; c < C; c++) dx[c] += k * ((float)det_exp(lp[c]) - (c == y[b] ? 1.0f : 0.0f));
    }
}
