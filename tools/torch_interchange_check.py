"""torch_interchange_check.py - the PyTorch side of `dann export` / `dann import` for any network
(run by tests/test_interchange_presets.c when /usr/bin/python3 can import torch).

Usage: /usr/bin/python3 tools/torch_interchange_check.py DIR NAME...

For each NAME, DIR holds what the C test wrote:
  NAME.c.safetensors   `dann export` of a C model (metadata dann_net: its description)
  NAME.x.safetensors   x: inputs (B, C, H, W) or (B, D); logp: the C model's eval-mode class
                       log-probabilities of x
and this script
  1. builds the network of dann_net with tools/netdesc.py, loads the export with
     load_state_dict(strict=True) (every name, shape and dtype must match, nothing missing or
     extra) and checks its eval-mode log-probabilities of x against the C model's,
     |a-b| <= 1e-5 + 1e-4|b|;
  2. writes PyTorch-made weights for the same network (torch_made(net, 11): default
     initialisation, BatchNorm weights, biases, running statistics and counters moved off their
     defaults), saved as a plain state_dict (NAME.torch.safetensors, metadata format=pt only, as
     safetensors.torch.save_file writes it), with its eval-mode log-probabilities of x in
     NAME.torch_logp.safetensors, for the C test to import and compare.
Prints one line per network; exits 1 (after all of them) when a check failed.
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netdesc  # noqa: E402
import st  # noqa: E402

ATOL, RTOL = 1e-5, 1e-4


def worst(a, b):
    """max |a-b| and whether every element is within ATOL + RTOL |b|."""
    d = (a - b).abs()
    return d.max().item(), bool((d <= ATOL + RTOL * b.abs()).all())


def torch_made(net, seed):
    """The network of description net with PyTorch's default initialisation under
    torch.manual_seed(seed), and its BatchNorm layers moved off their defaults (weight 1 +
    0.2 N(0,1), bias and running_mean 0.1 N(0,1), running_var 0.5 + U(0,1), 7 batches tracked)."""
    torch.manual_seed(seed)
    model = netdesc.build(net)
    with torch.no_grad():
        for key, t in model.state_dict().items():
            if "_bn" not in key.split(".")[-2]:
                continue
            if key.endswith("num_batches_tracked"):
                t.fill_(7)
            elif key.endswith("running_var"):
                t.copy_(torch.rand_like(t) + 0.5)
            elif key.endswith("weight"):
                t.copy_(1 + 0.2 * torch.randn_like(t))
            else:  # bias, running_mean
                t.copy_(0.1 * torch.randn_like(t))
    return model


def check(d, name):
    sd, meta = st.load(os.path.join(d, name + ".c.safetensors"))
    xs, _ = st.load(os.path.join(d, name + ".x.safetensors"))
    net = meta.get("dann_net")
    if not net:
        return f"{name}: the export has no dann_net metadata"
    model = netdesc.build(net)
    try:
        model.load_state_dict(sd, strict=True)
    except RuntimeError as e:
        return f"{name}: load_state_dict(strict=True) refused the export: {' '.join(str(e).split())}"
    model.eval()
    with torch.no_grad():
        logp = model(xs["x"], 0.0)[0]
    w, ok = worst(logp, xs["logp"])
    print(f"  {name:12s} C export -> load_state_dict(strict=True): {len(sd)} tensors; eval log-probs "
          f"worst |a-b| {w:.3g}")
    if not ok:
        return f"{name}: torch's log-probabilities of the C export differ from C's (worst |a-b| {w:.3g})"

    mine = torch_made(net, 11)
    mine.eval()
    with torch.no_grad():
        logp = mine(xs["x"], 0.0)[0]
    st.save(mine.state_dict(), os.path.join(d, name + ".torch.safetensors"), {"format": "pt"})
    st.save({"logp": logp}, os.path.join(d, name + ".torch_logp.safetensors"))
    return None


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: torch_interchange_check.py DIR NAME...")
    torch.set_num_threads(1)
    failures = [f for f in (check(sys.argv[1], n) for n in sys.argv[2:]) if f]
    for f in failures:
        print("FAIL " + f, file=sys.stderr)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
