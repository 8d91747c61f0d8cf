#!/usr/bin/env python3
"""Counts, from IF-I-XL's shapes (../shared/docs/if-unet.md §8), what issue 6's rewrites of 2026-12-07 remove from one
guided UNet call (UNet batch 2 at 64x64, fp16): the predictions the next GPU visit's profile and A/B runs check."""
B, E = 2, 2                      # UNet batch, bytes per fp16 element
C = [704, 1408, 2112, 2816]      # block_out_channels
HW = [64 * 64, 32 * 32, 16 * 16, 8 * 8]
LAYERS, ATTN = 3, [False, True, True, True]
GROUPS = 32

gn = []          # (elements, channels) of every GroupNorm input, in forward order
concat = []      # elements of every skip concatenation
up_res = []      # elements of every upsampler's input (its skip, read through nearest x2)
down_in = []     # elements of every downsampler's input (norm1 writes the pooled image)
conv1_out = []   # elements of every ResNet's conv1 output (its epilogue pass folded into norm2)
attn_out = []    # elements of every attention layer's output (the residual add folded into the GEMM)
attn = []        # (rows = batch x heads x queries, keys, channels) of every attention layer
HEAD_DIM, TEXT = 64, 77

def resnet(cin, cout, hw_in, hw_out):
    gn.append((cin * hw_in, cin)); gn.append((cout * hw_out, cout)); conv1_out.append(cout * hw_out)

def attention(c, hw):
    gn.append((c * hw, c)); attn_out.append(c * hw); attn.append((B * (c // HEAD_DIM) * hw, TEXT + hw, c))

skips = [C[0] * HW[0]]
skipc = [C[0]]
ch = C[0]
for i in range(4):
    for j in range(LAYERS):
        resnet(ch, C[i], HW[i], HW[i]); ch = C[i]
        if ATTN[i]: attention(C[i], HW[i])
        skips.append(C[i] * HW[i]); skipc.append(C[i])
    if i < 3:
        down_in.append(C[i] * HW[i]); resnet(C[i], C[i], HW[i], HW[i + 1])
        skips.append(C[i] * HW[i + 1]); skipc.append(C[i])
resnet(C[3], C[3], HW[3], HW[3]); attention(C[3], HW[3]); resnet(C[3], C[3], HW[3], HW[3])
ch = C[3]
for k in range(4):
    lv = 3 - k
    for j in range(LAYERS + 1):
        sc = skipc.pop(); skips.pop()
        cin = ch + sc
        concat.append(cin * HW[lv]); resnet(cin, C[lv], HW[lv], HW[lv]); ch = C[lv]
        if ATTN[lv]: attention(C[lv], HW[lv])
    if k < 3:
        up_res.append(C[lv] * HW[lv]); resnet(C[lv], C[lv], HW[lv], HW[lv - 1])
gn.append((C[0] * HW[0], C[0]))

mb = lambda n: n * B * E / 1e6
g = sum(n for n, _ in gn)
print(f"GroupNorms: {len(gn)} calls, {g * B / 1e6:.0f} M elements read per call (3 passes each)")
print(f"skip concatenations: {len(concat)}, {mb(sum(concat)) * 2:.0f} MB written and read back")
print(f"downsamplers' full-resolution norm1 outputs: {mb(sum(down_in)) * 2:.0f} MB written and read back")
print(f"upsamplers' upsampled skips: {mb(sum(up_res)) * 4 * 2 - mb(sum(up_res)):.0f} MB (4x written, 4x read, now 1x read)")
print(f"conv1 epilogues: {len(conv1_out)} launches, {mb(sum(conv1_out)) * 2:.0f} MB read and written")
print(f"attention residual adds: {len(attn_out)} launches, {mb(sum(attn_out)) * 2:.0f} MB (the projection written and read back)")
up_flops_nearest = sum(2 * B * c * c * 9 * 4 * hw for c, hw in [(C[3], HW[3]), (C[2], HW[2]), (C[1], HW[1])])
up_flops_subpixel = sum(2 * B * 4 * c * c * 4 * (int(hw ** 0.5) + 1) ** 2 for c, hw in [(C[3], HW[3]), (C[2], HW[2]), (C[1], HW[1])])
print(f"upsampler conv1: {up_flops_nearest / 1e9:.0f} GFLOP nearest, {up_flops_subpixel / 1e9:.0f} GFLOP sub-pixel")
scores = sum(r * k for r, k, _ in attn)
flops = sum(4 * r * k * HEAD_DIM for r, k, _ in attn)
# The GEMM path writes fp32 scores, the softmax reads them and writes fp16 probabilities, the P.V GEMM reads those.
print(f"attention: {len(attn)} layers, {scores / 1e6:.0f} M scores, {scores * (4 + 4 + 2 + 2) / 1e9:.2f} GB through memory on the "
      f"GEMM path (none fused), {flops / 1e9:.0f} GFLOP")
