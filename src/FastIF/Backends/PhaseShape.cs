using FastIF.Tensors;

namespace FastIF.Backends;

/// <summary>The output sizes of one <see cref="IBackend.ShufflePhases2x"/> call, checked once for every backend.</summary>
internal static class PhaseShape
{
    /// <summary>Batch, channels per phase and the low-resolution size H×W of phase planes <c>[B, 4C, H+1, W+1]</c>.</summary>
    public static (int Batch, int Channels, int Height, int Width) Of(Tensor phases)
    {
        var s = phases.Shape;
        if (s.Rank != 4) throw new ShapeException($"ShufflePhases2x: expected [B, 4C, H+1, W+1], got {s}");
        if (s[1] % 4 != 0 || s[1] == 0) throw new ShapeException($"ShufflePhases2x: {s} has {s[1]} channels, not four phase blocks");
        if (s[2] < 2 || s[3] < 2) throw new ShapeException($"ShufflePhases2x: {s} is smaller than the 2×2 phase planes of a 1×1 image");
        return (s[0], s[1] / 4, s[2] - 1, s[3] - 1);
    }
}
