using FastIF.Tensors;

namespace FastIF.Backends;

/// <summary>
/// The sizes of one <see cref="IBackend.Conv2d"/> call, checked against the op's contract once for every backend:
/// x <c>[B, Cin, H, W]</c>, w <c>[Cout, Cin, kh, kw]</c>, bias <c>[Cout]</c>, a residual shaped like the output (or like half
/// of it, nearest-upsampled).
/// </summary>
public readonly record struct ConvShape(int Batch, int InChannels, int Height, int Width, int OutChannels, int KernelH, int KernelW,
    int Padding, Shape Output)
{
    /// <summary>Validates the operands; throws <see cref="ShapeException"/> naming what does not fit.</summary>
    public static ConvShape Of(Tensor x, Tensor w, Tensor? bias, int padding, Tensor? residual, bool upsampledResidual = false)
    {
        if (x.Shape.Rank != 4) throw new ShapeException($"Conv2d input: expected rank 4, got {x.Shape}");
        if (w.Shape.Rank != 4) throw new ShapeException($"Conv2d weight: expected rank 4, got {w.Shape}");
        int n = x.Shape[0], cin = x.Shape[1], h = x.Shape[2], wd = x.Shape[3];
        int cout = w.Shape[0], kh = w.Shape[2], kw = w.Shape[3];
        if (w.Shape[1] != cin) throw new ShapeException($"Conv2d: input {x.Shape} has {cin} channels, weight {w.Shape} expects {w.Shape[1]}");
        if (padding < 0) throw new ShapeException($"Conv2d: negative padding {padding}");
        int oh = h + 2 * padding - kh + 1, ow = wd + 2 * padding - kw + 1;
        if (oh <= 0 || ow <= 0) throw new ShapeException($"Conv2d: kernel {kh}x{kw} larger than padded input {x.Shape}");
        if (bias != null && bias.Shape.Elements != cout) throw new ShapeException($"Conv2d: bias {bias.Shape} for {cout} output channels");
        var output = new Shape(n, cout, oh, ow);
        if (upsampledResidual)
        {
            if (residual == null) throw new ShapeException("Conv2d: an upsampled residual was asked for, but no residual given");
            if (oh % 2 != 0 || ow % 2 != 0 || residual.Shape != new Shape(n, cout, oh / 2, ow / 2))
                throw new ShapeException($"Conv2d: residual {residual.Shape} is not the ×2-downsized output {output}");
        }
        else if (residual != null && residual.Shape != output) throw new ShapeException($"Conv2d: residual {residual.Shape} vs output {output}");
        return new ConvShape(n, cin, h, wd, cout, kh, kw, padding, output);
    }
}
