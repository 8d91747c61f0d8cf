namespace FastIF.Backends.Cuda;

/// <summary>
/// The launch of kernels/attention.cu's <c>fastif_flash_attention</c> for one <see cref="AttentionShape"/>: tile sizes,
/// grid, block and dynamic shared memory. Pure data, so the host side is tested without a GPU (FlashAttentionPlanTests,
/// and the CPU emulation of the kernel lays out its shared memory from the same figures).
/// </summary>
/// <param name="BlockQ">Query rows per block (<see cref="Warps"/> warps, BlockQ / Warps rows each).</param>
/// <param name="BlockK">Keys per shared-memory tile (32 or 64: one or two keys per lane).</param>
/// <param name="HeadDim">Channels per head.</param>
/// <param name="GridX">Query tiles: ⌈Nq / BlockQ⌉.</param>
/// <param name="GridY">Batch items × heads.</param>
/// <param name="SharedBytes">Dynamic shared memory: Q tile, padded K tile, V tile, all fp32.</param>
internal readonly record struct FlashAttentionPlan(int BlockQ, int BlockK, int HeadDim, uint GridX, uint GridY, int SharedBytes)
{
    /// <summary>Warps per block; the kernel traps on any other block size.</summary>
    public const int Warps = 4;

    /// <summary>Threads per block.</summary>
    public const int Threads = Warps * 32;

    /// <summary>Largest head dim the kernel's registers hold (FLASH_MAX_D: four output channels per lane).</summary>
    public const int MaxHeadDim = 128;

    /// <summary>Largest query tile (FLASH_MAX_ROWS = 8 rows per warp).</summary>
    public const int MaxBlockQ = 8 * Warps;

    /// <summary>Largest key tile (FLASH_MAX_KEY_SLOTS = 2 keys per lane).</summary>
    public const int MaxBlockK = 64;

    /// <summary>Dynamic shared memory a launch gets without cuFuncSetAttribute's opt-in; every plan stays within it.</summary>
    public const int DefaultSharedLimit = 48 * 1024;

    /// <summary>CUDA's limit on gridDim.y.</summary>
    public const int MaxGridY = 65535;

    /// <summary>Offset (in floats) of the K tile in shared memory; the Q tile starts at 0.</summary>
    public int KeyTileOffset => BlockQ * HeadDim;

    /// <summary>Row stride (in floats) of the K tile: one float of padding keeps lanes reading one channel of different keys on different banks.</summary>
    public int KeyStride => HeadDim + 1;

    /// <summary>Offset (in floats) of the V tile in shared memory.</summary>
    public int ValueTileOffset => KeyTileOffset + BlockK * KeyStride;

    /// <summary>
    /// The plan for <paramref name="a"/>: head dims up to 64 take 32 query rows against 64-key tiles, larger ones 16 rows
    /// against 32-key tiles, so that every plan needs at most ~41 KiB of shared memory. Throws <see cref="ShapeException"/>
    /// when the kernel cannot take the shape (head dim over 128, more than 65535 batch·head pairs).
    /// </summary>
    public static FlashAttentionPlan For(AttentionShape a)
    {
        int d = a.HeadDim;
        if (d < 1 || d > MaxHeadDim)
            throw new ShapeException($"Attention: head dim {d} does not fit the flash kernel (1 to {MaxHeadDim}); use CudaBackendOptions.AttentionKernel = Gemm");
        long pairs = (long)a.Batch * (a.Channels / d);
        if (pairs < 1 || pairs > MaxGridY)
            throw new ShapeException($"Attention: {a.Batch} batch items x {a.Channels / d} heads = {pairs} blocks in y, the flash kernel takes 1 to {MaxGridY}");
        if (a.Queries < 1) throw new ShapeException($"Attention: the flash kernel needs at least one query, got {a.Queries}");
        int bq = d <= 64 ? 32 : 16, bk = d <= 64 ? 64 : 32;
        int shared = 4 * (bq * d + bk * (d + 1) + bk * d);
        return new FlashAttentionPlan(bq, bk, d, (uint)((a.Queries + bq - 1) / bq), (uint)pairs, shared);
    }
}
