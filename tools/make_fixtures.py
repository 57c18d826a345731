"""make_fixtures.py - writes the PyTorch reference fixtures the C tests compare against.

Usage: /usr/bin/python3 tools/make_fixtures.py tests/fixtures   (or `make fixtures`)

Writes (float32, torch.manual_seed fixed, one thread, so reruns give the same bytes):
  st_small.safetensors     a tiny file of every dtype, odd offsets and metadata (tests/test_safetensors.c)
  torch_layers.safetensors each layer kernel at small odd shapes: inputs, parameters, outputs, a
                           random upstream gradient and torch autograd's gradients
                           (tests/test_torch_layers.c); tensors are named "<case>.<what>"
  torch_py3.safetensors    three Adam steps of the whole py3 model (tests/test_torch_model.c)

The py3 fixture stores neither the initial weights nor the inputs: both are generated from a
counter-based hash, identically here (u() below) and in C (tests/fixture_gen.c):
  u(seed, i): z = seed*0x9E3779B97F4A7C15 + (i+1)*0xBF58476D1CE4E5B9 (mod 2^64);
              z = (z ^ z>>30) * 0xBF58476D1CE4E5B9; z = (z ^ z>>27) * 0x94D049BB133111EB;
              z ^= z>>31; u = float32(z >> 40) / 2^24
  tensor k of state_dict() (k counts ALL entries, buffers included): conv/linear weight and bias
  w[i] = (2*u(1000+k, i) - 1) * float32(1/sqrt(fan_in)) in float32; BN weight 1, bias 0, running
  mean 0, var 1. Step s = 0, 1, 2: source x (16,1,28,28) = (u(10s+1, i) - 0.1307)/0.3081, target x
  (16,3,28,28) = (u(10s+2, i) - 0.5)/0.5, labels floor(double(u(10s+3, i)) * 10), p = 0.1, 0.5,
  0.9. Eval images after step 3: (8,3,28,28) = (u(100, i) - 0.5)/0.5.
Dropout masks are the ones torch drew (recovered by replaying the generator on an all-ones
tensor and checked against the real output) and are stored as U8 keep flags.
"""
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netdesc  # noqa: E402  (the twin's network builder)
import st  # noqa: E402
from netdesc import ReverseLayerF as GradReverse  # noqa: E402  (the twin's GRL)

M64 = (1 << 64) - 1
SUBSAMPLE = 7  # stride of the subsampled large parameters in torch_py3.safetensors
GRAD_STRIDE = 29  # stride of the stored step-1 gradients of tensors over 1000 elements
BIG = {"feature.f_conv2.weight", "class_classifier.c_fc1.weight", "class_classifier.c_fc2.weight",
       "domain_classifier.d_fc1.weight"}
NOISY = {"feature.f_conv1.bias", "feature.f_conv2.bias", "class_classifier.c_fc1.bias",
         "class_classifier.c_fc2.bias", "domain_classifier.d_fc1.bias"}


def u(seed, n):
    """u(seed, i) for i in [0, n), float32 in [0, 1) (exact: 24-bit integers / 2^24)."""
    i = np.arange(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = np.uint64((seed * 0x9E3779B97F4A7C15) & M64) + (i + np.uint64(1)) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
    return (z >> np.uint64(40)).astype(np.float32) / np.float32(16777216.0)


def u_slow(seed, i):
    z = (seed * 0x9E3779B97F4A7C15 + (i + 1) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    z ^= z >> 31
    return np.float32(z >> 40) / np.float32(16777216.0)


# ---------------------------------------------------------------------------------------------
def make_st_small(path):
    t = {}
    t["bytes3"] = torch.tensor([1, 2, 255], dtype=torch.uint8)  # puts the next tensor off 4-byte alignment
    t["f32"] = torch.arange(6, dtype=torch.float32).reshape(2, 3) * 0.5 - 1.0
    t["i64"] = torch.tensor([-1, 0, 1 << 40], dtype=torch.int64)
    t["i32"] = torch.tensor([[-7], [123456]], dtype=torch.int32)
    t["scalar"] = torch.tensor(3.25, dtype=torch.float32)
    t["empty"] = torch.zeros(0, 4, dtype=torch.float32)
    t["caf\u00e9 \"q\""] = torch.tensor([42], dtype=torch.uint8)
    st.save(t, path, {"format": "pt", "note": "line\nbreak \\ \u00e9 \U0001F600"})


# ---------------------------------------------------------------------------------------------
def grads_of(out, dout, *xs):
    """torch autograd: d(sum(out*dout))/dx for each x."""
    return torch.autograd.grad(out, xs, dout)


def layer_fixtures():
    g = {}

    def put(case, **kw):
        for k, v in kw.items():
            g[f"{case}.{k}"] = v.detach().clone() if torch.is_tensor(v) else v

    def conv(case, B, C, H, W, OC, K):
        x = torch.randn(B, C, H, W, requires_grad=True)
        bound = 1 / math.sqrt(C * K * K)
        w = ((torch.rand(OC, C, K, K) * 2 - 1) * bound).requires_grad_()
        b = ((torch.rand(OC) * 2 - 1) * bound).requires_grad_()
        y = F.conv2d(x, w, b)
        dy = torch.randn_like(y)
        dx, dw, db = grads_of(y, dy, x, w, b)
        put(case, dims=torch.tensor([B, C, H, W, OC, K], dtype=torch.int32), inp=x, w=w, b=b,
            out=y, dout=dy, dinp=dx, dw=dw, db=db)

    conv("conv2d_a", 2, 3, 9, 8, 4, 5)
    conv("conv2d_b", 2, 5, 7, 6, 3, 3)

    def bn(case, shape, training):
        C = shape[1]
        x = (torch.randn(*shape) * 1.7 + 0.4).requires_grad_()
        gamma = (torch.rand(C) + 0.5).requires_grad_()
        beta = torch.randn(C).requires_grad_()
        rm0, rv0 = torch.randn(C) * 0.3, torch.rand(C) + 0.5
        rm, rv = rm0.clone(), rv0.clone()
        y = F.batch_norm(x, rm, rv, gamma, beta, training=training, momentum=0.1, eps=1e-5)
        dims = [0] + list(range(2, len(shape)))
        xd = x.detach().double()
        if training:
            mean = xd.mean(dims)
            rstd = 1 / torch.sqrt(xd.var(dims, unbiased=False) + 1e-5)
        else:
            mean, rstd = rm0.double(), 1 / torch.sqrt(rv0.double() + 1e-5)
        S = int(np.prod(shape[2:])) if len(shape) > 2 else 1
        put(case, dims=torch.tensor([shape[0], C, S], dtype=torch.int32), inp=x, gamma=gamma,
            beta=beta, run_mean0=rm0, run_var0=rv0, out=y, run_mean=rm, run_var=rv,
            mean=mean.float(), rstd=rstd.float())
        if training:
            dy = torch.randn_like(y)
            dx, dgam, dbet = grads_of(y, dy, x, gamma, beta)
            put(case, dout=dy, dinp=dx, dgamma=dgam, dbeta=dbet)

    bn("bn2d_train", (3, 4, 5, 5), True)
    bn("bn2d_eval", (3, 4, 5, 5), False)
    bn("bn1d_train", (7, 5), True)
    bn("bn1d_eval", (7, 5), False)

    def pool(case, B, C, H, W, ties=False):
        x = torch.randint(0, 3, (B, C, H, W)).float() if ties else torch.randn(B, C, H, W)
        x.requires_grad_()
        y, idx = F.max_pool2d(x, 2, return_indices=True)
        dy = torch.randn_like(y)
        (dx,) = grads_of(y, dy, x)
        put(case, dims=torch.tensor([B, C, H, W], dtype=torch.int32), inp=x, out=y,
            argmax=idx.to(torch.int32), dout=dy, dinp=dx)

    pool("maxpool_even", 2, 3, 8, 8)
    pool("maxpool_odd", 2, 3, 9, 7)
    pool("maxpool_ties", 2, 2, 6, 6, ties=True)

    x = torch.randn(4, 37)
    x = (x + 0.05 * torch.sign(x)).requires_grad_()  # keep away from the kink
    y = F.relu(x)
    dy = torch.randn_like(y)
    (dx,) = grads_of(y, dy, x)
    put("relu", inp=x, out=y, dout=dy, dinp=dx)

    def drop(case, shape, p, channel):
        x = torch.randn(*shape, requires_grad=True)
        fn = F.dropout2d if channel else F.dropout
        state = torch.get_rng_state()
        ones = fn(torch.ones(*shape), p, training=True)
        torch.set_rng_state(state)
        y = fn(x, p, training=True)
        mask = ones[:, :, 0, 0] if channel else ones
        full = mask[:, :, None, None] if channel else mask
        assert torch.equal(y, x.detach() * full), "dropout mask replay differs from torch's draw"
        dy = torch.randn_like(y)
        (dx,) = grads_of(y, dy, x)
        put(case, p=torch.tensor([p]), mask=mask, inp=x, out=y, dout=dy, dinp=dx)

    drop("dropout", (6, 10), 0.5, False)
    drop("dropout_p03", (5, 9), 0.3, False)
    drop("dropout2d", (3, 5, 4, 3), 0.5, True)

    x = torch.randn(5, 7, requires_grad=True)
    w = ((torch.rand(3, 7) * 2 - 1) / math.sqrt(7)).requires_grad_()
    b = ((torch.rand(3) * 2 - 1) / math.sqrt(7)).requires_grad_()
    y = F.linear(x, w, b)
    dy = torch.randn_like(y)
    dx, dw, db = grads_of(y, dy, x, w, b)
    put("linear", inp=x, w=w, b=b, out=y, dout=dy, dinp=dx, dw=dw, db=db)

    for case, B, C, scale in (("nll10", 6, 10, 1.0), ("nll2", 6, 2, 0.7)):
        x = (torch.randn(B, C) * 2).requires_grad_()
        y = torch.randint(0, C, (B,))
        logp = F.log_softmax(x, dim=1)
        loss = F.nll_loss(logp, y)
        (dx,) = torch.autograd.grad(loss * scale, x)
        put(case, inp=x, y=y.to(torch.int32), logp=logp, loss=loss.reshape(1),
            scale=torch.tensor([scale]), dinp=dx)

    x = torch.randn(3, 11, requires_grad=True)
    lam = float(np.float32(0.73))
    y = GradReverse.apply(x, lam)
    dy = torch.randn_like(y)
    (dx,) = grads_of(y, dy, x)
    put("grl", inp=x, out=y, lam=torch.tensor([lam]), dout=dy, dinp=dx)
    return g


# ---------------------------------------------------------------------------------------------
def gen_images(seed, shape, mean, std):
    n = int(np.prod(shape))
    return torch.from_numpy(((u(seed, n) - np.float32(mean)) / np.float32(std)).reshape(shape))


def py3_fixture():
    log = []  # the twin's py3 network, its dropouts recording the masks torch draws
    model = netdesc.build("py3", dropout=lambda p, channel: netdesc.RecordingDropout(p, channel, log))
    sd = model.state_dict()
    names = list(sd.keys())
    with torch.no_grad():
        fan_in = None
        for k, name in enumerate(names):
            t = sd[name]
            if name.endswith("num_batches_tracked"):
                continue
            is_bn = "_bn" in name.split(".")[-2]
            if is_bn:
                t.fill_(0.0 if name.endswith(("bias", "running_mean")) else 1.0)
                continue
            if name.endswith("weight"):
                fan_in = int(np.prod(t.shape[1:]))
            bound = np.float32(1.0 / math.sqrt(fan_in))
            w = (np.float32(2) * u(1000 + k, t.numel()) - np.float32(1)) * bound
            t.copy_(torch.from_numpy(w.reshape(tuple(t.shape))))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    out = {}
    # A bit-exact check of the generator (tests/fixture_gen.c): raw u(), the first weights of
    # tensor 0 and the first source pixels of step 0.
    out["gen_check"] = torch.cat([torch.from_numpy(u(12345, 8)), sd[names[0]].flatten()[:8].clone(),
                                  gen_images(1, (8,), 0.1307, 0.3081)])
    losses, lambdas = [], []
    for step, p in enumerate((0.1, 0.5, 0.9)):
        lam = float(np.float32(2.0 / (1.0 + math.exp(-10 * p)) - 1.0))
        lambdas.append(lam)
        xs = gen_images(10 * step + 1, (16, 1, 28, 28), 0.1307, 0.3081)
        xt = gen_images(10 * step + 2, (16, 3, 28, 28), 0.5, 0.5)
        ys = torch.from_numpy(np.floor(u(10 * step + 3, 16).astype(np.float64) * 10).astype(np.int64))
        model.train()
        opt.zero_grad()
        cls_s, dom_s = model(xs, lam)
        err_s_label = F.nll_loss(cls_s, ys)
        err_s_domain = F.nll_loss(dom_s, torch.zeros(16, dtype=torch.long))
        _, dom_t = model(xt, lam)
        err_t_domain = F.nll_loss(dom_t, torch.ones(16, dtype=torch.long))
        err = err_t_domain + err_s_domain + err_s_label
        err.backward()
        if step == 0:
            # Step-1 gradients: Adam's early steps hardly depend on gradient magnitudes (step 1
            # is lr*sign(g)), so the magnitudes are checked here, subsampled when large.
            for name, prm in model.named_parameters():
                g1 = prm.grad.flatten()
                out["grad1." + name] = (g1[::GRAD_STRIDE] if g1.numel() > 1000 else g1).clone()
        opt.step()
        losses.append([err_s_label.item(), err_s_domain.item(), err_t_domain.item()])
        if step == 0:
            out["logp_src_step1"] = cls_s.detach().clone()
            out["labels_step1"] = ys.to(torch.int32)
        if step < 2:
            # Biases feeding a training-mode BatchNorm have a true gradient of 0: what Adam does
            # with their rounding noise is arbitrary, so the C test copies torch's values after
            # each step to keep the running means and the eval outputs comparable.
            for name, t in model.named_parameters():
                if name in NOISY:
                    out[f"noisy.s{step}.{name}"] = t.detach().clone()
        for which, k0 in (("src", 0), ("tgt", 2)):
            out[f"mask.s{step}.{which}.f_drop1"] = log[k0]
            out[f"mask.s{step}.{which}.c_drop1"] = log[k0 + 1]
        log.clear()
    out["losses"] = torch.tensor(losses, dtype=torch.float32)
    out["lambdas"] = torch.tensor(lambdas, dtype=torch.float32)
    for name, t in model.state_dict().items():
        if name in BIG:
            out["final." + name] = t.flatten()[::SUBSAMPLE].clone()
        elif name.endswith("num_batches_tracked"):
            out["final." + name] = t.reshape(1).to(torch.int64)
        else:
            out["final." + name] = t.clone()
    model.eval()
    with torch.no_grad():
        xe = gen_images(100, (8, 3, 28, 28), 0.5, 0.5)
        out["eval_logp"] = model(xe, 0.0)[0].clone()
    meta = {"state_dict": ",".join(names), "subsample_stride": str(SUBSAMPLE), "grad_stride": str(GRAD_STRIDE),
            "subsampled": ",".join(sorted(BIG)), "torch": torch.__version__,
            "masks": "U8 keep flags (factor 2 when 1), per pass in forward order: f_drop1 (B,50), c_drop1 (B,100)"}
    return out, meta


def optim_fixture():
    """torch.optim.SGD (momentum, weight decay) and Adam (weight decay) over 5 steps on one
    tensor with given gradients, plus the DANN schedules at a few progress values."""
    out = {}
    p0 = torch.randn(37)
    grads = torch.randn(5, 37) * torch.logspace(-6, 0, 37)  # tiny to O(1) gradients
    out["p0"], out["grads"] = p0.clone(), grads.clone()
    cases = {
        "sgd": lambda prm: torch.optim.SGD([prm], lr=0.01, momentum=0.9, weight_decay=5e-4),
        "sgd_plain": lambda prm: torch.optim.SGD([prm], lr=0.05),
        "adam": lambda prm: torch.optim.Adam([prm], lr=1e-3),
        "adam_wd": lambda prm: torch.optim.Adam([prm], lr=3e-3, betas=(0.8, 0.99), eps=1e-6, weight_decay=1e-2),
    }
    for name, make in cases.items():
        prm = torch.nn.Parameter(p0.clone())
        opt = make(prm)
        traj = []
        for t in range(5):
            prm.grad = grads[t].clone()
            opt.step()
            traj.append(prm.detach().clone())
        out[name] = torch.stack(traj)
    ps = [float(np.float32(x)) for x in (0.0, 0.1, 0.25, 0.5, 0.9, 1.0)]  # exact in float32
    out["sched_p"] = torch.tensor(ps, dtype=torch.float32)
    out["sched_lambda"] = torch.tensor([2.0 / (1.0 + math.exp(-10 * p)) - 1 for p in ps], dtype=torch.float32)
    out["sched_mu"] = torch.tensor([0.01 / (1 + 10 * p) ** 0.75 for p in ps], dtype=torch.float32)
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_fixtures.py OUTDIR")
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    torch.set_num_threads(1)
    for seed, i in ((0, 0), (1, 5), (12345, 99999), (1000 + 31, 7)):
        assert u(seed, i + 1)[i] == u_slow(seed, i), "vectorised u() differs from the definition"
    make_st_small(os.path.join(outdir, "st_small.safetensors"))
    torch.manual_seed(20240601)
    st.save(layer_fixtures(), os.path.join(outdir, "torch_layers.safetensors"),
            {"tolerance": "1e-5 + 1e-4|b|", "torch": torch.__version__})
    torch.manual_seed(7)
    out, meta = py3_fixture()
    st.save(out, os.path.join(outdir, "torch_py3.safetensors"), meta)
    torch.manual_seed(11)
    st.save(optim_fixture(), os.path.join(outdir, "torch_optim.safetensors"),
            {"cases": "sgd: lr 0.01 momentum 0.9 wd 5e-4; sgd_plain: lr 0.05; adam: lr 1e-3; "
                      "adam_wd: lr 3e-3 betas 0.8/0.99 eps 1e-6 wd 1e-2", "torch": torch.__version__})
    for f in ("st_small", "torch_layers", "torch_py3", "torch_optim"):
        path = os.path.join(outdir, f + ".safetensors")
        print(f"{path}: {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
