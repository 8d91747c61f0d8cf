namespace FastIF.Sampling;

/// <summary>
/// An invertible transform of an image <c>[C, H, W]</c> (visual anagrams): the UNet sees <see cref="Apply"/>(x) and its
/// estimate is mapped back by <see cref="Invert"/>, on all channels (ε and variance alike).
/// </summary>
public interface IView
{
    /// <summary>Name, e.g. "flip_v".</summary>
    string Name { get; }
    /// <summary>dst = view(src).</summary>
    void Apply(ReadOnlySpan<float> src, Span<float> dst, int c, int h, int w);
    /// <summary>dst = view⁻¹(src).</summary>
    void Invert(ReadOnlySpan<float> src, Span<float> dst, int c, int h, int w);
}

/// <summary>A view that moves pixels: out[c, i] = in[c, Source(i)]; its inverse scatters instead.</summary>
public abstract class PixelView : IView
{
    /// <inheritdoc/>
    public abstract string Name { get; }

    /// <summary>For output pixel (y, x) of an h×w image, the source pixel index (row-major) in the input.</summary>
    protected abstract int Source(int y, int x, int h, int w);

    /// <summary>Output height and width for an h×w input (swapped by transposing views).</summary>
    public virtual (int H, int W) OutputSize(int h, int w) => (h, w);

    /// <summary>Multiplier on values (−1 for negation).</summary>
    protected virtual float Sign => 1f;

    /// <summary>The value multiplier (the fused GPU step applies it with <see cref="GatherTable"/>).</summary>
    public float ValueSign => Sign;

    /// <summary>For every output pixel (row-major, output size) its source pixel: <c>Apply</c> as one gather table.</summary>
    public int[] GatherTable(int h, int w)
    {
        var (oh, ow) = OutputSize(h, w);
        var table = new int[oh * ow];
        for (int y = 0; y < oh; y++)
            for (int x = 0; x < ow; x++) table[y * ow + x] = Source(y, x, h, w);
        return table;
    }

    /// <inheritdoc/>
    public void Apply(ReadOnlySpan<float> src, Span<float> dst, int c, int h, int w)
    {
        var (oh, ow) = OutputSize(h, w);
        Check(src, dst, c * h * w);
        for (int ch = 0; ch < c; ch++)
            for (int y = 0; y < oh; y++)
                for (int x = 0; x < ow; x++)
                    dst[ch * oh * ow + y * ow + x] = Sign * src[ch * h * w + Source(y, x, h, w)];
    }

    /// <inheritdoc/>
    public void Invert(ReadOnlySpan<float> src, Span<float> dst, int c, int h, int w)
    {
        var (oh, ow) = OutputSize(h, w);
        Check(src, dst, c * h * w);
        for (int ch = 0; ch < c; ch++)
            for (int y = 0; y < oh; y++)
                for (int x = 0; x < ow; x++)
                    dst[ch * h * w + Source(y, x, h, w)] = Sign * src[ch * oh * ow + y * ow + x];
    }

    private static void Check(ReadOnlySpan<float> src, Span<float> dst, int n)
    {
        if (src.Length != n || dst.Length != n) throw new ShapeException($"view: {src.Length} in, {dst.Length} out, expected {n}");
        if (src.Overlaps(dst)) throw new ArgumentException("view source and destination must not overlap");
    }
}

/// <summary>The built-in views.</summary>
public static class Views
{
    private sealed class Fn(string name, Func<int, int, int, int, int> source, bool transposes = false, float sign = 1f) : PixelView
    {
        public override string Name => name;
        protected override int Source(int y, int x, int h, int w) => source(y, x, h, w);
        public override (int H, int W) OutputSize(int h, int w) => transposes ? (w, h) : (h, w);
        protected override float Sign => sign;
    }

    /// <summary>No change.</summary>
    public static IView Identity { get; } = new Fn("identity", (y, x, h, w) => y * w + x);
    /// <summary>Upside down (flip along H).</summary>
    public static IView FlipVertical { get; } = new Fn("flip_v", (y, x, h, w) => (h - 1 - y) * w + x);
    /// <summary>Mirror (flip along W).</summary>
    public static IView FlipHorizontal { get; } = new Fn("flip_h", (y, x, h, w) => y * w + (w - 1 - x));
    /// <summary>Rotation by 180°.</summary>
    public static IView Rotate180 { get; } = new Fn("rot180", (y, x, h, w) => (h - 1 - y) * w + (w - 1 - x));
    /// <summary>Rotation by 90° counter-clockwise (torch.rot90 k=1 over H, W).</summary>
    public static IView Rotate90 { get; } = new Fn("rot90", (y, x, h, w) => x * w + (w - 1 - y), transposes: true);
    /// <summary>Rotation by 270° (90° clockwise).</summary>
    public static IView Rotate270 { get; } = new Fn("rot270", (y, x, h, w) => (h - 1 - x) * w + y, transposes: true);
    /// <summary>Swap H and W.</summary>
    public static IView Transpose { get; } = new Fn("transpose", (y, x, h, w) => x * w + y, transposes: true);
    /// <summary>Negated values (colour inversion in [-1, 1]).</summary>
    public static IView Negate { get; } = new Fn("negate", (y, x, h, w) => y * w + x, sign: -1f);

    /// <summary>Any permutation of the h·w pixels: output pixel i takes input pixel <paramref name="perm"/>[i].</summary>
    public static IView Permutation(int[] perm, string name = "permute")
    {
        var seen = new bool[perm.Length];
        foreach (var p in perm)
        {
            if (p < 0 || p >= perm.Length || seen[p]) throw new FastIFException($"view \"{name}\": not a permutation of {perm.Length} pixels");
            seen[p] = true;
        }
        return new Fn(name, (y, x, h, w) => h * w == perm.Length ? perm[y * w + x]
            : throw new ShapeException($"view \"{name}\" permutes {perm.Length} pixels, the image has {h * w}"));
    }

    /// <summary>A jigsaw: the image cut into <paramref name="patch"/>-sized squares, square j placed at position order[j].</summary>
    public static IView Patches(int h, int w, int patch, int[] order)
    {
        if (patch <= 0 || h % patch != 0 || w % patch != 0) throw new FastIFException($"patch size {patch} does not tile {h}x{w}");
        int pw = w / patch, n = (h / patch) * pw;
        if (order.Length != n) throw new FastIFException($"patch order has {order.Length} entries for {n} patches");
        var perm = new int[h * w];
        for (int j = 0; j < n; j++)
        {
            int src = order[j], sy = src / pw * patch, sx = src % pw * patch, dy = j / pw * patch, dx = j % pw * patch;
            for (int y = 0; y < patch; y++)
                for (int x = 0; x < patch; x++) perm[(dy + y) * w + dx + x] = (sy + y) * w + sx + x;
        }
        return Permutation(perm, $"patches{patch}");
    }

    /// <summary>Looks a view up by name (identity, flip_v, flip_h, rot90, rot180, rot270, transpose, negate).</summary>
    public static IView ByName(string name) => name switch
    {
        "identity" => Identity, "flip_v" => FlipVertical, "flip_h" => FlipHorizontal, "rot90" => Rotate90,
        "rot180" => Rotate180, "rot270" => Rotate270, "transpose" => Transpose, "negate" => Negate,
        _ => throw new FastIFException($"unknown view \"{name}\"; known: identity, flip_v, flip_h, rot90, rot180, rot270, transpose, negate"),
    };
}
