"""make_interchange_fixture.py - PyTorch-side fixtures of the weights interchange (dann import /
dann export, src/io/interchange.c), checked by tests/test_interchange.c.

Usage: /usr/bin/python3 tools/make_interchange_fixture.py [tests/fixtures] [--data /work/shared/data]

Writes
  torch_py3_weights.safetensors  state_dict() of the reference model (CNNModel of
      tools/dann_torch.py, torch.manual_seed(7)) after 30 DANN training steps (Adam 1e-3, batch
      32 + 32, alpha 0.5) on synthetic data, so weights, BatchNorm running statistics and
      num_batches_tracked (60: source and target forwards) are all non-trivial. Saved with
      tools/st.py exactly as dann_torch.py's save_weights does.
  torch_py3_eval.safetensors
      synth_u8    U8 (16, 3, 28, 28)  synthetic images, pixel (n, c, y, x) =
                  (n*37 + c*91 + y*x*(n+3) + ((y*7 + x*13) ^ (n*11))) mod 256
      synth_logp  F32 (16, 10)  eval-mode class log-probabilities of those images after
                  ToTensor + Normalize(0.5, 0.5) in float32 (dann_torch.tgt_batch)
      grey_u8     U8 (4, 1, 28, 28)  synth_u8[:4, 0] images as grey
      grey_logp   F32 (4, 10)   their log-probabilities with MNIST's Normalize(0.1307, 0.3081)
                  and the model's expand to 3 channels (dann_torch.src_batch, the MNIST path)
      rgb32_u8    U8 (4, 3, 32, 32)  32x32 colour images, same formula with 32 for 28
      rgb32_logp  F32 (4, 10)   their log-probabilities after PIL's resize((28, 28), BILINEAR)
                  (torchvision's Resize(28) on a square PIL image) and Normalize(0.5, 0.5)
      These three sets are what `dann predict` must reproduce from PNG files
      (tests/test_cli_io.c).
      and, when the data folder is present (the twin's own pipeline, dann_torch.load_mnistm +
      predict_logp, i.e. `dann_torch.py predict --n 512`):
      mnistm_label I32 (512)      labels of the first 512 MNIST-M test images (labels-file order)
      mnistm_pred  I32 (512)      the twin's argmax predictions
      mnistm_logp  F32 (512, 10)  the twin's log-probabilities
      mnistm_margin F32 (512)     top-1 minus top-2 log-probability (how close each call is)

The synthetic training task: label k images are a fixed random pattern of class k plus noise,
so the class head becomes confident and the 16 synthetic predictions are far from ties (the
script prints the smallest top-2 margin). One thread, fixed seeds: reruns give the same bytes.
"""
import argparse
import os
import sys

import numpy as np
import torch
import torch.nn as nn
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dann_torch as dt  # noqa: E402
import st  # noqa: E402

N_STEPS, BATCH, N_SYNTH, N_REAL = 30, 32, 16, 512


def synth_u8(count=N_SYNTH, side=28):
    n, c, y, x = np.meshgrid(np.arange(count), np.arange(3), np.arange(side), np.arange(side),
                             indexing="ij")
    v = (n * 37 + c * 91 + y * x * (n + 3) + ((y * 7 + x * 13) ^ (n * 11))) % 256
    return torch.from_numpy(v.astype(np.uint8))


def pil_resize_28(u8):
    """(N, 3, S, S) uint8 -> (N, 3, 28, 28) through PIL, as dann_torch._decode_png does."""
    out = []
    for img in u8.numpy():
        pil = Image.fromarray(np.ascontiguousarray(img.transpose(1, 2, 0)), "RGB")
        out.append(np.asarray(pil.resize((28, 28), Image.BILINEAR), dtype=np.uint8).transpose(2, 0, 1))
    return torch.from_numpy(np.ascontiguousarray(np.stack(out))).contiguous()


def margins(logp):
    top2 = logp.topk(2, dim=1).values
    return (top2[:, 0] - top2[:, 1]).contiguous()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out_dir", nargs="?", default="tests/fixtures")
    ap.add_argument("--data", default="/work/shared/data")
    a = ap.parse_args()
    torch.set_num_threads(1)

    model = dt.new_model(7)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    nll = nn.NLLLoss()
    g = torch.Generator()
    g.manual_seed(11)
    patterns_s = torch.randn(10, 1, 28, 28, generator=g)
    patterns_t = torch.randn(10, 3, 28, 28, generator=g)
    model.train()
    for _ in range(N_STEPS):
        ys = torch.randint(0, 10, (BATCH,), generator=g)
        yt = torch.randint(0, 10, (BATCH,), generator=g)
        xs = patterns_s[ys] + 0.5 * torch.randn(BATCH, 1, 28, 28, generator=g)
        xt = patterns_t[yt] + 0.5 * torch.randn(BATCH, 3, 28, 28, generator=g) + 0.3
        dt.train_step(model, opt, "dann", xs, ys, xt, None, 0.5, nll)
    sd = model.state_dict()
    weights_path = os.path.join(a.out_dir, "torch_py3_weights.safetensors")
    st.save(sd, weights_path, metadata={"arch": "py3", "producer": "make_interchange_fixture.py",
                                        "torch": torch.__version__, "steps": N_STEPS})

    out = {}
    u8 = synth_u8()
    logp = dt.predict_logp(model, u8, dt.tgt_batch)
    out["synth_u8"] = u8
    out["synth_logp"] = logp
    print(f"synthetic: predictions {logp.argmax(1).tolist()}, smallest top-2 margin "
          f"{margins(logp).min().item():.3g}")
    out["grey_u8"] = u8[:4, :1].contiguous()
    out["grey_logp"] = dt.predict_logp(model, out["grey_u8"], dt.src_batch)
    out["rgb32_u8"] = synth_u8(4, 32)
    out["rgb32_logp"] = dt.predict_logp(model, pil_resize_28(out["rgb32_u8"]), dt.tgt_batch)
    print(f"grey: predictions {out['grey_logp'].argmax(1).tolist()}, margin "
          f"{margins(out['grey_logp']).min().item():.3g}; 32x32: predictions "
          f"{out['rgb32_logp'].argmax(1).tolist()}, margin {margins(out['rgb32_logp']).min().item():.3g}")
    if os.path.isdir(os.path.join(a.data, "mnist_m")):
        x, y = dt.load_mnistm(a.data, use_cache=False)["test"]
        lp = dt.predict_logp(model, x[:N_REAL], dt.tgt_batch)
        out["mnistm_label"] = y[:N_REAL].to(torch.int32)
        out["mnistm_pred"] = lp.argmax(1).to(torch.int32)
        out["mnistm_logp"] = lp
        out["mnistm_margin"] = margins(lp)
        m = out["mnistm_margin"]
        acc = (out["mnistm_pred"] == out["mnistm_label"]).float().mean().item()
        print(f"mnist-m test[:{N_REAL}]: accuracy {acc:.4f}, smallest top-2 margin {m.min().item():.3g}, "
              f"margins below 1e-4: {int((m < 1e-4).sum())}, below 1e-3: {int((m < 1e-3).sum())}")
    else:
        print(f"{a.data}/mnist_m not found: the real-data predictions are not written")
    st.save(out, os.path.join(a.out_dir, "torch_py3_eval.safetensors"),
            metadata={"producer": "make_interchange_fixture.py", "torch": torch.__version__})
    print(f"wrote {weights_path} ({os.path.getsize(weights_path)} bytes) and torch_py3_eval.safetensors")


if __name__ == "__main__":
    main()
