using System.Runtime.InteropServices;
using FastIF.Diffusion;

namespace FastIF.Sampling;

/// <summary>
/// The constants of one denoising step as the fused step kernels read them from a device table (layout mirrored by
/// <c>fastif_step_row</c> in kernels/step.cu: 96 bytes, 8-byte aligned). Draw numbers are relative to the plan's first
/// draw; −1 means "no draw".
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct StepRow
{
    /// <summary>Posterior mean coefficient on x0.</summary>
    public double X0Coef;
    /// <summary>Posterior mean coefficient on x_t.</summary>
    public double XtCoef;
    /// <summary>Learned-range variance: log of the posterior variance (lower end).</summary>
    public double MinLog;
    /// <summary>Learned-range variance: log β (upper end).</summary>
    public double MaxLog;
    /// <summary>The scheduler's variance noise draw (−1 at t = 0).</summary>
    public long NoiseDraw;
    /// <summary>The before-step constraint's draw (differential diffusion's forward noise; −1 without one).</summary>
    public long BeforeDraw;
    /// <summary>The after-step constraint's draw (RePaint's re-noising; −1 when the original itself is blended in).</summary>
    public long AfterDraw;
    /// <summary>√ᾱ_t.</summary>
    public float SqrtAlphaBar;
    /// <summary>√(1 − ᾱ_t).</summary>
    public float SqrtOneMinusAlphaBar;
    /// <summary>Fixed posterior standard deviation (no learned variance).</summary>
    public float FixedStd;
    /// <summary>The timestep as the UNet sees it.</summary>
    public float TimestepValue;
    /// <summary>Forward-noise factors of the before constraint (at t).</summary>
    public float BeforeSa, BeforeSb;
    /// <summary>Forward-noise factors of the after constraint (at the step's previous timestep).</summary>
    public float AfterSa, AfterSb;
    /// <summary>Differential diffusion's strength threshold index/count.</summary>
    public float Threshold;
    /// <summary>Denoising step index (0-based).</summary>
    public int Index;
}

/// <summary>How x0 is bounded before the posterior mean.</summary>
public enum X0Bound
{
    /// <summary>Not at all.</summary>
    None,
    /// <summary>Clamped to ±clip range.</summary>
    Clip,
    /// <summary>Dynamic thresholding: clamp to ±s and divide by s, s the ratio-quantile of |x0| per image.</summary>
    Dynamic,
}

/// <summary>The after-step constraint of a fused run.</summary>
public enum AfterConstraint
{
    /// <summary>None.</summary>
    None,
    /// <summary>Keep the unmasked region as it was before the step (<see cref="KeepRegionConstraint"/>).</summary>
    KeepRegion,
    /// <summary>Replace the unmasked region by the re-noised original (<see cref="RePaintConstraint"/>).</summary>
    RePaint,
}

/// <summary>One move of a level walk: a denoising step (row index) or a forward re-noising (RePaint's jumps).</summary>
/// <param name="Row">The step's row, or −1 for a re-noising move.</param>
/// <param name="A">Re-noising: factor on x.</param>
/// <param name="S">Re-noising: factor on the fresh draw.</param>
/// <param name="Draw">Re-noising: the draw.</param>
public readonly record struct StepMove(int Row, float A, float S, long Draw);

/// <summary>
/// A <see cref="SamplerRequest"/> turned into data once, before the loop: view gather tables, the combiner and
/// constraints as kinds with their images, and a table of per-step constants with every random draw numbered in the
/// order <see cref="Sampler.Run"/> consumes them. The fused step kernels (GPU, and their CPU twins) read only this, so the
/// host does nothing per step but launch. Building a plan consumes the request's draws from its noise source.
/// </summary>
public sealed class StepPlan
{
    /// <summary>Images, height, width, prompt × view components, CFG halves (2 with guidance), UNet input channels.</summary>
    public required int Batch, Height, Width, Components, Halves, InChannels;
    /// <summary>The guidance scale.</summary>
    public required float Guidance;
    /// <summary>Per component: output pixel → source pixel of its view (<c>Components × H·W</c>).</summary>
    public required int[] Gather;
    /// <summary>Per component: pixel → its position in the view (the inverse of <see cref="Gather"/>).</summary>
    public required int[] Scatter;
    /// <summary>Per component: the view's value sign.</summary>
    public required float[] Signs;
    /// <summary>The combiner.</summary>
    public required CombineSpec Combine;
    /// <summary>x0 bound, dynamic-threshold ratio and maximum, clip range, learned-range variance.</summary>
    public required X0Bound Bound;
    /// <summary>Dynamic thresholding's quantile ratio.</summary>
    public required float Ratio;
    /// <summary>Dynamic thresholding's maximum scale.</summary>
    public required float MaxValue;
    /// <summary>The clip range.</summary>
    public required float ClipRange;
    /// <summary>Whether the model predicts a learned-range variance (6 output channels).</summary>
    public required bool Learned;
    /// <summary>Differential diffusion before each step (null: none).</summary>
    public required DifferentialDiffusionConstraint? Before;
    /// <summary>Differential diffusion's map expanded to <c>[B, H·W]</c>.</summary>
    public required float[]? BeforeMap;
    /// <summary>The after-step constraint.</summary>
    public required AfterConstraint After;
    /// <summary>Its original image <c>[B, 3, H·W]</c> (RePaint) and mask expanded to <c>[B, H·W]</c>.</summary>
    public required float[]? AfterOriginal, AfterMask;
    /// <summary>Stage II conditioning image <c>[B, 3, H·W]</c>.</summary>
    public required float[]? Conditioning;
    /// <summary>The moves of the walk, in order.</summary>
    public required StepMove[] Moves;
    /// <summary>One row per denoising step.</summary>
    public required StepRow[] Rows;
    /// <summary>The timestep of each row.</summary>
    public required long[] Timesteps;
    /// <summary>The Philox stream's seed and its draw number of relative draw 0 (when the source is Philox).</summary>
    public required ulong Seed, FirstDraw;
    /// <summary>Whether draws are Philox (computed by the kernels) rather than <see cref="RecordedDraws"/>.</summary>
    public required bool Philox;
    /// <summary>Every draw, materialised (sources other than Philox), <c>[DrawCount, B·3·H·W]</c>.</summary>
    public required float[]? RecordedDraws;
    /// <summary>Draws the run consumes.</summary>
    public required long DrawCount;

    /// <summary>Pixels per image plane.</summary>
    public int Pixels => Height * Width;
    /// <summary>Values of a sample <c>[B, 3, H, W]</c>.</summary>
    public int SampleSize => Batch * 3 * Pixels;
    /// <summary>Images per UNet call.</summary>
    public int UNetBatch => Halves * Components * Batch;

    /// <summary>Fills <paramref name="dst"/> (a sample's size) with relative draw <paramref name="draw"/>.</summary>
    public void Draw(long draw, Span<float> dst)
    {
        if (draw < 0 || draw >= DrawCount) throw new ArgumentOutOfRangeException(nameof(draw), $"draw {draw} outside [0, {DrawCount})");
        if (Philox) PhiloxNoise.Fill(Seed, FirstDraw + (ulong)draw, dst);
        else RecordedDraws.AsSpan((int)(draw * SampleSize), SampleSize).CopyTo(dst);
    }

    /// <summary>
    /// Builds the plan of <paramref name="r"/>. Throws <see cref="FastIFException"/> naming what the fused step cannot run:
    /// a custom view, combiner or constraint, more than one before- or after-step constraint.
    /// </summary>
    public static StepPlan Build(SamplerRequest r)
    {
        var cfg = r.UNet.Config;
        Sampler.Validate(r, cfg.InChannels);
        int b = r.Batch, h = r.Height, w = r.Width, k = r.Components.Count, hw = h * w;
        var gather = new int[k * hw];
        var scatter = new int[k * hw];
        var signs = new float[k];
        for (int c = 0; c < k; c++)
        {
            if (r.Components[c].View is not PixelView pv)
                throw new FastIFException($"view \"{r.Components[c].View.Name}\" is not a pixel view; the fused step runs pixel views only");
            var table = pv.GatherTable(h, w);
            table.CopyTo(gather, c * hw);
            for (int p = 0; p < hw; p++) scatter[c * hw + table[p]] = p;
            signs[c] = pv.ValueSign;
        }

        DifferentialDiffusionConstraint? before = null;
        AfterConstraint after = AfterConstraint.None;
        float[]? afterOriginal = null, afterMask = null;
        foreach (var con in r.Constraints)
        {
            switch (con)
            {
                case DifferentialDiffusionConstraint d when before == null: before = d; break;
                case KeepRegionConstraint keep when after == AfterConstraint.None:
                    after = AfterConstraint.KeepRegion; afterMask = PerImage(keep.Mask, b, hw, "inpainting mask"); break;
                case RePaintConstraint rp when after == AfterConstraint.None:
                    after = AfterConstraint.RePaint; afterMask = PerImage(rp.Mask, b, hw, "RePaint mask");
                    afterOriginal = Sized(rp.Original, b * 3 * hw, "RePaint image"); break;
                case DifferentialDiffusionConstraint or KeepRegionConstraint or RePaintConstraint:
                    throw new FastIFException("the fused GPU step runs at most one before-step (differential diffusion) and one after-step (inpainting) " +
                        "constraint; this combination runs on the host loop: --backend cpu");
                default: throw new FastIFException($"constraint {con.GetType().Name} is not a built-in one; the fused step runs the built-in constraints only");
            }
        }
        if (before != null) Sized(before.Original, b * 3 * hw, "differential diffusion image");

        var sched = r.Scheduler;
        var sc = sched.Config;
        int n = r.Timesteps.Length, steps = Sampler.StepCount(r);
        var levels = Sampler.Levels(r);
        var prevTimes = TimestepLists.Previous(r.Timesteps);
        var moves = new List<StepMove>();
        var rows = new List<StepRow>();
        var times = new List<long>();
        long draw = 0;
        for (int move = 0; move < levels.Length - 1 && rows.Count < steps; move++)
        {
            if (levels[move + 1] > levels[move])
            {
                double ratio = Sampler.AlphaBarAtLevel(r, levels[move + 1]) / Sampler.AlphaBarAtLevel(r, levels[move]);
                moves.Add(new StepMove(-1, (float)Math.Sqrt(ratio), (float)Math.Sqrt(1 - ratio), draw++));
                continue;
            }
            int i = rows.Count, idx = n - levels[move];
            long t = r.Timesteps[idx], prev = prevTimes[idx];
            var co = sched.Coefficients(t, prev);
            var row = new StepRow
            {
                X0Coef = co.X0Coef, XtCoef = co.XtCoef, MinLog = co.MinLog, MaxLog = co.MaxLog, SqrtAlphaBar = co.SqrtAlphaBar,
                SqrtOneMinusAlphaBar = co.SqrtOneMinusAlphaBar, FixedStd = co.FixedStd, TimestepValue = t, Index = i,
                NoiseDraw = -1, BeforeDraw = -1, AfterDraw = -1, Threshold = DifferentialDiffusionConstraint.Threshold(i, steps),
            };
            if (before != null)
            {
                if (i == 0 && before.DiscardInitialDraw) draw++;
                row.BeforeDraw = draw++;
                (row.BeforeSa, row.BeforeSb) = sched.NoiseCoefficients(t);
            }
            if (t > 0) row.NoiseDraw = draw++;
            if (after == AfterConstraint.RePaint && prev >= 0)
            {
                row.AfterDraw = draw++;
                (row.AfterSa, row.AfterSb) = sched.NoiseCoefficients(prev);
            }
            moves.Add(new StepMove(rows.Count, 0, 0, -1));
            rows.Add(row);
            times.Add(t);
        }

        bool philox = r.Noise is PhiloxNoise;
        float[]? recorded = null;
        ulong seed = 0, first = 0;
        int size = b * 3 * hw;
        if (r.Noise is PhiloxNoise ph)
        {
            (seed, first) = (ph.Seed, ph.DrawIndex);
            ph.Skip((ulong)draw);
        }
        else
        {
            recorded = new float[draw * size];
            for (long d = 0; d < draw; d++) r.Noise.Next(recorded.AsSpan((int)(d * size), size));
        }

        return new StepPlan
        {
            Batch = b, Height = h, Width = w, Components = k, Halves = r.GuidanceScale > 1f ? 2 : 1, InChannels = cfg.InChannels,
            Guidance = r.GuidanceScale, Gather = gather, Scatter = scatter, Signs = signs, Combine = Combiners.Describe(r.Combiner),
            Bound = sc.Thresholding ? X0Bound.Dynamic : sc.ClipSample ? X0Bound.Clip : X0Bound.None,
            Ratio = sc.DynamicThresholdingRatio, MaxValue = sc.SampleMaxValue, ClipRange = sc.ClipSampleRange, Learned = sc.LearnedRangeVariance,
            Before = before, BeforeMap = before == null ? null : PerImage(before.Map, b, hw, "differential diffusion map"),
            After = after, AfterOriginal = afterOriginal, AfterMask = afterMask, Conditioning = r.Conditioning,
            Moves = [.. moves], Rows = [.. rows], Timesteps = [.. times], Seed = seed, FirstDraw = first, Philox = philox,
            RecordedDraws = recorded, DrawCount = draw,
        };
    }

    private static float[] PerImage(float[] m, int batch, int hw, string what)
    {
        if (m.Length == batch * hw) return m;
        if (m.Length != hw) throw new ShapeException($"{what} has {m.Length} values, expected {hw} per image for {batch} image(s)");
        var all = new float[batch * hw];
        for (int i = 0; i < batch; i++) m.CopyTo(all, i * hw);
        return all;
    }

    private static float[] Sized(float[] a, int n, string what) =>
        a.Length == n ? a : throw new ShapeException($"{what} has {a.Length} values, expected {n}");
}
