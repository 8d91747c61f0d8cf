#!/usr/bin/env python3
"""Peer benchmark: the diffusers IF UNet on the same config and the same random weights FastIF uses.

Imports whatever `diffusers` and `torch` the environment has (diffusers is never vendored here). Weights are read
from FastIF's safetensors with a small reader of its own, so the `safetensors` package is not needed.

  python3 bench/peers/diffusers_unet.py --model DIR [--variant fp16] [--batch 1] [--size 64] [--steps 5]
         [--device cpu|cuda] [--dtype fp32|fp16] [--compile] [--json OUT.json] [--check IO.safetensors --prefix case0.]

`--check` runs one fixture case and prints the max abs difference to the stored output: proof the peer is the
real reference before its timings are quoted.
"""
import argparse, json, os, platform, statistics, struct, sys, time

import numpy as np
import torch
from diffusers import UNet2DConditionModel

_DT = {"F32": np.float32, "F16": np.float16, "BF16": None, "I64": np.int64, "I32": np.int32}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    base, out = 8 + n, {}
    for name, v in header.items():
        if name == "__metadata__":
            continue
        s, e = v["data_offsets"]
        raw = data[base + s:base + e]
        if v["dtype"] == "BF16":
            t = torch.from_numpy(np.frombuffer(raw, dtype=np.int16).copy()).view(torch.bfloat16)
        else:
            t = torch.from_numpy(np.frombuffer(raw, dtype=_DT[v["dtype"]]).copy())
        out[name] = t.reshape(v["shape"])
    return out


def load_unet(model_dir, variant, dtype, device):
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    cfg = {k: v for k, v in cfg.items() if not k.startswith("_")}
    unet = UNet2DConditionModel(**cfg)
    name = "diffusion_pytorch_model" + (f".{variant}" if variant else "") + ".safetensors"
    sd = {k: v.float() for k, v in read_safetensors(os.path.join(model_dir, name)).items()}
    unet.load_state_dict(sd, strict=True)
    return unet.to(device=device, dtype=dtype).eval()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--variant")
    ap.add_argument("--batch", type=int, default=1, help="images; the UNet batch is twice this (guidance)")
    ap.add_argument("--size", type=int)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="fp32", choices=["fp32", "fp16", "bf16"])
    ap.add_argument("--threads", type=int)
    ap.add_argument("--compile", action="store_true", help="torch.compile the UNet (torch >= 2)")
    ap.add_argument("--json")
    ap.add_argument("--check")
    ap.add_argument("--prefix", default="")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[a.dtype]
    t0 = time.perf_counter()
    unet = load_unet(a.model, a.variant, dtype, a.device)
    load_ms = (time.perf_counter() - t0) * 1e3
    if a.compile:
        unet = torch.compile(unet)

    if a.check:
        io = read_safetensors(a.check)
        p = a.prefix
        kw = {}
        if p + "class_labels" in io:
            kw["class_labels"] = io[p + "class_labels"].to(a.device)
        with torch.no_grad():
            out = unet(io[p + "sample"].to(a.device, dtype), io[p + "timestep"].to(a.device),
                       encoder_hidden_states=io[p + "encoder_hidden_states"].to(a.device, dtype), **kw).sample.float().cpu()
        key = p + ("output_fp16_weights" if a.variant == "fp16" else "output_fp32_weights")
        print(json.dumps({"check": a.check, "case": p, "max_abs_diff": (out - io[key]).abs().max().item()}))
        return

    cfg = unet.config
    side = a.size or cfg.sample_size
    b = 2 * a.batch
    g = torch.Generator().manual_seed(0)
    sample = torch.randn(b, cfg.in_channels, side, side, generator=g).to(a.device, dtype)
    ehs = torch.randn(b, 77, cfg.encoder_hid_dim, generator=g).to(a.device, dtype)
    kw = {"class_labels": torch.full((b,), 250, device=a.device)} if cfg.class_embed_type else {}
    times = []
    with torch.no_grad():
        for i in range(-a.warmup, a.steps):
            t = torch.full((b,), (a.steps - 1 - max(i, 0)) * (1000 // a.steps), device=a.device)
            if a.device == "cuda":
                torch.cuda.synchronize()
            s = time.perf_counter()
            unet(sample, t, encoder_hidden_states=ehs, **kw)
            if a.device == "cuda":
                torch.cuda.synchronize()
            if i >= 0:
                times.append((time.perf_counter() - s) * 1e3)
    res = {
        "device": torch.cuda.get_device_name() if a.device == "cuda" else f"{os.cpu_count()}-core CPU ({platform.processor() or platform.machine()})",
        "backend": f"diffusers{'+compile' if a.compile else ''} (torch {torch.__version__}, {torch.get_num_threads()} threads)",
        "preset": os.path.basename(os.path.normpath(a.model)), "precision": a.dtype, "batch": a.batch, "unet_batch": b,
        "size": side, "steps": a.steps,
        "ms_per_step": {"median": statistics.median(times), "min": min(times), "max": max(times), "all": times},
        "load_ms": load_ms, "command": " ".join(sys.argv),
    }
    print(json.dumps(res, indent=2))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=2)


if __name__ == "__main__":
    main()
