using FastIF.Diffusion;

namespace FastIF.Sampling;

/// <summary>The state a constraint sees around one scheduler step. Arrays are <c>[B, 3, H, W]</c>.</summary>
public sealed class StepState
{
    /// <summary>Step index and count.</summary>
    public int Index { get; init; }
    /// <summary>Number of steps.</summary>
    public int Count { get; init; }
    /// <summary>Current and previous timestep (−1 after the last).</summary>
    public long T { get; init; }
    /// <summary>The timestep the step goes to.</summary>
    public long PrevT { get; init; }
    /// <summary>Images, height, width.</summary>
    public int Batch { get; init; }
    /// <summary>Height.</summary>
    public int Height { get; init; }
    /// <summary>Width.</summary>
    public int Width { get; init; }
    /// <summary>x_t: what the UNet sees (a before-step constraint may rewrite it).</summary>
    public required float[] X { get; init; }
    /// <summary>x_{t−1} after the scheduler (an after-step constraint may rewrite it).</summary>
    public required float[] XPrev { get; init; }
    /// <summary>The scheduler (for forward noising).</summary>
    public required DdpmScheduler Scheduler { get; init; }
    /// <summary>The run's noise source.</summary>
    public required INoiseSource Noise { get; init; }
}

/// <summary>A constraint on the sample applied around every step (inpainting, differential diffusion, ...).</summary>
public interface IConstraint
{
    /// <summary>Before the UNet call; may rewrite <see cref="StepState.X"/>.</summary>
    void BeforeStep(StepState s) { }
    /// <summary>After the scheduler update; may rewrite <see cref="StepState.XPrev"/>.</summary>
    void AfterStep(StepState s) { }
}

/// <summary>
/// diffusers' inpainting rule: after each step <c>x ← (1−m)·x_t + m·x_{t−1}</c> (m = 1 where the model paints), so
/// the kept region stays what it was at the start: the clean image when the run starts from
/// <c>(1−m)·image + m·noised</c>.
/// </summary>
public sealed class KeepRegionConstraint(float[] mask) : IConstraint
{
    /// <summary>1 where the model paints, <c>[B, 1, H, W]</c> or one <c>[H, W]</c> mask for every image.</summary>
    public float[] Mask => mask;

    /// <inheritdoc/>
    public void AfterStep(StepState s) => Masks.Blend(mask, s.Batch, s.Height * s.Width, s.X, s.XPrev, s.XPrev);
}

/// <summary>
/// RePaint-style inpainting: after each step the known region (m = 0) is replaced by the original re-noised to the
/// new sample's level: <c>x ← m·x_{t−1} + (1−m)·add_noise(x_orig, q, t−1)</c>, one fresh draw q per step
/// (x_orig itself after the last step).
/// </summary>
public sealed class RePaintConstraint(float[] original, float[] mask) : IConstraint
{
    /// <summary>The image whose known region is kept, <c>[B, 3, H, W]</c>.</summary>
    public float[] Original => original;
    /// <summary>1 where the model paints, <c>[B, 1, H, W]</c> or one <c>[H, W]</c> mask for every image.</summary>
    public float[] Mask => mask;

    /// <inheritdoc/>
    public void AfterStep(StepState s)
    {
        var known = original;
        if (s.PrevT >= 0)
        {
            var q = new float[original.Length];
            s.Noise.Next(q);
            known = new float[original.Length];
            s.Scheduler.AddNoise(original, q, Enumerable.Repeat(s.PrevT, s.Batch).ToArray(), known);
        }
        Masks.Blend(mask, s.Batch, s.Height * s.Width, known, s.XPrev, s.XPrev);
    }
}

/// <summary>
/// Differential Diffusion (exx8/differential-diffusion, IF img2img variant): a per-pixel strength map in [0, 1].
/// At step i the original is noised afresh to t_i and every pixel whose map value exceeds i/n is reset to it, so
/// map = 1 keeps the original and map = 0 is edited from step 1 on. Step 0 starts from the noised original.
/// <paramref name="discardInitialDraw"/> reproduces the official code's unused first draw. With <paramref name="soft"/>
/// the reset is a blend weighted by <c>clamp((map − i/n)·n, 0, 1)</c>, so strengths finer than 1/n take effect.
/// </summary>
public sealed class DifferentialDiffusionConstraint(float[] original, float[] map, bool discardInitialDraw = true, bool soft = false) : IConstraint
{
    /// <summary>The image being edited, <c>[B, 3, H, W]</c>.</summary>
    public float[] Original => original;
    /// <summary>The strength map, <c>[B, 1, H, W]</c> or one <c>[H, W]</c> map for every image.</summary>
    public float[] Map => map;
    /// <summary>Whether step 0 discards one draw first (the official code's unused draw).</summary>
    public bool DiscardInitialDraw => discardInitialDraw;
    /// <summary>Blend instead of a hard reset.</summary>
    public bool Soft => soft;

    /// <inheritdoc/>
    public void BeforeStep(StepState s)
    {
        if (s.Index == 0 && discardInitialDraw) s.Noise.Next(new float[original.Length]);
        var z = new float[original.Length];
        s.Noise.Next(z);
        var noised = new float[original.Length];
        s.Scheduler.AddNoise(original, z, Enumerable.Repeat(s.T, s.Batch).ToArray(), noised);
        Reset(s.X, noised, map, s.Batch, s.Height * s.Width, s.Index, s.Count, soft);
    }

    /// <summary>
    /// The per-pixel rule of step <paramref name="index"/> of <paramref name="count"/>: at step 0 x becomes the noised
    /// original; later a pixel whose map value exceeds index/count is reset to it (or, <paramref name="soft"/>, blended by
    /// <c>clamp((m − index/count)·count, 0, 1)</c>).
    /// </summary>
    public static void Reset(Span<float> x, ReadOnlySpan<float> noised, float[] map, int batch, int hw, int index, int count, bool soft)
    {
        if (index == 0)
        {
            noised.CopyTo(x);
            return;
        }
        if (map.Length != batch * hw && map.Length != hw)
            throw new ShapeException($"differential diffusion map has {map.Length} values, expected {batch}x{hw} or {hw}");
        float threshold = Threshold(index, count);
        for (int b = 0; b < batch; b++)
            for (int c = 0; c < 3; c++)
                for (int p = 0; p < hw; p++)
                {
                    int i = (b * 3 + c) * hw + p;
                    float m = map[(map.Length == hw ? 0 : b * hw) + p];
                    if (!soft) { if (m > threshold) x[i] = noised[i]; }
                    else
                    {
                        float wgt = Math.Clamp((m - threshold) * count, 0f, 1f);
                        x[i] = wgt * noised[i] + (1 - wgt) * x[i];
                    }
                }
    }

    /// <summary>The strength a pixel must exceed to be reset at step <paramref name="index"/> of <paramref name="count"/>.</summary>
    public static float Threshold(int index, int count) => (float)index / count;
}

/// <summary>Mask arithmetic shared by the inpainting start and constraints.</summary>
public static class Masks
{
    /// <summary>
    /// dst = (1−m)·keep + m·paint over <c>[B, 3, hw]</c> with m <c>[B, 1, hw]</c>, or one <c>[hw]</c> mask for every image,
    /// broadcast over channels.
    /// </summary>
    public static void Blend(float[] mask, int batch, int hw, float[] keep, float[] paint, float[] dst)
    {
        if (mask.Length != batch * hw && mask.Length != hw)
            throw new ShapeException($"mask has {mask.Length} values, expected {hw} per image for {batch} image(s)");
        for (int b = 0; b < batch; b++)
            for (int c = 0; c < 3; c++)
                for (int p = 0; p < hw; p++)
                {
                    int i = (b * 3 + c) * hw + p;
                    float m = mask[(mask.Length == hw ? 0 : b * hw) + p];
                    dst[i] = (1 - m) * keep[i] + m * paint[i];
                }
    }
}
