#!/usr/bin/env python3
"""Writes the PyTorch-checkpoint test files of tests/FastIF.Tests/Weights/data/ (run once at authoring time; the tests
never run Python). No torch is installed here, so torch.save's format is reproduced with Python's own pickle module
and zipfile, following torch/serialization.py `_save`: a zip (stored, not deflated) holding `<archive>/data.pkl`
(pickle protocol 2 of the state dict; tensors reduce to torch._utils._rebuild_tensor_v2(storage, offset, size, stride,
requires_grad, backward_hooks); storages are persistent ids ('storage', torch.<Type>Storage, key, location, numel)),
`<archive>/byteorder` ("little"), `<archive>/data/<key>` (raw little-endian storage bytes) and `<archive>/version`.
The pickle bytes are therefore what Python's pickler emits for the same reduce values torch produces.

    python3 tools/testdata/make_torch_bins.py tests/FastIF.Tests/Weights/data
"""
import collections, io, os, pickle, struct, sys, types, zipfile

torch = types.ModuleType("torch")
utils = types.ModuleType("torch._utils")
sys.modules["torch"], sys.modules["torch._utils"] = torch, utils


def _rebuild_tensor_v2(*args):
    raise RuntimeError("never called: only pickled")


_rebuild_tensor_v2.__module__ = "torch._utils"
utils._rebuild_tensor_v2 = _rebuild_tensor_v2
for name in ["FloatStorage", "HalfStorage", "BFloat16Storage", "LongStorage"]:
    cls = type(name, (), {"__module__": "torch"})
    cls.__qualname__ = name
    setattr(torch, name, cls)

ELEM = {"FloatStorage": ("<f", 4), "HalfStorage": ("<e", 2), "LongStorage": ("<q", 8), "BFloat16Storage": (None, 2)}


class Storage:
    def __init__(self, kind, key, values):
        self.kind, self.key, self.values = kind, key, values

    def raw(self):
        fmt, _ = ELEM[self.kind]
        if fmt is None:  # bfloat16: the upper half of each float32 (these values are exact in bf16)
            return b"".join(struct.pack("<f", v)[2:] for v in self.values)
        return b"".join(struct.pack(fmt, v) for v in self.values)


class Tensor:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def __reduce_ex__(self, protocol):
        return (_rebuild_tensor_v2, (self.storage, self.offset, self.size, self.stride, False, collections.OrderedDict()))


class TorchPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", getattr(torch, obj.kind), obj.key, "cpu", len(obj.values))
        return None


def save(path, state, storages, archive="archive"):
    buf = io.BytesIO()
    TorchPickler(buf, protocol=2).dump(state)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr(f"{archive}/data.pkl", buf.getvalue())
        z.writestr(f"{archive}/byteorder", "little")
        for s in sorted(storages, key=lambda s: s.key):
            z.writestr(f"{archive}/data/{s.key}", s.raw())
        z.writestr(f"{archive}/version", "3\n")


def main(out):
    os.makedirs(out, exist_ok=True)
    f32 = Storage("FloatStorage", "0", [i * 0.5 - 1 for i in range(6)])                 # a.weight [2, 3]
    f16 = Storage("HalfStorage", "1", [0.25, -1.5, 3.0, 1024.0])                         # b.bias [4]
    bf16 = Storage("BFloat16Storage", "2", [1.0, -2.0, 0.5, 96.0])                       # c.emb [2, 2]
    i64 = Storage("LongStorage", "3", [7, -1, 2**40])                                    # ids [3]
    shared = Storage("FloatStorage", "4", [float(i) for i in range(6)])                  # two views of one storage
    t = Storage("FloatStorage", "5", [float(10 * r + c) for r in range(2) for c in range(3)])  # [2, 3] row-major
    state = collections.OrderedDict()
    state["a.weight"] = Tensor(f32, 0, [2, 3], [3, 1])
    state["b.bias"] = Tensor(f16, 0, [4], [1])
    state["c.emb"] = Tensor(bf16, 0, [2, 2], [2, 1])
    state["ids"] = Tensor(i64, 0, [3], [1])
    state["shared.first"] = Tensor(shared, 0, [2], [1])
    state["shared.rest"] = Tensor(shared, 2, [2, 2], [2, 1])
    state["transposed"] = Tensor(t, 0, [3, 2], [1, 3])                                   # t.T: non-contiguous
    state._metadata = collections.OrderedDict([("", {"version": 1})])                    # what state_dict() attaches
    save(os.path.join(out, "state_dict.bin"), state, [f32, f16, bf16, i64, shared, t])

    # A diffusers-style shard pair with an index (pytorch_model.bin.index.json naming).
    s1 = Storage("FloatStorage", "0", [1.0, 2.0, 3.0, 4.0])
    s2 = Storage("HalfStorage", "0", [5.0, 6.0])
    save(os.path.join(out, "pytorch_model-00001-of-00002.bin"), collections.OrderedDict([("x.weight", Tensor(s1, 0, [2, 2], [2, 1]))]), [s1], "pytorch_model-00001-of-00002")
    save(os.path.join(out, "pytorch_model-00002-of-00002.bin"), collections.OrderedDict([("y.weight", Tensor(s2, 0, [2], [1]))]), [s2], "pytorch_model-00002-of-00002")
    index = '{"metadata": {"total_size": 20}, "weight_map": {"x.weight": "pytorch_model-00001-of-00002.bin", "y.weight": "pytorch_model-00002-of-00002.bin"}}\n'
    open(os.path.join(out, "pytorch_model.bin.index.json"), "w").write(index)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/FastIF.Tests/Weights/data")
