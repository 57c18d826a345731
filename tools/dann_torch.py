#!/usr/bin/python3
"""dann_torch.py - the PyTorch twin of the `dann` C tool: the fungtion/DANN_py3 model and loop.

Purpose: a reference run of the very system the C library reproduces (preset "py3" of
docs DANN.md), with a command line that mirrors `dann` so that accuracies, metrics files, timings
and weights line up. Runs with Debian's /usr/bin/python3 (PyTorch 1.13 + PIL; no torchvision: the
transforms are written out below exactly as torchvision computes them).

Subcommands (each also takes --arch NAME|DESCRIPTION, default py3: the network, built by
tools/netdesc.py from a preset or a description of docs/NETWORKS.md)
  train        --mode dann|source-only|target-only --epochs N --seed S --threads T --data DIR
               --out RUN_DIR [--recipe py3|paper] [--lr LR] [--max-steps K]
               [--save-weights W.safetensors] [--init-weights W.safetensors]
  bench        --threads T --steps 50 [--warmup 5] [--json]
  export-init  --seed S OUT.safetensors
  eval         --weights W.safetensors --data DIR
  predict      --weights W.safetensors --data DIR --n 256 --out preds.json

Fidelity to the reference (main.py / model.py / test.py of fungtion/DANN_py3), for py3:
  - the network is netdesc.build("py3"), which is DANN_py3's CNNModel: same modules, names and
    initial draws under the same torch.manual_seed (tools/check_netdesc.py);
  - module names are the reference's, so state_dict() names are the interchange names
    (feature.f_conv1.weight, ..., feature.f_bn1.num_batches_tracked, ...);
  - the model always computes both heads: on the target batch the class head runs too (its output
    is discarded), so c_bn1/c_bn2 running statistics are updated by source AND target batches
    and their dropout masks are drawn, as in the reference;
  - p = float(i + epoch * steps) / epochs / steps, alpha = 2/(1+exp(-10p)) - 1 (float64);
  - NLLLoss with mean reduction; err = err_t_domain + err_s_domain + err_s_label, in that order;
  - Adam(lr=1e-3) with PyTorch defaults; zero_grad before the source forward.
  Deviations, all numerically neutral: c_drop1 is nn.Dropout instead of nn.Dropout2d (the
  preset writes it dropout(0.5): torch 1.13's Dropout2d on a (B, 100) tensor drops elements with
  the same draws); evaluation runs under torch.no_grad() and skips the domain head (whose output
  test.py discards; in eval mode it changes no state); batches are drawn with torch.randperm
  from a torch.Generator seeded with --seed instead of DataLoader workers.
  source-only / target-only modes (not in the reference) run feature + class head only, on the
  labelled batch, so the domain head's BatchNorm statistics stay untouched.

Data: MNIST from the four gz IDX files in DIR/mnist; MNIST-M straight from
DIR/mnist_m/mnist_m.tar.gz (or an unpacked DIR/mnist_m/mnist_m/ folder). Images are decoded and
resized ONCE to uint8 (N, C, 28, 28); ToTensor + Normalize are applied per batch in float32:
x = (u8 / 255 - mean) / std. The decoded MNIST-M arrays may be cached under /tmp (nowhere else);
--no-cache disables that. Another --arch: the network's class head is fitted to MNIST's 10
classes for a preset (a description must end in fc(10)); its input (C, H, W) must be 1 or 3
channels; images of another size are resized once with PIL's bilinear filter (MNIST from
28x28, MNIST-M straight from its 32x32 PNGs), and with C = 1 MNIST-M is converted to grey
(PIL convert('L')).

Recipes (train --recipe): py3 (default) is the reference's loop above, Adam(--lr, default 1e-3)
for every network. paper is `dann train --preset paper` (docs/RECIPES.md, JMLR 2016 section
5.2.2; use it with --arch paper-mnist): batches of 64 + 64; torch.optim.SGD(momentum 0.9) with
its lr set before every step to mu_p = mu0 / (1 + 10 p)^0.75 (mu0 = --lr, default 0.01), p and
lambda_p as above; each domain's per-channel mean of u8/255 over its own training images
subtracted from its training and test images, no std division (src/cli/recipe.c's
recipe_mean_subtract, float64 then float32); the same losses and step order as py3.
"""
import argparse
import gzip
import io
import json
import math
import os
import resource
import statistics
import struct
import sys
import tarfile
import time

import numpy as np
import torch
import torch.nn as nn
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netdesc  # noqa: E402  (the network description language: presets, nn.Module builder)
import st  # noqa: E402  (the project's safetensors reader/writer)

IMAGE_SIZE = 28
BATCH = 128
MNIST_MEAN, MNIST_STD = (0.1307,), (0.3081,)
MNISTM_MEAN, MNISTM_STD = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)
CACHE_DIR = "/tmp/dann_torch_cache"


class ToolError(Exception):
    """An error caused by input (files, options): reported as one line, exit status 1."""


# --------------------------------------------------------------------------------------------
# Model


ReverseLayerF = netdesc.ReverseLayerF  # the GRL (tools/make_fixtures.py imports it from here)


def build_model(arch="py3"):
    """The network of a preset name or description (tools/netdesc.py), fitted to this tool's
    data: 10 classes, and for a preset the input side of the images as given."""
    try:
        d = netdesc.resolve(arch)
        if arch in netdesc.PRESETS:
            d = netdesc.resolve(arch, n_classes=10)
        model = netdesc.DANNNet(d)
    except netdesc.DescError as e:
        raise ToolError(str(e))
    if d.vec or d.shape[0] not in (1, 3):
        raise ToolError(f"--arch {arch}: this tool trains on MNIST -> MNIST-M images, so the "
                        f"network must take 1- or 3-channel images (it takes {d.text().split(';')[0]})")
    if model.n_classes != 10:
        raise ToolError(f"--arch {arch}: the class head ends in fc({model.n_classes}); MNIST has 10 classes")
    model.arch = arch
    return model


def new_model(seed, arch="py3"):
    """A freshly initialised model: PyTorch's default init drawn after torch.manual_seed(seed)."""
    torch.manual_seed(seed)
    return build_model(arch)


def save_weights(model, path, meta):
    st.save(model.state_dict(), path, metadata=dict(meta, arch=model.arch, producer="dann_torch.py"))


def load_weights(model, path):
    if not os.path.isfile(path):
        raise ToolError(f"{path}: no such weights file")
    try:
        tensors, _ = st.load(path)
    except (OSError, ValueError, KeyError, struct.error, RuntimeError) as e:
        raise ToolError(f"{path}: not a readable safetensors file ({e})")
    want = model.state_dict()
    missing = [k for k in want if k not in tensors]
    extra = [k for k in tensors if k not in want]
    if missing or extra:
        raise ToolError(f"{path}: tensor names do not match the {model.arch} model "
                        f"(missing {missing[:3]}, unexpected {extra[:3]})")
    for k, v in want.items():
        t = tensors[k]
        if tuple(t.shape) != tuple(v.shape) or t.dtype != v.dtype:
            raise ToolError(f"{path}: {k} is {t.dtype} {list(t.shape)}, "
                            f"expected {v.dtype} {list(v.shape)}")
    model.load_state_dict(tensors, strict=True)


# --------------------------------------------------------------------------------------------
# Data: decoded once to uint8 (N, C, 28, 28) + int64 labels


def normalize(u8, mean, std):
    """torchvision ToTensor + Normalize in float32: (u8 / 255 - mean) / std, per channel."""
    x = u8.to(torch.float32).div(255)
    m = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
    return x.sub(m).div(s)


def _read_idx(path, magic):
    try:
        with gzip.open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ToolError(f"{path}: cannot read ({e})")
    if len(data) < 8 or struct.unpack(">I", data[:4])[0] != magic:
        raise ToolError(f"{path}: bad IDX magic (expected 0x{magic:08x})")
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    body = data[4 + 4 * ndim:]
    if len(body) != int(np.prod(dims)):
        raise ToolError(f"{path}: {len(body)} data bytes, header says {int(np.prod(dims))}")
    return np.frombuffer(body, dtype=np.uint8).reshape(dims)


def _pil_resize(x, hw, mode):
    """uint8 (N, C, h, w) -> (N, C, H, W) with PIL's bilinear resize, image by image."""
    out = np.empty((x.shape[0], x.shape[1]) + tuple(hw), dtype=np.uint8)
    for i, img in enumerate(x):
        pil = Image.fromarray(np.ascontiguousarray(img[0] if mode == "L" else img.transpose(1, 2, 0)), mode)
        r = np.asarray(pil.resize((hw[1], hw[0]), Image.BILINEAR), dtype=np.uint8)
        out[i] = r[None] if mode == "L" else r.transpose(2, 0, 1)
    return out


def load_mnist(data_dir, split, hw=(IMAGE_SIZE, IMAGE_SIZE)):
    """MNIST train or test (t10k): uint8 (N, 1, H, W) (28x28 unless a network asks for another
    size: PIL bilinear), int64 (N,)."""
    pre = "train" if split == "train" else "t10k"
    d = os.path.join(data_dir, "mnist")
    x = _read_idx(os.path.join(d, f"{pre}-images-idx3-ubyte.gz"), 0x803)
    y = _read_idx(os.path.join(d, f"{pre}-labels-idx1-ubyte.gz"), 0x801)
    if x.shape[0] != y.shape[0] or x.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise ToolError(f"{d}: {pre} images {x.shape} do not match labels {y.shape}")
    # 28x28 already: torchvision's Resize(28) returns the image unchanged.
    x = x[:, None]
    if tuple(hw) != (IMAGE_SIZE, IMAGE_SIZE):
        x = _pil_resize(x, hw, "L")
    return torch.from_numpy(x.copy()), torch.from_numpy(y.astype(np.int64))


def _decode_png(raw, name, geom):
    """Image.open(...).convert('RGB') then Resize(28) == PIL bilinear resize to 28x28 (geom:
    (C, H, W) of the network's input; C 1 converts to grey with PIL's convert('L'))."""
    C, H, W = geom
    try:
        img = Image.open(io.BytesIO(raw)).convert("RGB" if C == 3 else "L")
    except Exception as e:  # PIL raises many types on corrupt files
        raise ToolError(f"{name}: cannot decode PNG ({e})")
    if img.size != (W, H):
        img = img.resize((W, H), Image.BILINEAR)
    a = np.asarray(img, dtype=np.uint8)
    return a[None] if C == 1 else a.transpose(2, 0, 1)  # (C, H, W)


def _parse_labels(text, name):
    out = []
    for ln, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit() or int(parts[1]) > 9:
            raise ToolError(f"{name}:{ln}: expected 'file.png label', got {line!r}")
        out.append((parts[0], int(parts[1])))
    return out


def _assemble(labels, images, where, split, geom):
    x = np.empty((len(labels),) + tuple(geom), dtype=np.uint8)
    for i, (fn, _) in enumerate(labels):
        if fn not in images:
            raise ToolError(f"{where}: mnist_m_{split}/{fn} is listed but missing")
        x[i] = images[fn]
    y = np.array([lab for _, lab in labels], dtype=np.int64)
    return torch.from_numpy(x), torch.from_numpy(y)


def _load_mnistm_uncached(data_dir, geom):
    """Both MNIST-M splits in labels-file order, from the tar.gz or an unpacked folder."""
    tar_path = os.path.join(data_dir, "mnist_m", "mnist_m.tar.gz")
    folder = os.path.join(data_dir, "mnist_m", "mnist_m")
    images = {"train": {}, "test": {}}
    labels = {}
    if os.path.isfile(tar_path):
        where = tar_path
        try:
            with tarfile.open(tar_path, "r:gz") as tf:
                for m in tf:
                    if not m.isfile():
                        continue
                    parts = m.name.split("/")
                    base, parent = parts[-1], parts[-2] if len(parts) > 1 else ""
                    if base in ("mnist_m_train_labels.txt", "mnist_m_test_labels.txt"):
                        split = "train" if "train" in base else "test"
                        labels[split] = _parse_labels(tf.extractfile(m).read().decode(),
                                                      f"{tar_path}:{m.name}")
                    elif base.endswith(".png") and parent in ("mnist_m_train", "mnist_m_test"):
                        split = parent[len("mnist_m_"):]
                        raw = tf.extractfile(m).read()
                        images[split][base] = _decode_png(raw, f"{tar_path}:{m.name}", geom)
        except (OSError, tarfile.TarError, EOFError) as e:
            raise ToolError(f"{tar_path}: cannot read the archive ({e})")
    elif os.path.isdir(folder):
        where = folder
        for split in ("train", "test"):
            lp = os.path.join(folder, f"mnist_m_{split}_labels.txt")
            try:
                with open(lp) as f:
                    labels[split] = _parse_labels(f.read(), lp)
            except OSError as e:
                raise ToolError(f"{lp}: cannot read ({e})")
            for fn, _ in labels[split]:
                p = os.path.join(folder, f"mnist_m_{split}", fn)
                try:
                    with open(p, "rb") as f:
                        images[split][fn] = _decode_png(f.read(), p, geom)
                except OSError as e:
                    raise ToolError(f"{p}: cannot read ({e})")
    else:
        raise ToolError(f"{tar_path}: not found (nor an unpacked {folder}/)")
    out = {}
    for split in ("train", "test"):
        if split not in labels:
            raise ToolError(f"{where}: mnist_m_{split}_labels.txt is missing")
        out[split] = _assemble(labels[split], images[split], where, split, geom)
    return out


def load_mnistm(data_dir, use_cache=True, geom=(3, IMAGE_SIZE, IMAGE_SIZE)):
    """{'train': (uint8 (N,3,28,28), int64 (N,)), 'test': ...}, optionally cached under /tmp
    (geom: another (C, H, W) for a network that takes it)."""
    src = os.path.join(data_dir, "mnist_m", "mnist_m.tar.gz")
    cache = None
    if use_cache and os.path.isfile(src):
        s = os.stat(src)
        size = IMAGE_SIZE if tuple(geom) == (3, IMAGE_SIZE, IMAGE_SIZE) else "x".join(map(str, geom))
        cache = os.path.join(CACHE_DIR, f"mnistm_{s.st_size}_{int(s.st_mtime)}_{size}.pt")
        if os.path.isfile(cache):
            try:
                return torch.load(cache)
            except Exception:  # a stale or truncated cache is rebuilt
                pass
    out = _load_mnistm_uncached(data_dir, geom)
    if cache:
        try:
            os.makedirs(CACHE_DIR, exist_ok=True)
            tmp = cache + f".{os.getpid()}.tmp"
            torch.save(out, tmp)
            os.replace(tmp, cache)
        except OSError:
            pass  # the cache is an optimisation only
    return out


class Data:
    """The four splits the py3 experiment uses, uint8, with their normalisation (geom: the
    network's input (C, H, W); MNIST stays one channel, which the model expands)."""

    def __init__(self, data_dir, use_cache=True, need_train=True, geom=(3, IMAGE_SIZE, IMAGE_SIZE)):
        t0 = time.perf_counter()
        if need_train:
            self.src_train = load_mnist(data_dir, "train", geom[1:])
        self.src_test = load_mnist(data_dir, "test", geom[1:])
        mm = load_mnistm(data_dir, use_cache, geom)
        if need_train:
            self.tgt_train = mm["train"]
        self.tgt_test = mm["test"]
        self.load_seconds = time.perf_counter() - t0


def src_batch(u8):
    return normalize(u8, MNIST_MEAN, MNIST_STD)


def tgt_batch(u8):
    C = u8.shape[1]
    return normalize(u8, MNISTM_MEAN[:C], MNISTM_STD[:C])


# --------------------------------------------------------------------------------------------
# Training and evaluation


def lambda_schedule(p, gamma=10.0):
    return 2.0 / (1.0 + np.exp(-gamma * p)) - 1


@torch.no_grad()
def predict_logp(model, x_u8, norm, batch=BATCH):
    """Eval-mode class log-probabilities (N, 10), processed in batches."""
    model.eval()
    outs = []
    for b in range(0, x_u8.shape[0], batch):
        outs.append(model.classify(norm(x_u8[b:b + batch])))
    return torch.cat(outs) if outs else torch.empty(0, 10)


def accuracy(model, split, norm):
    x, y = split
    pred = predict_logp(model, x, norm).argmax(dim=1)
    return float((pred == y).sum().item()) / max(1, y.shape[0])


def mean_norm(mean):
    """The paper recipe's preprocessing: u8 / 255 - mean per channel, std 1."""
    return lambda u8: normalize(u8, mean[:u8.shape[1]], (1.0,) * u8.shape[1])


def channel_means(u8):
    """Per-channel mean of u8 / 255 over a whole training set (exact integer sums in float64,
    rounded to float32 like recipe_mean_subtract)."""
    n = u8.shape[0] * u8.shape[2] * u8.shape[3]
    return tuple(float(np.float32(int(u8[:, c].sum(dtype=torch.int64)) / n / 255.0))
                 for c in range(u8.shape[1]))


def train_step(model, opt, mode, xs, ys, xt, yt, alpha, nll):
    """One step of the reference loop; returns (loss_class, loss_domain, dom_correct, dom_total,
    class_correct)."""
    model.zero_grad()
    if mode == "dann":
        class_output, domain_output = model(input_data=xs, alpha=alpha)
        err_s_label = nll(class_output, ys)
        err_s_domain = nll(domain_output, torch.zeros(xs.shape[0], dtype=torch.long))
        _, domain_output_t = model(input_data=xt, alpha=alpha)
        err_t_domain = nll(domain_output_t, torch.ones(xt.shape[0], dtype=torch.long))
        err = err_t_domain + err_s_domain + err_s_label
        err.backward()
        opt.step()
        dom_ok = int((domain_output.argmax(1) == 0).sum()) + int((domain_output_t.argmax(1) == 1).sum())
        return (err_s_label.item(), err_s_domain.item() + err_t_domain.item(), dom_ok,
                xs.shape[0] + xt.shape[0], int((class_output.argmax(1) == ys).sum()))
    x, y = (xs, ys) if mode == "source-only" else (xt, yt)
    class_output = model.classify(x)
    err = nll(class_output, y)
    err.backward()
    opt.step()
    return err.item(), 0.0, 0, 0, int((class_output.argmax(1) == y).sum())


def cmd_train(a):
    torch.set_num_threads(a.threads)
    model = new_model(a.seed, a.arch)  # the data loading below draws nothing from torch's RNG
    data = Data(a.data, use_cache=not a.no_cache, geom=model.in_shape)
    print(f"data: mnist train {data.src_train[0].shape[0]} test {data.src_test[0].shape[0]}, "
          f"mnist-m train {data.tgt_train[0].shape[0]} test {data.tgt_test[0].shape[0]} "
          f"({data.load_seconds:.1f} s)", flush=True)
    if a.init_weights:
        load_weights(model, a.init_weights)
    paper = a.recipe == "paper"
    B = 64 if paper else BATCH
    if paper:
        lr0 = a.lr if a.lr is not None else 0.01
        opt = torch.optim.SGD(model.parameters(), lr=lr0, momentum=0.9)
        mean_s, mean_t = channel_means(data.src_train[0]), channel_means(data.tgt_train[0])
        norm_s, norm_t = mean_norm(mean_s), mean_norm(mean_t)
        print("norm: mean subtraction (std 1): source " + " ".join(f"{v:.4f}" for v in mean_s) +
              ", target " + " ".join(f"{v:.4f}" for v in mean_t), flush=True)
    else:
        lr0 = a.lr if a.lr is not None else 1e-3
        opt = torch.optim.Adam(model.parameters(), lr=lr0)
        norm_s, norm_t = src_batch, tgt_batch
    nll = nn.NLLLoss()
    gen = torch.Generator()
    gen.manual_seed(a.seed)

    ns, nt = data.src_train[0].shape[0], data.tgt_train[0].shape[0]
    # min(len(source loader), len(target loader)) (461 at 128), in every mode so runs line up.
    steps = min(math.ceil(ns / B), math.ceil(nt / B))
    if a.max_steps:
        steps = min(steps, a.max_steps)
    os.makedirs(a.out, exist_ok=True)
    metrics_path = os.path.join(a.out, "metrics.jsonl")
    print(f"train: {'' if a.arch == 'py3' else f'arch {a.arch}, '}mode {a.mode}, {a.epochs} epochs x {steps} steps, batch {B}, "
          f"recipe {a.recipe}, "
          f"seed {a.seed}, threads {torch.get_num_threads()}, torch {torch.__version__}", flush=True)

    for epoch in range(a.epochs):
        # Both loaders reshuffle every epoch (DataLoader(shuffle=True), drop_last=False).
        perm_s = torch.randperm(ns, generator=gen)
        perm_t = torch.randperm(nt, generator=gen)
        model.train()
        t0 = time.perf_counter()
        sum_c = sum_d = 0.0
        dom_ok = dom_n = cls_ok = cls_n = 0
        alpha = 0.0
        for i in range(steps):
            p = float(i + epoch * steps) / a.epochs / steps
            alpha = lambda_schedule(p)
            if paper:
                lr = lr0 / (1.0 + 10.0 * p) ** 0.75
                for g in opt.param_groups:
                    g["lr"] = lr
            xs = ys = xt = yt = None
            if a.mode != "target-only":
                idx = perm_s[i * B:(i + 1) * B]
                xs, ys = norm_s(data.src_train[0][idx]), data.src_train[1][idx]
            if a.mode != "source-only":
                idx = perm_t[i * B:(i + 1) * B]
                xt, yt = norm_t(data.tgt_train[0][idx]), data.tgt_train[1][idx]
            lc, ld, dk, dn, ck = train_step(model, opt, a.mode, xs, ys, xt, yt, alpha, nll)
            if not (math.isfinite(lc) and math.isfinite(ld)):
                raise ToolError(f"epoch {epoch + 1} step {i + 1}: loss is not finite "
                                f"(class {lc}, domain {ld})")
            sum_c += lc
            sum_d += ld
            dom_ok += dk
            dom_n += dn
            cls_ok += ck
            cls_n += (yt if a.mode == "target-only" else ys).shape[0]
        train_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        acc_s = accuracy(model, data.src_test, norm_s)
        acc_t = accuracy(model, data.tgt_test, norm_t)
        eval_s = time.perf_counter() - t1
        rec = {
            "epoch": epoch + 1,
            "source_test_acc": acc_s,
            "target_test_acc": acc_t,
            "domain_acc": (dom_ok / dom_n) if dom_n else None,
            "loss_class": sum_c / steps,
            "loss_domain": sum_d / steps,
            "lambda": float(alpha),
            "lr": opt.param_groups[0]["lr"],
            "seconds": train_s,
            "eval_seconds": eval_s,
            "steps": steps,
            "train_class_acc": cls_ok / max(1, cls_n),
            "mode": a.mode,
            "recipe": a.recipe,
        }
        with open(metrics_path, "a") as f:
            f.write(json.dumps(rec) + "\n")
        dom = f"{rec['domain_acc']:.4f}" if rec["domain_acc"] is not None else "-"
        print(f"epoch {epoch + 1:3d}/{a.epochs}  loss_class {rec['loss_class']:.4f}  "
              f"loss_domain {rec['loss_domain']:.4f}  domain_acc {dom}  lambda {alpha:.4f}  "
              f"src_acc {acc_s:.4f}  tgt_acc {acc_t:.4f}  train {train_s:.1f} s  "
              f"eval {eval_s:.1f} s", flush=True)
    if a.save_weights:
        save_weights(model, a.save_weights, {"seed": a.seed, "mode": a.mode, "epochs": a.epochs,
                                             "recipe": a.recipe})
        print(f"weights: {a.save_weights}")


def cmd_eval(a):
    torch.set_num_threads(a.threads)
    model = build_model(a.arch)
    load_weights(model, a.weights)
    data = Data(a.data, use_cache=not a.no_cache, need_train=False, geom=model.in_shape)
    print(json.dumps({"source_test_acc": accuracy(model, data.src_test, src_batch),
                      "target_test_acc": accuracy(model, data.tgt_test, tgt_batch),
                      "weights": a.weights}))


def cmd_predict(a):
    torch.set_num_threads(a.threads)
    model = build_model(a.arch)
    load_weights(model, a.weights)
    x, y = load_mnistm(a.data, not a.no_cache, model.in_shape)["test"]
    n = min(a.n, x.shape[0])
    logp = predict_logp(model, x[:n], tgt_batch)
    out = {"weights": a.weights, "dataset": "mnist-m test", "n": n,
           "pred": logp.argmax(dim=1).tolist(), "label": y[:n].tolist(),
           "logp": [[float(v) for v in row] for row in logp]}
    with open(a.out, "w") as f:
        json.dump(out, f)
    acc = sum(int(p == t) for p, t in zip(out["pred"], out["label"])) / max(1, n)
    print(f"predict: {n} MNIST-M test images, accuracy {acc:.4f} -> {a.out}")


def cmd_export_init(a):
    model = new_model(a.seed, a.arch)
    save_weights(model, a.out, {"seed": a.seed, "init": "pytorch-default"})
    print(f"export-init: seed {a.seed} -> {a.out} ({len(model.state_dict())} tensors)")


def cmd_bench(a):
    torch.set_num_threads(a.threads)
    g = torch.Generator()
    g.manual_seed(0)
    model = new_model(0, a.arch)
    C, H, W = model.in_shape
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    nll = nn.NLLLoss()

    def rnd(shape):
        return torch.randint(0, 256, shape, generator=g, dtype=torch.uint8)

    xs = src_batch(rnd((BATCH, 1, H, W)))
    xt = tgt_batch(rnd((BATCH, C, H, W)))
    ys = torch.randint(0, 10, (BATCH,), generator=g)
    model.train()
    times = []
    for k in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        train_step(model, opt, "dann", xs, ys, xt, None, 0.5, nll)
        if k >= a.warmup:
            times.append(time.perf_counter() - t0)

    eval_ips = {}
    for B in (256, 128):
        xe = tgt_batch(rnd((B, C, H, W)))
        model.eval()
        reps = max(1, a.steps)
        with torch.no_grad():
            for _ in range(a.warmup):
                model.classify(xe)
            t0 = time.perf_counter()
            for _ in range(reps):
                model.classify(xe)
            eval_ips[B] = B * reps / (time.perf_counter() - t0)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux
    res = {
        "train_step_s": statistics.median(times),
        "train_step_min_s": min(times),
        "train_step_max_s": max(times),
        "eval_images_per_s": eval_ips[256],
        "eval_images_per_s_b128": eval_ips[128],
        "peak_rss_mb": rss,
        "threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
        "steps": a.steps,
        "warmup": a.warmup,
    }
    if a.json:
        print(json.dumps(res))
    else:
        print(f"dann_torch bench ({a.arch}, torch {torch.__version__}, {res['threads']} threads)")
        print(f"  train step 128+128   median {res['train_step_s'] * 1e3:8.1f} ms   "
              f"min {res['train_step_min_s'] * 1e3:8.1f} ms   max {res['train_step_max_s'] * 1e3:8.1f} ms"
              f"   ({a.steps} steps after {a.warmup} warm-up)")
        print(f"  eval batch 256       {eval_ips[256]:10.0f} images/s")
        print(f"  eval batch 128       {eval_ips[128]:10.0f} images/s")
        print(f"  peak RSS             {rss:10.1f} MiB")


# --------------------------------------------------------------------------------------------
# Command line


def main(argv=None):
    ap = argparse.ArgumentParser(prog="dann_torch.py",
                                 description="PyTorch twin of `dann` (fungtion/DANN_py3).")
    sub = ap.add_subparsers(dest="cmd", required=True)

    def arch_arg(p):
        p.add_argument("--arch", default="py3",
                       help="network: a preset (%s) or a description (docs/NETWORKS.md); "
                            "default %%(default)s" % ", ".join(netdesc.PRESETS))

    def common_data(p):
        arch_arg(p)
        p.add_argument("--data", default="/work/shared/data",
                       help="folder holding mnist/ and mnist_m/ (default %(default)s)")
        p.add_argument("--threads", type=int, default=1)
        p.add_argument("--no-cache", action="store_true",
                       help="do not read or write the decoded MNIST-M cache under /tmp")

    p = sub.add_parser("train", help="train the model (one metrics line per epoch)")
    common_data(p)
    p.add_argument("--mode", choices=("dann", "source-only", "target-only"), default="dann")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", required=True, help="run folder; metrics.jsonl is appended there")
    p.add_argument("--max-steps", type=int, default=0,
                   help="cap the steps of every epoch (p then runs over the capped length)")
    p.add_argument("--recipe", choices=("py3", "paper"), default="py3",
                   help="py3: Adam, 128 + 128, fixed normalisation; paper: JMLR 2016 5.2.2 "
                        "(SGD momentum 0.9, annealed lr, 64 + 64, mean subtraction)")
    p.add_argument("--lr", type=float, default=None,
                   help="Adam's lr (py3, default 1e-3) or mu0 of the paper's schedule (0.01)")
    p.add_argument("--save-weights", help="write the final state_dict (safetensors)")
    p.add_argument("--init-weights", help="start from this state_dict (safetensors)")
    p.set_defaults(fn=cmd_train)

    p = sub.add_parser("bench", help="time a training step and eval throughput")
    arch_arg(p)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--json", action="store_true")
    p.set_defaults(fn=cmd_bench)

    p = sub.add_parser("export-init", help="write a freshly initialised state_dict")
    arch_arg(p)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("out")
    p.set_defaults(fn=cmd_export_init)

    p = sub.add_parser("eval", help="source/target test accuracy of saved weights (JSON)")
    common_data(p)
    p.add_argument("--weights", required=True)
    p.set_defaults(fn=cmd_eval)

    p = sub.add_parser("predict", help="argmax predictions on the first N MNIST-M test images")
    common_data(p)
    p.add_argument("--weights", required=True)
    p.add_argument("--n", type=int, default=256)
    p.add_argument("--out", required=True)
    p.set_defaults(fn=cmd_predict)

    a = ap.parse_args(argv)
    for name in ("threads", "epochs", "steps", "n"):
        if getattr(a, name, 1) is not None and getattr(a, name, 1) < 1:
            ap.error(f"--{name} must be at least 1")
    for name in ("max_steps", "warmup"):
        if getattr(a, name, 0) < 0:
            ap.error(f"--{name.replace('_', '-')} must not be negative")
    try:
        a.fn(a)
    except ToolError as e:
        print(f"dann_torch.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
