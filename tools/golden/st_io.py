"""Minimal safetensors writer/reader (no `safetensors` package needed).

File layout: 8-byte little-endian header length N, N bytes of JSON header
({name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}),
padded with spaces to a multiple of 8, then the raw little-endian tensor data.
"""
import json
import struct

import numpy as np

DTYPE_BYTES = {"F32": 4, "F16": 2, "BF16": 2, "F64": 8}


def f32_to_bf16_bits(a):
    """float32 array -> uint16 bf16 bit patterns, round to nearest even (finite inputs)."""
    u = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounding = np.uint64(0x7FFF) + ((u >> np.uint64(16)) & np.uint64(1))
    return ((u + rounding) >> np.uint64(16)).astype(np.uint16)


def bf16_bits_to_f32(bits):
    return (bits.astype(np.uint32) << np.uint32(16)).view(np.float32)


def round_to_dtype(a, dtype):
    """Round a float64 array to the storage dtype; return (float64 values, raw bytes)."""
    a32 = np.asarray(a, dtype=np.float64).astype(np.float32)
    if dtype == "F32":
        stored = a32
        raw = a32.astype("<f4").tobytes()
    elif dtype == "F16":
        h = a32.astype(np.float16)
        stored = h.astype(np.float32)
        raw = h.astype("<f2").tobytes()
    elif dtype == "BF16":
        bits = f32_to_bf16_bits(a32)
        stored = bf16_bits_to_f32(bits)
        raw = bits.astype("<u2").tobytes()
    else:
        raise ValueError(dtype)
    return stored.astype(np.float64), raw


def _header(entries, metadata):
    """entries: (name, dtype, shape, byte length) in file order -> the 8-byte length + JSON header."""
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    offset = 0
    for name, dtype, shape, size in entries:
        n = int(np.prod(shape)) if len(shape) else 1
        assert size == n * DTYPE_BYTES[dtype], name
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * ((8 - len(hjson) % 8) % 8)
    return struct.pack("<Q", len(hjson)) + hjson


def encode_file(tensors, metadata=None):
    """tensors: list of (name, dtype, shape, raw bytes), written in the given order."""
    return _header([(n, d, s, len(raw)) for n, d, s, raw in tensors], metadata) + b"".join(t[3] for t in tensors)


def write_file(path, tensors, metadata=None):
    """Streams a file too large to hold in memory: tensors is a list of (name, dtype, shape, chunks)
    where chunks() yields the tensor's raw bytes piece by piece."""
    entries = [(n, d, s, (int(np.prod(s)) if len(s) else 1) * DTYPE_BYTES[d]) for n, d, s, _ in tensors]
    with open(path, "wb") as f:
        f.write(_header(entries, metadata))
        for (name, _, _, size), (_, _, _, chunks) in zip(entries, tensors):
            written = 0
            for piece in chunks():
                f.write(piece)
                written += len(piece)
            assert written == size, name


def read_file(path, dtype=np.float64):
    """Returns {name: numpy array of `dtype`} (F16/BF16/F32 are exact in float32 and float64)."""
    data = np.memmap(path, dtype=np.uint8, mode="r")  # tensors are copied out one at a time
    (n,) = struct.unpack("<Q", data[:8].tobytes())
    header = json.loads(data[8 : 8 + n].tobytes())
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        raw = data[base + b : base + e]
        dt = info["dtype"]
        if dt == "F32":
            arr = np.frombuffer(raw, dtype="<f4").astype(dtype)
        elif dt == "F16":
            arr = np.frombuffer(raw, dtype="<f2").astype(dtype)
        elif dt == "BF16":
            arr = bf16_bits_to_f32(np.frombuffer(raw, dtype="<u2")).astype(dtype)
        elif dt == "F64":
            arr = np.frombuffer(raw, dtype="<f8").astype(dtype)
        elif dt in ("I64", "I32", "I16", "I8", "U8", "BOOL"):  # e.g. position_ids buffers; not used
            continue
        else:
            raise ValueError(dt)
        out[name] = arr.reshape(info["shape"])
    return out
