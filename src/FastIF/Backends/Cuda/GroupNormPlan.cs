namespace FastIF.Backends.Cuda;

/// <summary>
/// How the CUDA GroupNorm cuts its work (kernels/groupnorm.cu, <c>groupnorm_partial</c> then <c>groupnorm_apply</c>): each
/// (sample, group) into runs of positions, a block per run, so that every SM has blocks even when batch × groups is
/// small (64 at IF-I-XL's batch 2, against 132 SMs). Plain arithmetic, shared by the backend and the tests' emulation.
/// </summary>
internal static class GroupNormPlan
{
    /// <summary>Threads per block of both launches.</summary>
    public const uint Threads = 256;

    /// <summary>
    /// Runs per (sample, group): about eight blocks per SM in all, at most 64, never more than the positions (so no
    /// run is empty); the kernels' 32-bit run bounds need positions × runs under 2^32.
    /// </summary>
    public static int Chunks(int multiprocessors, int batch, int groups, int positions)
    {
        long groupsInAll = (long)batch * groups, want = (multiprocessors * 8L + groupsInAll - 1) / groupsInAll;
        int chunks = (int)Math.Clamp(want, 1, Math.Max(1, Math.Min(64, positions)));
        if ((long)positions * chunks > uint.MaxValue || groupsInAll * chunks > int.MaxValue)
            throw new ShapeException($"GroupNorm: {positions} positions in {groupsInAll} groups are more than its kernels index");
        return chunks;
    }

    /// <summary>Run <paramref name="k"/>'s positions [Q0, Q1), exactly as the kernels compute them.</summary>
    public static (int Q0, int Q1) Run(int positions, int k, int chunks) =>
        ((int)((uint)positions * (uint)k / (uint)chunks), (int)((uint)positions * (uint)(k + 1) / (uint)chunks));
}
