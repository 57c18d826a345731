"""netdesc.py - the network description language of docs/NETWORKS.md on the PyTorch side.

parse(text) reads a description ("in 3x28x28; features: conv(64,5) bn ...; class: ...; domain:
...") into a NetDesc; resolve(arch) takes a preset name or a description; build(arch) returns the
matching nn.Module, a DANNNet with the state_dict names of NETWORKS.md (feature.f_conv1.weight,
class_classifier.c_fc3.bias, domain_classifier.d_bn1.running_var, ...):

  - layers are named by section and kind, each kind counted from 1 within its section (kinds
    conv, fc, bn, pool, relu, sigmoid, drop); each head ends in a LogSoftmax module (c_softmax,
    d_softmax), which holds no state;
  - forward(x, alpha) runs the features, the class head on them, and the domain head behind the
    gradient reversal layer (ReverseLayerF): both heads return log-probabilities. A one-channel
    batch is expanded to the network's channels (.expand, as DANN_py3 does for MNIST). A 3-D
    feature map is flattened (x.view(B, -1)) before the first fc that reads it, in whichever
    section that fc sits;
  - modules are created in description order, so torch.manual_seed(s) gives PyTorch's default
    initialisation in the same draw order as a hand-written model: build("py3") reproduces
    fungtion/DANN_py3's CNNModel tensor for tensor (tools/check_netdesc.py checks it).

dropout(p, channel) is an optional factory for the dropout modules (tools/make_fixtures.py and
tools/make_net_fixtures.py pass RecordingDropout to record torch's masks); channel is True for
dropout2d on an image (nn.Dropout2d) and False for element-wise dropout (nn.Dropout, also for
dropout2d on a vector, which torch 1.13 drops element by element with the same draws).
"""
import re

import torch
import torch.nn as nn
import torch.nn.functional as F

PRESETS = {
    "py3": "in 3x28x28; features: conv(64,5) bn maxpool(2) relu conv(50,5) bn dropout2d(0.5) "
           "maxpool(2) relu; class: fc(100) bn relu dropout(0.5) fc(100) bn relu fc(10); "
           "domain: fc(100) bn relu fc(2)",
    "paper-mnist": "in 3x28x28; features: conv(32,5) relu maxpool(2) conv(48,5) relu maxpool(2); "
                   "class: fc(100) relu fc(100) relu fc(10); domain: fc(100) relu fc(2)",
    "paper-svhn": "in 3x32x32; features: conv(64,5) relu maxpool(3,stride=2) conv(64,5) relu "
                  "maxpool(3,stride=2) conv(128,5,pad=2) dropout2d(0.5) relu; class: fc(3072) "
                  "relu fc(2048) relu fc(10); domain: fc(1024) relu fc(1024) relu fc(2)",
    "paper-gtsrb": "in 3x40x40; features: conv(96,5) relu maxpool(2) conv(144,3) relu maxpool(2) "
                   "conv(256,5) relu maxpool(2); class: fc(512) relu fc(43); "
                   "domain: fc(1024) relu fc(1024) relu fc(2)",
    "shallow": "in 2; features: fc(15) sigmoid; class: fc(2); domain: fc(2)",
}

SECTIONS = ("features", "class", "domain")
MODULES = ("feature", "class_classifier", "domain_classifier")
KINDS = ("conv", "maxpool", "fc", "bn", "relu", "sigmoid", "dropout", "dropout2d")
NAME_KIND = {"conv": "conv", "maxpool": "pool", "fc": "fc", "bn": "bn", "relu": "relu",
             "sigmoid": "sigmoid", "dropout": "drop", "dropout2d": "drop"}
NPOS = {"conv": 2, "maxpool": 1, "fc": 1, "dropout": 1, "dropout2d": 1}
MAX_SIZE, MAX_KERNEL = 65536, 64


class DescError(ValueError):
    """A description that does not parse or whose shapes do not fit (one line, names the layer)."""


class Layer:
    """One layer: kind and its arguments (n: conv channels / fc width; k: kernel; p: dropout)."""

    def __init__(self, kind, n=0, k=0, stride=1, pad=0, p=0.0):
        self.kind, self.n, self.k, self.stride, self.pad, self.p = kind, n, k, stride, pad, p

    def text(self):
        if self.kind == "conv":
            extra = (f",stride={self.stride}" if self.stride != 1 else "") + (f",pad={self.pad}" if self.pad else "")
            return f"conv({self.n},{self.k}{extra})"
        if self.kind == "maxpool":
            extra = (f",stride={self.stride}" if self.stride != self.k else "") + (f",pad={self.pad}" if self.pad else "")
            return f"maxpool({self.k}{extra})"
        if self.kind == "fc":
            return f"fc({self.n})"
        if self.kind in ("dropout", "dropout2d"):
            return f"{self.kind}({self.p!r})"  # repr: the shortest decimal that reads back
        return self.kind


class NetDesc:
    """The input shape (C, H, W), or (D,) for a feature vector, and the three layer lists."""

    def __init__(self, shape, sections):
        self.shape, self.sections = tuple(shape), [list(s) for s in sections]

    @property
    def vec(self):
        return len(self.shape) == 1

    def text(self):
        """The canonical one-line text (as the C library's net_format writes it)."""
        s = "in " + "x".join(str(v) for v in self.shape)
        for name, layers in zip(SECTIONS, self.sections):
            s += f"; {name}:" + "".join(" " + l.text() for l in layers)
        return s


_TOKEN = re.compile(r"\s*(?:(?P<num>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)|(?P<word>[A-Za-z_][A-Za-z0-9_-]*)|(?P<sym>[;:(),=x]))")


def _int(v, lo, hi, what):
    if v != int(v) or not lo <= v <= hi:
        raise DescError(f"network description: {what} must be a whole number in {lo}..{hi}, got {v:g}")
    return int(v)


def _parse_layer(kind, pos, named, where):
    if kind not in KINDS:
        raise DescError(f"network description, {where}: unknown layer '{kind}' ({', '.join(KINDS)})")
    want = NPOS.get(kind, 0)
    if len(pos) != want:
        raise DescError(f"network description, {where}: {kind} takes {want} positional "
                        f"argument{'' if want == 1 else 's'}, got {len(pos)}")
    for key in named:
        if key not in ("stride", "pad") or kind not in ("conv", "maxpool"):
            raise DescError(f"network description, {where}: {kind}: unknown argument '{key}'")
    if kind == "conv":
        return Layer("conv", n=_int(pos[0], 1, MAX_SIZE, "conv channels"), k=_int(pos[1], 1, MAX_KERNEL, "conv kernel"),
                     stride=_int(named.get("stride", 1), 1, MAX_KERNEL, "stride"),
                     pad=_int(named.get("pad", 0), 0, MAX_KERNEL, "pad"))
    if kind == "maxpool":
        k = _int(pos[0], 1, MAX_KERNEL, "maxpool kernel")
        layer = Layer("maxpool", k=k, stride=_int(named.get("stride", k), 1, MAX_KERNEL, "stride"),
                      pad=_int(named.get("pad", 0), 0, MAX_KERNEL, "pad"))
        if 2 * layer.pad > k:
            raise DescError(f"network description, {where}: maxpool: pad must be at most half the kernel")
        return layer
    if kind == "fc":
        return Layer("fc", n=_int(pos[0], 1, MAX_SIZE, "fc width"))
    if kind in ("dropout", "dropout2d"):
        if not 0 <= pos[0] < 1:
            raise DescError(f"network description, {where}: dropout probability must be in [0, 1)")
        return Layer(kind, p=float(pos[0]))
    return Layer(kind)


def parse(text):
    """A description -> NetDesc (syntax only; build() checks the shapes)."""
    toks, at = [], 0
    while at < len(text):
        m = _TOKEN.match(text, at)
        if not m or m.end() == at:
            if text[at:].strip() == "":
                break
            raise DescError(f"network description: unexpected '{text[at:at + 20].strip()}'")
        at = m.end()
        if m.group("num") is not None:
            toks.append(("num", float(m.group("num"))))
        elif m.group("word") is not None:
            w = m.group("word").lower()
            # "3x28x28" scans as 3, x28x28: split the x-separated sizes
            if w == "x":
                toks.append(("sym", "x"))
            elif re.fullmatch(r"x\d+(x\d+)*", w) and toks and toks[-1][0] == "num":
                for part in w[1:].split("x"):
                    toks.extend([("sym", "x"), ("num", float(part))])
            else:
                toks.append(("word", w))
        else:
            toks.append(("sym", m.group("sym")))
    toks.append(("end", None))
    i = 0

    def peek():
        return toks[i]

    def take(kind, value=None, what=None):
        nonlocal i
        t = toks[i]
        if t[0] != kind or (value is not None and t[1] != value):
            near = "end of text" if t[0] == "end" else str(t[1])
            raise DescError(f"network description: expected {what or value or kind} near '{near}'")
        i += 1
        return t[1]

    if peek() != ("word", "in"):
        raise DescError(f"'{text[:24]}' is neither a preset ({', '.join(PRESETS)}) nor a network "
                        "description (starting 'in CxHxW;', see docs/NETWORKS.md)")
    i += 1
    shape = [take("num", what="the input shape (CxHxW or D)")]
    while peek() == ("sym", "x"):
        i += 1
        shape.append(take("num", what="a size after 'x'"))
    if len(shape) not in (1, 3):
        raise DescError("network description: the input is CxHxW (an image) or D (a vector)")
    shape = [_int(v, 1, MAX_SIZE, "an input size") for v in shape]
    sections = []
    for sec in SECTIONS:
        take("sym", ";", what="';'")
        take("word", sec, what=f"'{sec}:'")
        take("sym", ":", what=f"'{sec}:'")
        layers = []
        while peek()[0] == "word":
            kind = take("word")
            pos, named = [], {}
            if peek() == ("sym", "("):
                i += 1
                while True:
                    if peek()[0] == "word":
                        key = take("word")
                        take("sym", "=", what="'=' after an argument name")
                        named[key] = take("num", what="a number")
                    else:
                        if named:
                            raise DescError(f"network description, {sec}: positional argument after a named one")
                        pos.append(take("num", what="a number"))
                    if peek() == ("sym", ","):
                        i += 1
                        continue
                    take("sym", ")", what="',' or ')'")
                    break
            layers.append(_parse_layer(kind, pos, named, sec))
        sections.append(layers)
    if peek()[0] != "end":
        raise DescError(f"network description: unexpected '{peek()[1]}' after the domain head")
    return NetDesc(shape, sections)


def resolve(arch, shape=None, n_classes=None):
    """A preset name or a description -> NetDesc. For a preset, shape (the input) and n_classes
    (the class head's last fc) may be changed to fit the data, as the C library does."""
    if arch in PRESETS:
        d = parse(PRESETS[arch])
        if shape is not None:
            d.shape = tuple(shape)
        if n_classes is not None:
            d.sections[1][-1] = Layer("fc", n=int(n_classes))
        return d
    return parse(arch)


class ReverseLayerF(torch.autograd.Function):
    """Gradient reversal: identity forward; backward multiplies the gradient by -alpha."""

    @staticmethod
    def forward(ctx, x, alpha):
        ctx.alpha = alpha
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output.neg() * ctx.alpha, None


class Section(nn.Sequential):
    """nn.Sequential that flattens a 3-D map (x.view(B, -1)) before each Linear."""

    def forward(self, x):
        for m in self:
            if isinstance(m, nn.Linear) and x.dim() > 2:
                x = x.view(x.shape[0], -1)
            x = m(x)
        return x


class RecordingDropout(nn.Module):
    """Dropout (channel=False) or Dropout2d (channel=True) that appends the mask torch drew to log
    as U8 keep flags, one per unit: per (b, c) channel for Dropout2d, per element otherwise.
    The mask is recovered by replaying the generator on an all-ones tensor and checked against
    the real output."""

    def __init__(self, p, channel, log):
        super().__init__()
        self.p, self.channel, self.log = p, channel, log

    def forward(self, x):
        if not self.training:
            return x
        fn = F.dropout2d if self.channel else F.dropout
        state = torch.get_rng_state()
        ones = fn(torch.ones_like(x), self.p, training=True)
        torch.set_rng_state(state)
        y = fn(x, self.p, training=True)
        mask = ones[:, :, 0, 0] if self.channel else ones
        if self.channel:
            assert torch.equal(ones, mask[:, :, None, None].expand_as(ones)), "not channel-wise"
        assert torch.equal(y, x * ones), "dropout mask replay differs from torch's draw"
        self.log.append((mask > 0).to(torch.uint8))
        return y


def _default_dropout(p, channel):
    return nn.Dropout2d(p) if channel else nn.Dropout(p)


class DANNNet(nn.Module):
    """The DANN network of a description: feature -> class_classifier; GRL -> domain_classifier."""

    def __init__(self, desc, dropout=None):
        super().__init__()
        dropout = dropout or _default_dropout
        self.desc = desc
        self.in_shape = desc.shape
        shape = desc.shape  # (C, H, W) or (D,)
        self.feature_dim = None
        if not desc.sections[0]:
            raise DescError("network description: the feature extractor is empty")
        for si, (mod, layers) in enumerate(zip(MODULES, desc.sections)):
            seq = Section()
            letter, count = mod[0], {}
            if si > 0:
                shape = self.feature_shape
            for li, l in enumerate(layers):
                kind = NAME_KIND[l.kind]
                count[kind] = count.get(kind, 0) + 1
                name = f"{letter}_{kind}{count[kind]}"
                full = f"{mod}.{name}"
                seq.add_module(name, self._module(l, shape, full, dropout))
                shape = self._out_shape(l, shape, full)
            if si == 0:
                self.feature_shape = shape
                self.feature_dim = _numel(shape)
            else:
                head = "class" if si == 1 else "domain"
                if not layers or layers[-1].kind != "fc":
                    raise DescError(f"{mod}.{letter}_fc{count.get('fc', 0) + 1}: the {head} head must end in fc(N)")
                if si == 2 and layers[-1].n != 2:
                    raise DescError(f"{mod}.{letter}_fc{count['fc']}: the domain head must end in fc(2)")
                if si == 1 and layers[-1].n < 2:
                    raise DescError("network description: the class head needs at least 2 classes")
                seq.add_module(f"{letter}_softmax", nn.LogSoftmax(dim=1))
                if si == 1:
                    self.n_classes = layers[-1].n
            setattr(self, mod, seq)

    @staticmethod
    def _module(l, shape, full, dropout):
        img = len(shape) == 3
        if l.kind == "conv":
            if not img:
                raise DescError(f"{full}: a convolution needs an image input (its input is a vector of {shape[0]})")
            return nn.Conv2d(shape[0], l.n, kernel_size=l.k, stride=l.stride, padding=l.pad)
        if l.kind == "maxpool":
            if not img:
                raise DescError(f"{full}: max-pooling needs an image input (its input is a vector of {shape[0]})")
            return nn.MaxPool2d(l.k, stride=l.stride, padding=l.pad)
        if l.kind == "fc":
            if _numel(shape) * l.n > 1 << 31:  # the C library's limit (src/model/netplan.c)
                raise DescError(f"{full}: weight matrix too large (its input is "
                                + ("a vector of %d)" % shape[0] if len(shape) == 1 else "%dx%dx%d)" % shape))
            return nn.Linear(_numel(shape), l.n)
        if l.kind == "bn":
            return nn.BatchNorm2d(shape[0]) if img else nn.BatchNorm1d(shape[0])
        if l.kind == "relu":
            return nn.ReLU(True)
        if l.kind == "sigmoid":
            return nn.Sigmoid()
        return dropout(l.p, l.kind == "dropout2d" and img)

    @staticmethod
    def _out_shape(l, shape, full):
        if l.kind in ("conv", "maxpool"):
            C, H, W = shape
            if l.k > H + 2 * l.pad or l.k > W + 2 * l.pad:
                raise DescError(f"{full}: kernel {l.k} larger than its {H}x{W} input"
                                + (f" padded by {l.pad}" if l.pad else ""))
            OH, OW = (H + 2 * l.pad - l.k) // l.stride + 1, (W + 2 * l.pad - l.k) // l.stride + 1
            return (l.n if l.kind == "conv" else C, OH, OW)
        if l.kind == "fc":
            return (l.n,)
        return shape

    def _input(self, x):
        if len(self.in_shape) == 3 and x.dim() == 4 and x.shape[1] == 1 and self.in_shape[0] > 1:
            x = x.expand(x.shape[0], self.in_shape[0], x.shape[2], x.shape[3])
        return x

    def features(self, x):
        f = self.feature(self._input(x))
        return f.view(f.shape[0], -1)

    def forward(self, input_data, alpha):
        feature = self.features(input_data)
        reverse_feature = ReverseLayerF.apply(feature, alpha)
        return self.class_classifier(feature), self.domain_classifier(reverse_feature)

    def classify(self, input_data):
        """Feature extractor + class head only (eval, source-only and target-only training)."""
        return self.class_classifier(self.features(input_data))


def _numel(shape):
    n = 1
    for v in shape:
        n *= v
    return n


def build(arch, dropout=None, shape=None, n_classes=None):
    """The nn.Module of a preset name or a description (DescError when it does not parse or fit)."""
    return DANNNet(resolve(arch, shape, n_classes), dropout)
