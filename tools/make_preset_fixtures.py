"""make_preset_fixtures.py - three whole training steps of every preset (and two user
descriptions) in PyTorch 1.13, for tests/test_torch_presets.c.

Usage: /usr/bin/python3 tools/make_preset_fixtures.py tests/fixtures   (part of `make fixtures`)

Writes tests/fixtures/torch_presets.safetensors (float32, one thread, fixed seeds: reruns give
the same bytes). For each case of CASES, the network tools/netdesc.py builds from the
description is trained for three steps of its recipe (docs/RECIPES.md) at progress p = 0.1, 0.5,
0.9, exactly as DANN_py3's loop is written (source forward, target forward, one backward of the
three summed losses, one optimizer step):
  paper    torch.optim.SGD, momentum 0.9, lr = float32(0.01 / (1 + 10 p)^0.75) set before each
           step; lambda_p = float32(2 / (1 + exp(-10 p)) - 1) at the gradient reversal layer only
  shallow  torch.optim.SGD, no momentum, lr 1e-3; lambda = float32(0.1) constant, at the GRL and
           multiplying the domain head's own gradients after backward (JMLR Algorithm 1)

Nothing large is stored: the initial weights and every input are computed on both sides from
the counter-based hash u(seed, i) of tools/make_fixtures.py (tests/fixture_gen.c). For case c
(0-based, in CASES order) let SB = 10000 (c + 1); state_dict entry k (all entries counted):
  conv / linear weight and bias   (2 u(SB+k, i) - 1) * float32(1/sqrt(fan_in))
  BatchNorm weight / bias         0.75 + 0.5 u(SB+k, i)  /  0.25 (2 u(SB+k, i) - 1)
  running_mean / running_var      0.25 (2 u(SB+k, i) - 1) /  0.5 + u(SB+k, i)
  num_batches_tracked             3
  step s (0-based) images         (u(SB+500+10s+1, i) - 0.5) / 0.5 source, +2 target; labels
                                  floor(double(u(SB+500+10s+3, i)) * classes)
  vectors                         element i is (u(seed, i) - 0.5) / 0.5 where u(seed+7, i) >=
                                  float32(SPARSITY) of the case, else 0 (seed as for images)
  eval inputs after step 3        the same formulas with seed SB+900 (source kind)
Grey cases feed the source batch as one channel, which the network expands to three (MNIST as
DANN_py3 feeds it). Dropout masks are the ones torch drew (RecordingDropout), stored as U8 keep
flags, mask.s<s>.<src|tgt>.<k> for the k-th dropout of that pass in forward order.

A parameter tensor of up to 16 million elements is stored as a record of floats: for the step-1
gradient g, and for the move w_s - w_0 after each step s = 1, 2, 3 (computed in float64 from the
float32 weights):
  [0] n  [1] L1 norm  [2] L2 norm  [3] max |v|  [4..7] sum_i r_k(i) v_i with signs
  r_k(i) = -1 if u(777 + k, i) < 0.5 else +1, then the values at sample indices: all of them
  when n <= FULL, else index 0, n - 1 and floor(double(u(778 + 4, j)) * n) for j < SAMPLES - 2.
Running statistics after step 3 are stored whole.

Also writes torch_io_<case>.safetensors for the small cases of IO_CASES: PyTorch-made weights
(torch_interchange_check.torch_made, seed 300 + c) saved as a plain state_dict, with their
eval-mode class log-probabilities of the eval inputs of seed SB + 950 as <case>.io_logp in
torch_presets.safetensors (tests/test_interchange_presets.c imports them with `dann import`). tests/test_torch_presets.c computes the same
records and says why they catch what they must.

Each case's step 1 is also run in float64 from the same float32 start: torch's float32
gradients must be within COND_MAX (relative L2, every tensor with a non-zero gradient) of
those, or the network is too ill-conditioned for the test's tolerances to mean anything (a
BatchNorm over a few near-constant values, say) and the script stops.
"""
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netdesc  # noqa: E402
import st  # noqa: E402
from make_fixtures import u  # noqa: E402  (the generator shared with tests/fixture_gen.c)
from torch_interchange_check import torch_made  # noqa: E402

FULL, SAMPLES, SIGN_SEED, IDX_SEED = 256, 128, 777, 782
COND_MAX = 1e-5  # torch's float32 step-1 gradients within this of float64's (relative L2)
PROGRESS = (0.1, 0.5, 0.9)
IO_CASES = ("shallow", "user_img", "user_vec")  # small enough to commit PyTorch-made weights
USER_IMG = ("in 3x24x32; features: conv(8,3,stride=2,pad=1) bn maxpool(3,stride=2,pad=1) "
            "conv(12,3,pad=1) bn dropout2d(0.5) maxpool(2) relu conv(16,2) bn relu dropout2d(0.25); "
            "class: fc(24) bn sigmoid dropout(0.5) fc(5); "
            "domain: fc(16) relu dropout(0.3) fc(12) bn relu fc(2)")
USER_VEC = ("in 40; features: fc(22) bn sigmoid dropout(0.5) fc(16) relu; "
            "class: fc(12) relu dropout(0.25) fc(3); domain: fc(8) bn relu dropout2d(0.5) fc(2)")
# name, description, recipe, batch per domain, grey source, sparsity (vectors), eval batch
CASES = (
    ("paper_mnist", "paper-mnist", "paper", 8, True, 0.0, 6),
    ("paper_svhn", "paper-svhn", "paper", 4, False, 0.0, 4),
    ("paper_gtsrb", "paper-gtsrb", "paper", 4, False, 0.0, 4),
    ("shallow", "shallow", "shallow", 1, False, 0.0, 5),
    ("user_img", USER_IMG, "paper", 6, True, 0.0, 5),
    ("user_vec", USER_VEC, "shallow", 6, False, 0.6, 5),
)


def f32(x):
    return np.float32(x)


def record(v):
    """The stored record of a float64 vector v (see the module comment)."""
    v = np.asarray(v, dtype=np.float64).ravel()
    n = v.size
    head = [n, np.abs(v).sum(), math.sqrt(float(np.dot(v, v))), np.abs(v).max()]
    for k in range(4):
        r = np.where(u(SIGN_SEED + k, n) < f32(0.5), -1.0, 1.0)
        head.append(float(np.dot(r, v)))
    if n <= FULL:
        samp = v
    else:
        idx = np.floor(u(IDX_SEED, SAMPLES - 2).astype(np.float64) * n).astype(np.int64)
        samp = v[np.concatenate([[0, n - 1], idx])]
    return torch.from_numpy(np.concatenate([np.array(head), samp]).astype(np.float32))


def init_state(model, sb):
    sd = model.state_dict()
    with torch.no_grad():
        fan_in = None
        for k, (name, t) in enumerate(sd.items()):
            leaf, layer = name.split(".")[-1], name.split(".")[-2]
            if leaf == "num_batches_tracked":
                t.fill_(3)
                continue
            x = u(sb + k, t.numel())
            if "_bn" in layer:
                x = {"weight": f32(0.75) + f32(0.5) * x, "bias": f32(0.25) * (f32(2) * x - f32(1)),
                     "running_mean": f32(0.25) * (f32(2) * x - f32(1)), "running_var": f32(0.5) + x}[leaf]
            else:
                if leaf == "weight":
                    fan_in = int(np.prod(t.shape[1:]))
                x = (f32(2) * x - f32(1)) * f32(1.0 / math.sqrt(fan_in))
            t.copy_(torch.from_numpy(x.astype(np.float32).reshape(tuple(t.shape))))


def gen_input(seed, shape, sparsity):
    n = int(np.prod(shape))
    x = (u(seed, n) - f32(0.5)) / f32(0.5)
    if sparsity > 0:
        x = np.where(u(seed + 7, n) >= f32(sparsity), x, f32(0)).astype(np.float32)
    return torch.from_numpy(x.reshape(shape))


def step1_grads_f64(ci, arch, recipe, B, grey, sparsity):
    """Step 1's gradients (and the masks drawn) of the case computed in float64 from the same
    float32 start: how much torch's own float32 rounding moves them (the network must be well
    conditioned for the test's tolerances to mean anything)."""
    torch.manual_seed(100 + ci)
    log = []
    model = netdesc.build(arch, dropout=lambda p, channel: netdesc.RecordingDropout(p, channel, log))
    init_state(model, 10000 * (ci + 1))
    model = model.double()
    desc, base = model.desc, 10000 * (ci + 1) + 500
    src_shape = (B,) + ((1,) + tuple(desc.shape[1:]) if grey else tuple(desc.shape))
    xs = gen_input(base + 1, src_shape, sparsity).double()
    xt = gen_input(base + 2, (B,) + tuple(desc.shape), sparsity).double()
    ys = torch.from_numpy(np.floor(u(base + 3, B).astype(np.float64) * model.n_classes).astype(np.int64))
    lam = float(f32(2.0 / (1.0 + math.exp(-10 * PROGRESS[0])) - 1.0)) if recipe == "paper" else float(f32(0.1))
    model.train()
    cls_s, dom_s = model(xs, lam)
    _, dom_t = model(xt, lam)
    (F.nll_loss(dom_t, torch.ones(B, dtype=torch.long)) + F.nll_loss(dom_s, torch.zeros(B, dtype=torch.long))
     + F.nll_loss(cls_s, ys)).backward()
    if recipe == "shallow":
        for prm in model.domain_classifier.parameters():
            prm.grad.mul_(lam)
    return {n: p.grad.clone() for n, p in model.named_parameters()}, log


def case_fixture(ci, name, arch, recipe, B, grey, sparsity, BE, out, meta):
    sb = 10000 * (ci + 1)
    g64, masks64 = step1_grads_f64(ci, arch, recipe, B, grey, sparsity)
    torch.manual_seed(100 + ci)  # the dropout draws
    log = []
    model = netdesc.build(arch, dropout=lambda p, channel: netdesc.RecordingDropout(p, channel, log))
    desc = model.desc
    init_state(model, sb)
    w0 = {n: p.detach().double().clone() for n, p in model.named_parameters()}
    mom = 0.9 if recipe == "paper" else 0.0
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=mom)
    src_shape = (B,) + ((1,) + tuple(desc.shape[1:]) if grey else tuple(desc.shape))
    tgt_shape = (B,) + tuple(desc.shape)
    NC = model.n_classes
    losses, lambdas, lrs = [], [], []
    for s, p in enumerate(PROGRESS):
        if recipe == "paper":
            lam = float(f32(2.0 / (1.0 + math.exp(-10 * p)) - 1.0))
            lr = float(f32(0.01 / (1 + 10 * p) ** 0.75))
        else:
            lam, lr = float(f32(0.1)), float(f32(1e-3))
        for g in opt.param_groups:
            g["lr"] = lr
        lambdas.append(lam)
        lrs.append(lr)
        base = sb + 500 + 10 * s
        xs = gen_input(base + 1, src_shape, sparsity)
        xt = gen_input(base + 2, tgt_shape, sparsity)
        ys = torch.from_numpy(np.floor(u(base + 3, B).astype(np.float64) * NC).astype(np.int64))
        model.train()
        opt.zero_grad()
        cls_s, dom_s = model(xs, lam)
        n_masks = len(log)
        err_s_label = F.nll_loss(cls_s, ys)
        err_s_domain = F.nll_loss(dom_s, torch.zeros(B, dtype=torch.long))
        _, dom_t = model(xt, lam)
        err_t_domain = F.nll_loss(dom_t, torch.ones(B, dtype=torch.long))
        (err_t_domain + err_s_domain + err_s_label).backward()
        if recipe == "shallow":  # Algorithm 1: the domain regressor steps by mu * lambda
            for prm in model.domain_classifier.parameters():
                prm.grad.mul_(lam)
        if s == 0:
            assert all(torch.equal(a, b) for a, b in zip(log, masks64)), "float64 run drew other masks"
            cond = 0.0
            for pn, prm in model.named_parameters():
                out[f"{name}.grad1.{pn}"] = record(prm.grad.double().numpy())
                ref = g64[pn].norm().item()
                if ref > 1e-10:  # not a bias before BatchNorm (true gradient 0)
                    cond = max(cond, (prm.grad.double() - g64[pn]).norm().item() / ref)
            assert cond < COND_MAX, f"{name}: float32 gradients off float64 by {cond:.2g} (relative L2)"
            out[f"{name}.logp_class_src1"] = cls_s.detach().clone()
            out[f"{name}.logp_domain_src1"] = dom_s.detach().clone()
            out[f"{name}.logp_domain_tgt1"] = dom_t.detach().clone()
        opt.step()
        for pn, prm in model.named_parameters():
            out[f"{name}.move{s + 1}.{pn}"] = record((prm.detach().double() - w0[pn]).numpy())
        for k, mask in enumerate(log):
            which = "src" if k < n_masks else "tgt"
            out[f"{name}.mask.s{s}.{which}.{k if k < n_masks else k - n_masks}"] = mask
        log.clear()
        losses.append([err_s_label.item(), err_s_domain.item(), err_t_domain.item()])
    out[f"{name}.losses"] = torch.tensor(losses, dtype=torch.float32)
    out[f"{name}.lambdas"] = torch.tensor(lambdas, dtype=torch.float32)
    out[f"{name}.lrs"] = torch.tensor(lrs, dtype=torch.float32)
    for sn, t in model.state_dict().items():
        if sn.endswith("num_batches_tracked"):
            out[f"{name}.final.{sn}"] = t.reshape(1).to(torch.int64)
        elif sn.endswith(("running_mean", "running_var")):
            out[f"{name}.final.{sn}"] = t.clone()
    model.eval()
    with torch.no_grad():
        eval_shape = (BE,) + ((1,) + tuple(desc.shape[1:]) if grey else tuple(desc.shape))
        out[f"{name}.eval_logp"] = model(gen_input(sb + 900, eval_shape, sparsity), 0.0)[0].clone()
    sd = model.state_dict()
    meta[f"{name}.net"] = desc.text()
    meta[f"{name}.arch"] = arch
    meta[f"{name}.recipe"] = recipe
    meta[f"{name}.setup"] = f"batch={B} grey={int(grey)} sparsity={sparsity!r} eval={BE}"
    meta[f"{name}.state_dict"] = ",".join(f"{k}:{'x'.join(str(d) for d in v.shape)}" for k, v in sd.items())
    n_params = sum(p.numel() for p in model.parameters())
    print(f"  {name:12s} {n_params:9d} parameters, losses step 1 {losses[0][0]:.4f} {losses[0][1]:.4f} "
          f"{losses[0][2]:.4f}, step 3 {losses[2][0]:.4f}; step-1 gradients float32 vs float64: "
          f"{cond:.2g} (relative L2, worst tensor)")
    return cond


def io_fixture(ci, name, arch, BE, grey, sparsity, outdir, out):
    """PyTorch-made weights of a small case, saved as a plain state_dict, and their eval-mode
    class log-probabilities of generated inputs (seed SB + 950): what `dann import` of them must
    reproduce without PyTorch at hand."""
    model = torch_made(netdesc.resolve(arch).text(), 300 + ci)
    path = os.path.join(outdir, f"torch_io_{name}.safetensors")
    st.save(model.state_dict(), path, {"format": "pt"})
    shape = (BE,) + ((1,) + tuple(model.desc.shape[1:]) if grey else tuple(model.desc.shape))
    model.eval()
    with torch.no_grad():
        out[f"{name}.io_logp"] = model(gen_input(10000 * (ci + 1) + 950, shape, sparsity), 0.0)[0].clone()
    return path


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_preset_fixtures.py OUTDIR")
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    torch.set_num_threads(1)
    out, meta = {}, {"torch": torch.__version__, "cases": ",".join(c[0] for c in CASES),
                     "record": f"n,l1,l2,maxabs,proj x4 (signs u({SIGN_SEED}+k,i)<0.5), samples "
                               f"(all when n<={FULL}, else 0, n-1, floor(u({IDX_SEED},j)*n) j<{SAMPLES - 2})"}
    written = []
    for ci, case in enumerate(CASES):
        case_fixture(ci, *case, out, meta)
    for ci, (name, arch, _, _, grey, sparsity, BE) in enumerate(CASES):
        if name in IO_CASES:
            written.append(io_fixture(ci, name, arch, BE, grey, sparsity, outdir, out))
    path = os.path.join(outdir, "torch_presets.safetensors")
    st.save(out, path, meta)
    for p in [path] + written:
        print(f"{p}: {os.path.getsize(p)} bytes")


if __name__ == "__main__":
    main()
