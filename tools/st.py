"""st.py - read and write the safetensors format with nothing but the standard library and torch.

Format: 8-byte little-endian header length N, N bytes of JSON
{"name": {"dtype": "F32"|"I64"|"I32"|"U8", "shape": [...], "data_offsets": [begin, end]}, ...,
 "__metadata__": {str: str}}, then the raw little-endian tensor bytes (offsets relative to the end
of the header). Debian has no safetensors package; this is the whole format.
"""
import json
import struct

import torch

_DTYPES = {torch.float32: "F32", torch.int64: "I64", torch.int32: "I32", torch.uint8: "U8"}
_TORCH = {v: k for k, v in _DTYPES.items()}


def save(tensors, path, metadata=None):
    """Writes an ordered dict name -> tensor (contiguous CPU copies are made)."""
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().cpu().contiguous()
        raw = t.numpy().tobytes()
        header[name] = {"dtype": _DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    js = json.dumps(header, separators=(",", ":")).encode()
    js += b" " * (-len(js) % 8)  # align the data to 8 bytes, as the reference writer does
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(js)))
        f.write(js)
        for b in blobs:
            f.write(b)


def load(path):
    """Returns (dict name -> tensor in file order, metadata dict)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    out = {}
    for name, h in header.items():
        b, e = h["data_offsets"]
        dt = _TORCH[h["dtype"]]
        t = torch.frombuffer(bytearray(data[base + b:base + e]), dtype=dt) if e > b else torch.empty(0, dtype=dt)
        out[name] = t.reshape(h["shape"]).clone()
    return out, meta
