using FastIF.Tensors;

namespace FastIF.Backends;

/// <summary>
/// The operands of the ops that read a channel concatenation <c>[a, b]</c> in place
/// (<see cref="IBackend.GroupNormConcat"/>, <see cref="IBackend.Conv1x1Concat"/>), checked once for every backend with
/// the wording of the ops they replace: a <c>[B, Ca, H, W]</c> and b <c>[B, Cb, H, W]</c>, both non-empty.
/// </summary>
public readonly record struct ConcatShape(int Batch, int ChannelsA, int ChannelsB, int Height, int Width)
{
    /// <summary>Ca + Cb.</summary>
    public int Channels => ChannelsA + ChannelsB;

    /// <summary>Positions per image, H·W.</summary>
    public int Spatial => Height * Width;

    /// <summary>The shape the concatenation would have: <c>[B, Ca + Cb, H, W]</c>.</summary>
    public Shape Concatenated => new(Batch, Channels, Height, Width);

    /// <summary>Validates a and b; throws <see cref="ShapeException"/> naming <paramref name="op"/> and what does not fit.</summary>
    public static ConcatShape Of(Tensor a, Tensor b, string op)
    {
        if (a.Shape.Rank != 4) throw new ShapeException($"{op} lhs: expected rank 4, got {a.Shape}");
        if (b.Shape.Rank != 4) throw new ShapeException($"{op} rhs: expected rank 4, got {b.Shape}");
        if (a.Shape[0] != b.Shape[0] || a.Shape[2] != b.Shape[2] || a.Shape[3] != b.Shape[3])
            throw new ShapeException($"{op}: {a.Shape} and {b.Shape} differ outside the channel axis");
        // An empty side would be a plain op on the other; refusing it keeps each backend's split GEMM non-degenerate.
        if (a.Shape[1] == 0 || b.Shape[1] == 0) throw new ShapeException($"{op}: {a.Shape} and {b.Shape}: both sides need channels");
        return new ConcatShape(a.Shape[0], a.Shape[1], b.Shape[1], a.Shape[2], a.Shape[3]);
    }

    /// <summary>Checks a 1×1 weight <c>[Cout, Ca + Cb, 1, 1]</c> and its bias; returns the output shape <c>[B, Cout, H, W]</c>.</summary>
    public Shape Conv1x1(Tensor w, Tensor? bias, string op)
    {
        if (w.Shape.Rank != 4 || w.Shape[1] != Channels || w.Shape[2] != 1 || w.Shape[3] != 1)
            throw new ShapeException($"{op}: weight {w.Shape} must be [Cout, {Channels}, 1, 1] for {ChannelsA} + {ChannelsB} input channels");
        int cout = w.Shape[0];
        if (bias != null && bias.Shape.Elements != cout) throw new ShapeException($"{op}: bias {bias.Shape} for {cout} output channels");
        return new Shape(Batch, cout, Height, Width);
    }
}
