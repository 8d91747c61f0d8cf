namespace FastIF.Sampling;

/// <summary>
/// Merges the per-component estimates of one image (each <c>[6, H, W]</c>: ε then variance, already guided and
/// mapped back through its view) into the one estimate the scheduler steps with.
/// </summary>
public interface ICombiner
{
    /// <summary>How many components (prompt × view pairs) this combiner expects; 0 for any number.</summary>
    int Components { get; }
    /// <summary>Writes the combined <c>[6, H, W]</c> estimate.</summary>
    void Combine(IReadOnlyList<float[]> estimates, int h, int w, Span<float> dst);
}

/// <summary>What a built-in combiner computes, as data for the fused GPU step.</summary>
public enum CombineKind
{
    /// <summary>Mean of all components (one component: itself).</summary>
    Mean,
    /// <summary>Low-pass of component 0 plus high-pass of component 1 (<see cref="CombineSpec.KernelA"/>).</summary>
    LowHigh,
    /// <summary>Three bands: wide blur <see cref="CombineSpec.KernelA"/>, narrow blur <see cref="CombineSpec.KernelB"/>.</summary>
    ThreeBand,
    /// <summary>Gray of component 0 plus colour of component 1.</summary>
    GrayColor,
}

/// <summary>A built-in combiner as data: its kind, blur kernels (normalised 1-D taps) and the low/high halving.</summary>
public sealed record CombineSpec(CombineKind Kind, float[]? KernelA = null, float[]? KernelB = null, bool Halve = false);

/// <summary>The built-in combiners.</summary>
public static class Combiners
{
    /// <summary>The data of a built-in combiner; a custom <see cref="ICombiner"/> has none and is refused by name.</summary>
    public static CombineSpec Describe(ICombiner combiner) => combiner switch
    {
        MeanCombiner => new CombineSpec(CombineKind.Mean),
        LowHighCombiner l => new CombineSpec(CombineKind.LowHigh, l.Kernel, Halve: l.Halve),
        ThreeBandCombiner t => new CombineSpec(CombineKind.ThreeBand, t.Wide, t.Narrow),
        GrayColorCombiner => new CombineSpec(CombineKind.GrayColor),
        _ => throw new FastIFException($"combiner {combiner.GetType().Name} is not a built-in one; the fused GPU step only runs the built-in combiners"),
    };

    /// <summary>The combiner a <see cref="CombineSpec"/> describes (the inverse of <see cref="Describe"/>).</summary>
    public static ICombiner FromSpec(CombineSpec spec) => spec.Kind switch
    {
        CombineKind.Mean => Mean,
        CombineKind.LowHigh => new LowHighCombiner(spec.KernelA ?? throw new FastIFException("low/high combiner spec without a kernel"), spec.Halve),
        CombineKind.ThreeBand => new ThreeBandCombiner(spec.KernelA ?? throw new FastIFException("three-band combiner spec without its wide kernel"),
            spec.KernelB ?? throw new FastIFException("three-band combiner spec without its narrow kernel")),
        _ => GrayColor,
    };

    /// <summary>One component, used as is (plain text-to-image and every single-prompt mode).</summary>
    public static ICombiner Single { get; } = new MeanCombiner(1);

    /// <summary>The mean of all components, ε and variance alike (visual anagrams, <c>reduction='mean'</c>).</summary>
    public static ICombiner Mean { get; } = new MeanCombiner(0);

    /// <summary>
    /// Factorized diffusion (hybrid images): ε = lowpass(ε₀) + highpass(ε₁) with a Gaussian blur of the given
    /// kernel size and σ (reflect padding); variance = mean of both. <paramref name="halve"/> divides the ε sum by 2
    /// as the visual_anagrams code base's mean reduction would.
    /// </summary>
    public static ICombiner LowHighPass(int kernelSize, float sigma, bool halve = false) => new LowHighCombiner(GaussianBlur.Kernel(kernelSize, sigma), halve);

    /// <summary>
    /// Three frequency bands: ε = lowpass_wide(ε₀) + (lowpass_narrow − lowpass_wide)(ε₁) + (identity − lowpass_narrow)(ε₂);
    /// variance = mean of the three. The narrow blur must be the smaller one.
    /// </summary>
    public static ICombiner ThreeBand(int wideKernel, float wideSigma, int narrowKernel, float narrowSigma)
        => new ThreeBandCombiner(GaussianBlur.Kernel(wideKernel, wideSigma), GaussianBlur.Kernel(narrowKernel, narrowSigma));

    /// <summary>Grayscale/colour factorization: ε = gray(ε₀) + (ε₁ − gray(ε₁)), gray = mean over the 3 channels; variance averaged.</summary>
    public static ICombiner GrayColor { get; } = new GrayColorCombiner();

    private static void MeanVariance(IReadOnlyList<float[]> estimates, int n, Span<float> dst)
    {
        for (int i = n; i < 2 * n; i++)
        {
            float sum = 0;
            foreach (var e in estimates) sum += e[i];
            dst[i] = sum / estimates.Count;
        }
    }

    private sealed class ThreeBandCombiner(float[] wide, float[] narrow) : ICombiner
    {
        public float[] Wide => wide;
        public float[] Narrow => narrow;
        public int Components => 3;

        public void Combine(IReadOnlyList<float[]> estimates, int h, int w, Span<float> dst)
        {
            if (estimates.Count != 3) throw new FastIFException($"three-band combiner expects 3 components, got {estimates.Count}");
            int n = 3 * h * w;
            float[] Blur(float[] src, float[] k) { var d = new float[n]; GaussianBlur.Apply(src.AsSpan(0, n), d, 3, h, w, k); return d; }
            var low = Blur(estimates[0], wide);
            var midNarrow = Blur(estimates[1], narrow);
            var midWide = Blur(estimates[1], wide);
            var highNarrow = Blur(estimates[2], narrow);
            for (int i = 0; i < n; i++) dst[i] = low[i] + (midNarrow[i] - midWide[i]) + (estimates[2][i] - highNarrow[i]);
            MeanVariance(estimates, n, dst);
        }
    }

    private sealed class GrayColorCombiner : ICombiner
    {
        public int Components => 2;

        public void Combine(IReadOnlyList<float[]> estimates, int h, int w, Span<float> dst)
        {
            if (estimates.Count != 2) throw new FastIFException($"gray/colour combiner expects 2 components, got {estimates.Count}");
            int hw = h * w;
            for (int p = 0; p < hw; p++)
            {
                float g0 = (estimates[0][p] + estimates[0][hw + p] + estimates[0][2 * hw + p]) / 3;
                float g1 = (estimates[1][p] + estimates[1][hw + p] + estimates[1][2 * hw + p]) / 3;
                for (int c = 0; c < 3; c++) dst[c * hw + p] = g0 + (estimates[1][c * hw + p] - g1);
            }
            MeanVariance(estimates, 3 * hw, dst);
        }
    }

    private sealed class MeanCombiner(int components) : ICombiner
    {
        public int Components => components;

        public void Combine(IReadOnlyList<float[]> estimates, int h, int w, Span<float> dst)
        {
            if (estimates.Count == 0 || (components > 0 && estimates.Count != components))
                throw new FastIFException($"combiner expects {(components == 0 ? "at least 1" : components.ToString())} components, got {estimates.Count}");
            estimates[0].CopyTo(dst);
            for (int k = 1; k < estimates.Count; k++)
                for (int i = 0; i < dst.Length; i++) dst[i] += estimates[k][i];
            if (estimates.Count > 1)
                for (int i = 0; i < dst.Length; i++) dst[i] /= estimates.Count;
        }
    }

    private sealed class LowHighCombiner(float[] kernel, bool halve) : ICombiner
    {
        private readonly float[] _kernel = kernel;
        public float[] Kernel => _kernel;
        public bool Halve => halve;
        public int Components => 2;

        public void Combine(IReadOnlyList<float[]> estimates, int h, int w, Span<float> dst)
        {
            if (estimates.Count != 2) throw new FastIFException($"low/high-pass combiner expects 2 components, got {estimates.Count}");
            int n = 3 * h * w;
            var low = new float[n];
            var blurHigh = new float[n];
            GaussianBlur.Apply(estimates[0].AsSpan(0, n), low, 3, h, w, _kernel);
            GaussianBlur.Apply(estimates[1].AsSpan(0, n), blurHigh, 3, h, w, _kernel);
            float s = halve ? 0.5f : 1f;
            for (int i = 0; i < n; i++) dst[i] = (low[i] + (estimates[1][i] - blurHigh[i])) * s;
            MeanVariance(estimates, n, dst);
        }
    }
}

/// <summary>Separable Gaussian blur with reflect padding (torchvision's <c>gaussian_blur</c>), per channel.</summary>
public static class GaussianBlur
{
    /// <summary>The normalised 1-D kernel exp(−x²/2σ²) at x = −(k−1)/2 … (k−1)/2.</summary>
    public static float[] Kernel(int size, float sigma)
    {
        if (size < 1 || size % 2 == 0) throw new FastIFException($"blur kernel size {size} must be odd and positive");
        if (!(sigma > 0)) throw new FastIFException($"blur sigma {sigma} must be positive");
        // torchvision computes the kernel in float32: x = linspace(-half, half), pdf = exp(-0.5 (x/σ)²), / sum.
        var k = new float[size];
        float half = (size - 1) * 0.5f, sum = 0;
        for (int i = 0; i < size; i++)
        {
            float x = -half + i, t = x / sigma;
            k[i] = MathF.Exp(-0.5f * t * t);
            sum += k[i];
        }
        for (int i = 0; i < size; i++) k[i] /= sum;
        return k;
    }

    /// <summary>Blurs <c>[c, h, w]</c>; the kernel radius must be below h and w (reflect padding).</summary>
    public static void Apply(ReadOnlySpan<float> src, Span<float> dst, int c, int h, int w, float[] kernel)
    {
        int r = kernel.Length / 2;
        if (r >= h || r >= w) throw new FastIFException($"blur kernel of size {kernel.Length} needs an image larger than {h}x{w}");
        var tmp = new float[h * w];
        static int Reflect(int i, int n) => i < 0 ? -i : i >= n ? 2 * n - 2 - i : i;
        for (int ch = 0; ch < c; ch++)
        {
            var s = src.Slice(ch * h * w, h * w);
            var d = dst.Slice(ch * h * w, h * w);
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                {
                    float acc = 0;
                    for (int j = -r; j <= r; j++) acc += kernel[j + r] * s[y * w + Reflect(x + j, w)];
                    tmp[y * w + x] = acc;
                }
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                {
                    float acc = 0;
                    for (int j = -r; j <= r; j++) acc += kernel[j + r] * tmp[Reflect(y + j, h) * w + x];
                    d[y * w + x] = acc;
                }
        }
    }
}
