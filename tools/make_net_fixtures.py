"""make_net_fixtures.py - PyTorch fixtures for the layers of described networks (docs/NETWORKS.md).

Usage: /usr/bin/python3 tools/make_net_fixtures.py tests/fixtures   (part of `make fixtures`)

Writes (float32, torch.manual_seed fixed, one thread, so reruns give the same bytes):
  torch_net_layers.safetensors  convolution with stride and padding, max-pool with any kernel,
      stride and padding, sigmoid, and Linear on a sparse input, at small odd shapes: inputs,
      parameters, outputs, a random upstream gradient and torch autograd's gradients
      (tests/test_torch_net_layers.c). Tensors are named "<case>.<what>"; "<case>.dims" holds
      the shape and layer arguments as int32.
"""
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402


def net_layer_fixtures():
    g = {}

    def put(case, **kw):
        for k, v in kw.items():
            g[f"{case}.{k}"] = v.detach().clone()

    def grads(out, dout, *xs):
        return torch.autograd.grad(out, xs, dout)

    def conv(case, B, C, H, W, OC, K, stride, pad):
        x = torch.randn(B, C, H, W, requires_grad=True)
        bound = 1 / math.sqrt(C * K * K)
        w = ((torch.rand(OC, C, K, K) * 2 - 1) * bound).requires_grad_()
        b = ((torch.rand(OC) * 2 - 1) * bound).requires_grad_()
        y = F.conv2d(x, w, b, stride=stride, padding=pad)
        dy = torch.randn_like(y)
        dx, dw, db = grads(y, dy, x, w, b)
        put(case, dims=torch.tensor([B, C, H, W, OC, K, stride, pad], dtype=torch.int32), inp=x,
            w=w, b=b, out=y, dout=dy, dinp=dx, dw=dw, db=db)

    conv("convg_s1p1", 2, 3, 7, 9, 4, 3, 1, 1)
    conv("convg_s1p2", 2, 4, 6, 5, 3, 5, 1, 2)   # paper-svhn's third convolution, small
    conv("convg_s2p1", 2, 3, 9, 8, 2, 3, 2, 1)
    conv("convg_s3p0", 1, 2, 7, 10, 3, 4, 3, 0)  # the floor drops the last row and columns
    conv("convg_s2k1", 2, 2, 5, 5, 2, 1, 2, 0)
    conv("convg_s2p2_full", 2, 2, 3, 4, 3, 5, 2, 2)  # K = H + 2 pad - 2: windows mostly margin

    def pool(case, B, C, H, W, K, stride, pad, kind="randn"):
        if kind == "ties":
            x = torch.randint(0, 3, (B, C, H, W)).float()
        else:
            x = torch.randn(B, C, H, W)
        if kind == "nan":
            x.view(-1)[::7] = float("nan")
        x.requires_grad_()
        y, idx = F.max_pool2d(x, K, stride, pad, return_indices=True)
        dy = torch.randn_like(y)
        put(case, dims=torch.tensor([B, C, H, W, K, stride, pad], dtype=torch.int32), inp=x,
            out=y, argmax=idx.to(torch.int32), dout=dy)
        if kind != "nan":
            (dx,) = grads(y, dy, x)
            put(case, dinp=dx)

    pool("pool_k3s2", 2, 3, 9, 8, 3, 2, 0)       # overlapping windows (paper-svhn)
    pool("pool_k3s2p1", 2, 2, 7, 6, 3, 2, 1)     # padding with stride
    pool("pool_k2s2p1", 2, 2, 5, 4, 2, 2, 1)     # corner windows hold one plane element
    pool("pool_k3s1p1", 1, 2, 6, 7, 3, 1, 1)     # every element in up to 9 windows
    pool("pool_k4s3p2", 2, 1, 5, 7, 4, 3, 2)
    pool("pool_ties", 2, 2, 7, 7, 3, 2, 1, "ties")  # integer values: ties to the first element
    pool("pool_nan", 1, 2, 6, 6, 3, 2, 1, "nan")    # a NaN wins its windows (forward only)

    x = torch.randn(5, 13) * 4
    x[0, :6] = torch.tensor([-100.0, -30.0, -17.0, 17.0, 30.0, 100.0])
    x.requires_grad_()
    y = torch.sigmoid(x)
    dy = torch.randn_like(y)
    (dx,) = grads(y, dy, x)
    put("sigmoid", inp=x, out=y, dout=dy, dinp=dx)

    def sparse(case, B, IN, OUT, density):
        keep = torch.rand(B, IN) < density
        keep[1] = False  # an empty row
        x = torch.where(keep, torch.randn(B, IN), torch.zeros(B, IN))
        bound = 1 / math.sqrt(IN)
        w = ((torch.rand(OUT, IN) * 2 - 1) * bound).requires_grad_()
        b = ((torch.rand(OUT) * 2 - 1) * bound).requires_grad_()
        y = F.linear(x, w, b)
        dy = torch.randn_like(y)
        dw, db = grads(y, dy, w, b)
        nz = keep.nonzero()  # row-major order: the CSR order
        rowptr = torch.zeros(B + 1, dtype=torch.int64)
        rowptr[1:] = torch.cumsum(keep.sum(1), 0)
        put(case, rowptr=rowptr, col=nz[:, 1].to(torch.int32), val=x[keep], w=w, b=b, out=y,
            dout=dy, dw=dw, db=db)

    sparse("sparse_a", 6, 50, 9, 0.2)
    sparse("sparse_b", 4, 300, 3, 0.05)
    return g


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_net_fixtures.py OUTDIR")
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    torch.set_num_threads(1)
    torch.manual_seed(20240901)
    path = os.path.join(outdir, "torch_net_layers.safetensors")
    st.save(net_layer_fixtures(), path, {"tolerance": "1e-5 + 1e-4|b|", "torch": torch.__version__})
    print(f"{path}: {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
