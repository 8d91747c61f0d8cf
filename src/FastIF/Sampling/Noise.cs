namespace FastIF.Sampling;

/// <summary>
/// Where a sampler's random tensors come from, one draw at a time in the order the algorithm consumes them
/// (initial noise, per-step variance noise, forward noise of constraints, ...).
/// </summary>
public interface INoiseSource
{
    /// <summary>Fills <paramref name="dst"/> with the next draw of standard normal values.</summary>
    void Next(Span<float> dst);
}

/// <summary>
/// The default generator: Philox4x32-10 keyed by the seed, counter = (draw index, element block), Box–Muller on
/// each pair. Element i of draw k depends only on (seed, k, i), so the same seed gives the same numbers on every
/// backend and thread count: the Box–Muller step uses <see cref="NoiseMath"/>'s correctly rounded operations only, and
/// the GPU twin (kernels/noise.cu, <c>fastif_philox_normal</c>) computes the same bits.
/// </summary>
public sealed class PhiloxNoise(ulong seed) : INoiseSource
{
    private ulong _draw;

    /// <summary>Index of the next draw.</summary>
    public ulong DrawIndex => _draw;

    /// <summary>The key of the stream.</summary>
    public ulong Seed => seed;

    /// <summary>Moves past <paramref name="draws"/> draws without computing them (a GPU step produced them in its kernels).</summary>
    public void Skip(ulong draws) => _draw += draws;

    /// <inheritdoc/>
    public void Next(Span<float> dst)
    {
        Fill(seed, _draw++, dst);
    }

    /// <summary>Draw <paramref name="draw"/> of the stream of <paramref name="seed"/>.</summary>
    public static void Fill(ulong seed, ulong draw, Span<float> dst)
    {
        Span<uint> r = stackalloc uint[4];
        for (int i = 0; i < dst.Length; i += 4)
        {
            Philox(seed, draw, (ulong)i / 4, r);
            // Two Box–Muller pairs per counter (u1 = (r+1)/2³² in (0, 1], so the log is finite), in NoiseMath's
            // reproducible arithmetic: the GPU twin (kernels/noise.cu) produces the same bits.
            for (int j = 0; j < 4 && i + j < dst.Length; j += 2)
            {
                var (first, second) = NoiseMath.BoxMuller(r[j], r[j + 1]);
                dst[i + j] = first;
                if (i + j + 1 < dst.Length) dst[i + j + 1] = second;
            }
        }
    }

    /// <summary>Philox4x32-10 (Salmon et al., SC'11) of counter (block, draw) under key = seed.</summary>
    public static void Philox(ulong seed, ulong draw, ulong block, Span<uint> output)
    {
        uint c0 = (uint)block, c1 = (uint)(block >> 32), c2 = (uint)draw, c3 = (uint)(draw >> 32);
        uint k0 = (uint)seed, k1 = (uint)(seed >> 32);
        for (int round = 0; round < 10; round++)
        {
            ulong p0 = 0xD2511F53UL * c0, p1 = 0xCD9E8D57UL * c2;
            uint n0 = (uint)(p1 >> 32) ^ c1 ^ k0, n1 = (uint)p1, n2 = (uint)(p0 >> 32) ^ c3 ^ k1, n3 = (uint)p0;
            (c0, c1, c2, c3) = (n0, n1, n2, n3);
            k0 += 0x9E3779B9; k1 += 0xBB67AE85;
        }
        output[0] = c0; output[1] = c1; output[2] = c2; output[3] = c3;
    }
}

/// <summary>Replays recorded draws (the golden traces' <c>randn.NNN</c>); running out or a size mismatch is an error.</summary>
public sealed class RecordedNoise(IEnumerable<float[]> draws) : INoiseSource
{
    private readonly Queue<float[]> _draws = new(draws);

    /// <summary>Draws not consumed yet.</summary>
    public int Remaining => _draws.Count;

    /// <inheritdoc/>
    public void Next(Span<float> dst)
    {
        if (!_draws.TryDequeue(out var d)) throw new FastIFException("recorded noise exhausted: the sampler drew more than the trace holds");
        if (d.Length != dst.Length) throw new ShapeException($"recorded draw has {d.Length} values, the sampler asked for {dst.Length}");
        d.CopyTo(dst);
    }
}
