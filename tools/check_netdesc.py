"""check_netdesc.py - checks tools/netdesc.py (run by hand: /usr/bin/python3 tools/check_netdesc.py).

1. Every preset parses and prints back to its own text (the canonical form the C library's
   net_format writes), builds, and has the feature size docs/NETWORKS.md gives; descriptions
   written with other spacing and line breaks parse to the same network; bad descriptions fail
   with a one-line message naming the problem or the layer.
2. Every description in README.md and docs/*.md builds, and each
   ```dann-net PRESET block is that preset (tests/test_netdesc.c checks the same in C).
3. netdesc.build("py3") is the twin's hand-written CNNModel (fungtion/DANN_py3's model), taken
   from the last commit that had it (git show REF:tools/dann_torch.py, REF below): the same
   modules in the same order, the same state_dict names, shapes and dtypes, the same initial
   values under torch.manual_seed(s) for several s, and the same outputs of a training-mode
   forward (dropout draws included) and an eval-mode forward.
Exits non-zero on the first failure.
"""
import os
import re
import subprocess
import sys
import types

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netdesc  # noqa: E402

REF = "eab6902"  # the twin with its own CNNModel, before netdesc replaced it
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FEATURES = {"py3": 800, "paper-mnist": 768, "paper-svhn": 2048, "paper-gtsrb": 1024, "shallow": 15}


def fail(msg):
    sys.exit(f"check_netdesc: FAIL: {msg}")


def check_language():
    for name, text in netdesc.PRESETS.items():
        d = netdesc.parse(text)
        if d.text() != text:
            fail(f"{name}: prints back as {d.text()!r}")
        m = netdesc.build(name)
        if m.feature_dim != FEATURES[name]:
            fail(f"{name}: {m.feature_dim} features, NETWORKS.md says {FEATURES[name]}")
        print(f"  {name:12s} features {m.feature_dim:5d}  parameters {sum(p.numel() for p in m.parameters()):9d}"
              f"  state_dict {len(m.state_dict())} tensors")
    loose = ("in 3 x 28 x28 ;\n features : conv( 64 , 5 ) bn maxpool(2) relu conv(50,5) bn\n"
             " dropout2d(0.5) maxpool(2,stride=2) relu ; class: fc(100) bn relu dropout(.5) fc(100) "
             "bn relu fc(10); domain: fc(100) bn relu fc(2)")
    if netdesc.parse(loose).text() != netdesc.PRESETS["py3"]:
        fail(f"loose py3 text parses to {netdesc.parse(loose).text()!r}")
    bad = {
        "in 3x28; features: ; class: fc(10); domain: fc(2)": "the input is CxHxW",
        "in 3x28x28; features: conv(8); class: fc(10); domain: fc(2)": "conv takes 2 positional",
        "in 3x28x28; features: conv(8,3,step=2); class: fc(10); domain: fc(2)": "unknown argument 'step'",
        "in 3x28x28; features: pool(2); class: fc(10); domain: fc(2)": "unknown layer 'pool'",
        "in 3x28x28; features: maxpool(2,pad=2); class: fc(10); domain: fc(2)": "at most half the kernel",
        "in 3x28x28; features: dropout(1); class: fc(10); domain: fc(2)": "probability must be in [0, 1)",
        "in 3x28x28; features: relu; class: fc(10); domain: fc(2); more": "after the domain head",
        "in 3x28x28; class: fc(10); domain: fc(2)": "expected 'features:'",
        "in 3x8x8; features: conv(4,5) conv(4,5); class: fc(10); domain: fc(2)":
            "feature.f_conv2: kernel 5 larger than its 4x4 input",
        "in 20; features: fc(8) maxpool(2); class: fc(10); domain: fc(2)":
            "feature.f_pool1: max-pooling needs an image input",
        "in 3x8x8; features: relu; class: fc(10) relu; domain: fc(2)":
            "class_classifier.c_fc2: the class head must end in fc(N)",
        "in 3x8x8; features: relu; class: ; domain: fc(2)":
            "class_classifier.c_fc1: the class head must end in fc(N)",
        "in 3x8x8; features: relu; class: fc(10); domain: fc(3)":
            "domain_classifier.d_fc1: the domain head must end in fc(2)",
        "resnet50": "neither a preset",
        "in 3x28x28; features: ; class: fc(10); domain: fc(2)": "the feature extractor is empty",
        "in 3x28x28; features: conv(8,5); class: fc(1); domain: fc(2)": "at least 2 classes",
        "in 3x28x28; features: fc(65536) fc(65536); class: fc(10); domain: fc(2)":
            "feature.f_fc2: weight matrix too large",
    }
    for text, want in bad.items():
        try:
            netdesc.build(text)
        except netdesc.DescError as e:
            if want not in str(e) or "\n" in str(e):
                fail(f"{text!r}: message {str(e)!r} lacks {want!r}")
            continue
        fail(f"{text!r} was accepted")
    print(f"  {len(bad)} bad descriptions refused with the expected messages")


DOCS = {"README.md": 1, **{os.path.join("docs", f): {"NETWORKS.md": 15, "RECIPES.md": 1}.get(f, 0)
                          for f in sorted(os.listdir(os.path.join(ROOT, "docs"))) if f.endswith(".md")}}


def check_docs():
    """Every description in the docs builds (as tests/test_netdesc.c checks in C): fenced
    ```dann-net [PRESET [SHAPE] [CLASSES]] blocks (equal to that preset, adapted), `in ...` code
    spans and "in ..." strings (adjacent C strings joined)."""
    for path, least in DOCS.items():
        text = open(os.path.join(ROOT, path), encoding="utf-8").read()
        found = []
        for m in re.finditer(r"^```dann-net([^\n]*)\n(.*?)\n```", text, re.S | re.M):
            found.append((m.start(), m.group(2), m.group(1).split()))
        blocks = "".join(" " * len(m.group(0)) if m.group(0).startswith("```dann-net") else m.group(0)
                         for m in re.finditer(r"```dann-net.*?\n```|.", text, re.S))
        for m in re.finditer(r'"in \d[^"]*"(?:\s*"[^"]*")*|`in \d[^`]*`', blocks):
            found.append((m.start(), "".join(re.findall(r'"([^"]*)"', m.group(0))) or m.group(0)[1:-1], []))
        for at, desc, info in found:
            where = f"{path}:{text.count(chr(10), 0, at) + 1}"
            try:
                d = netdesc.build(desc).desc
            except netdesc.DescError as e:
                fail(f"{where}: the example does not build: {e}")
            if info:
                shape = tuple(int(v) for v in info[1].split("x")) if len(info) > 1 else None
                want = netdesc.resolve(info[0], shape, int(info[2]) if len(info) > 2 else None).text()
                if d.text() != want:
                    fail(f"{where}: the example is not {' '.join(info)}: {d.text()!r}")
        if len(found) < least:
            fail(f"{path}: {len(found)} descriptions found, expected at least {least}")
        if found:
            print(f"  {path}: {len(found)} descriptions, all build")


def reference_model_class():
    src = subprocess.run(["git", "-C", ROOT, "show", f"{REF}:tools/dann_torch.py"], check=True,
                         capture_output=True, text=True).stdout
    mod = types.ModuleType("dann_torch_ref")
    mod.__file__ = os.path.join(ROOT, "tools", "dann_torch_ref.py")  # for its sys.path line
    exec(compile(src, f"{REF}:tools/dann_torch.py", "exec"), mod.__dict__)
    return mod.CNNModel


def check_py3():
    CNNModel = reference_model_class()
    for seed in (1, 7, 123):
        torch.manual_seed(seed)
        ref = CNNModel()
        torch.manual_seed(seed)
        net = netdesc.build("py3")
        if [n for n, _ in ref.named_modules()] != [n for n, _ in net.named_modules()]:
            fail("py3: the modules differ from CNNModel's")
        sr, sn = ref.state_dict(), net.state_dict()
        if list(sr) != list(sn):
            first = next(i for i, (a, b) in enumerate(zip(list(sr) + [None], list(sn) + [None])) if a != b)
            fail(f"py3: state_dict entry {first} is {(list(sn) + [None])[first]}, CNNModel has "
                 f"{(list(sr) + [None])[first]}")
        for k in sr:
            if sr[k].shape != sn[k].shape or sr[k].dtype != sn[k].dtype or not torch.equal(sr[k], sn[k]):
                fail(f"py3: seed {seed}: {k} differs from CNNModel's")
        g = torch.Generator()
        g.manual_seed(seed)
        xs, xt = torch.randn(8, 1, 28, 28, generator=g), torch.randn(8, 3, 28, 28, generator=g)
        outs = []
        for m in (ref, net):
            torch.manual_seed(1000 + seed)
            m.train()
            o = list(m(xs, 0.3)) + list(m(xt, 0.3))
            m.eval()
            with torch.no_grad():
                o += list(m(xt, 0.0))
            outs.append(o)
        if not all(torch.equal(a, b) for a, b in zip(*outs)):
            fail(f"py3: seed {seed}: forward outputs differ from CNNModel's")
    print(f"  py3 == CNNModel of {REF}:tools/dann_torch.py: modules, {len(sr)} state_dict tensors, "
          "initial values (seeds 1, 7, 123), train- and eval-mode outputs")


def main():
    torch.set_num_threads(1)
    check_language()
    check_docs()
    check_py3()
    print("check_netdesc: all checks passed")


if __name__ == "__main__":
    main()
