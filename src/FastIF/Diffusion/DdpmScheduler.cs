namespace FastIF.Diffusion;

/// <summary>
/// diffusers' <c>DDPMScheduler</c> as IF configures it: cosine (<c>squaredcos_cap_v2</c>) betas, strided posterior
/// between any two timesteps, learned-range variance from the model's extra channels, dynamic thresholding of x0.
/// Host fp32 in and out (coefficients in double): the CPU twin of the fused GPU step kernel.
/// </summary>
public sealed class DdpmScheduler
{
    private float[] _scratch = [];

    /// <summary>Builds the tables of a config.</summary>
    public DdpmScheduler(SchedulerConfig config)
    {
        Config = config;
        int n = config.NumTrainTimesteps;
        Betas = new float[n];
        AlphasCumprod = new float[n];
        static double AlphaBar(double s) => Math.Pow(Math.Cos((s + 0.008) / 1.008 * Math.PI / 2), 2);
        float running = 1f;
        for (int i = 0; i < n; i++)
        {
            Betas[i] = (float)Math.Min(1 - AlphaBar((i + 1) / (double)n) / AlphaBar(i / (double)n), 0.999);
            // diffusers keeps betas, alphas and their running product in float32: so do we, for its exact constants.
            running *= 1f - Betas[i];
            AlphasCumprod[i] = running;
        }
    }

    /// <summary>The configuration.</summary>
    public SchedulerConfig Config { get; }

    /// <summary>β_t, float32 as diffusers stores them.</summary>
    public float[] Betas { get; }

    /// <summary>ᾱ_t, the float32 running product of 1 − β.</summary>
    public float[] AlphasCumprod { get; }

    /// <summary>ᾱ_t, or 1 for t &lt; 0 (the step after the last).</summary>
    public double AlphaBar(long t)
    {
        if (t >= AlphasCumprod.Length) throw new FastIFException($"timestep {t} is outside [0, {AlphasCumprod.Length})");
        return t < 0 ? 1.0 : AlphasCumprod[t];
    }

    /// <summary>
    /// Forward process: <c>dst = √ᾱ_t·x0 + √(1−ᾱ_t)·noise</c>, one timestep per batch item (spans hold
    /// <c>timesteps.Length</c> equal-sized items).
    /// </summary>
    public void AddNoise(ReadOnlySpan<float> x0, ReadOnlySpan<float> noise, ReadOnlySpan<long> timesteps, Span<float> dst)
    {
        if (x0.Length != noise.Length || x0.Length != dst.Length || timesteps.Length == 0 || x0.Length % timesteps.Length != 0)
            throw new ShapeException($"AddNoise: {x0.Length} values, {noise.Length} noise, {dst.Length} out, {timesteps.Length} timesteps");
        int per = x0.Length / timesteps.Length;
        for (int b = 0; b < timesteps.Length; b++)
        {
            if (timesteps[b] < 0) throw new FastIFException($"AddNoise: timestep {timesteps[b]} is negative");
            var (sa, sb) = NoiseCoefficients(timesteps[b]);
            for (int i = b * per; i < (b + 1) * per; i++) dst[i] = sa * x0[i] + sb * noise[i];
        }
    }

    /// <summary>The forward process's fp32 factors at t: (√ᾱ_t, √(1−ᾱ_t)).</summary>
    public (float Sa, float Sb) NoiseCoefficients(long t)
    {
        double a = AlphaBar(t);
        return ((float)Math.Sqrt(a), (float)Math.Sqrt(1 - a));
    }

    /// <summary>
    /// One reverse step from <paramref name="t"/> to <paramref name="prevT"/> (−1 after the last). Shapes: sample
    /// <c>[batch, C, hw]</c>, modelOutput <c>[batch, 2C, hw]</c> with learned-range variance (ε then v) or
    /// <c>[batch, C, hw]</c> otherwise. <paramref name="noise"/> (like the sample) is read only when t &gt; 0, as diffusers
    /// draws none at t = 0. Writes x_{prev} and the (thresholded) predicted x0.
    /// </summary>
    public void Step(ReadOnlySpan<float> modelOutput, ReadOnlySpan<float> sample, int batch, int channels, long t, long prevT,
        ReadOnlySpan<float> noise, Span<float> prevSample, Span<float> predX0)
    {
        CheckShapes(modelOutput, sample, batch, channels, prevSample, predX0);
        if (t > 0 && noise.Length != sample.Length)
            throw new ShapeException($"Step: t = {t} > 0 needs {sample.Length} noise values, got {noise.Length}");
        if (prevT >= t) throw new FastIFException($"Step: previous timestep {prevT} must be below {t}");
        StepChecked(Coefficients(t, prevT), modelOutput, sample, batch, t > 0 ? noise : [], prevSample, predX0);
    }

    private void CheckShapes(ReadOnlySpan<float> modelOutput, ReadOnlySpan<float> sample, int batch, int channels,
        ReadOnlySpan<float> prevSample, ReadOnlySpan<float> predX0)
    {
        if (batch <= 0 || channels <= 0 || sample.Length % (batch * channels) != 0)
            throw new ShapeException($"Step: sample of {sample.Length} values is not [{batch}, {channels}, ...]");
        int hw = sample.Length / (batch * channels), per = channels * hw;
        bool learned = Config.LearnedRangeVariance;
        if (modelOutput.Length != batch * (learned ? 2 * per : per))
            throw new ShapeException($"Step: model output has {modelOutput.Length} values, expected [{batch}, {(learned ? 2 : 1) * channels}, {hw}]");
        if (prevSample.Length != sample.Length || predX0.Length != sample.Length)
            throw new ShapeException("Step: output buffers must be the sample's size");
    }

    /// <summary>
    /// The constants of the step from <paramref name="t"/> to <paramref name="prevT"/> (−1 after the last), computed once per
    /// step: a fused GPU step reads them from a table instead of recomputing them per element.
    /// </summary>
    public StepCoefficients Coefficients(long t, long prevT)
    {
        double aT = AlphaBar(t), aP = AlphaBar(prevT);
        double bT = 1 - aT, bP = 1 - aP;
        double alphaS = aT / aP, betaS = 1 - alphaS;
        double varPost = Math.Max(bP / bT * betaS, 1e-20);
        return new StepCoefficients((float)Math.Sqrt(aT), (float)Math.Sqrt(bT), Math.Sqrt(aP) * betaS / bT, Math.Sqrt(alphaS) * bP / bT,
            Math.Log(varPost), Math.Log(betaS), (float)Math.Sqrt(varPost));
    }

    /// <summary>
    /// One reverse step with precomputed <paramref name="c"/>; <paramref name="noise"/> empty adds none (the last step).
    /// The per-element arithmetic is the contract of the GPU step kernels (kernels/step.cu).
    /// </summary>
    public void Step(in StepCoefficients c, ReadOnlySpan<float> modelOutput, ReadOnlySpan<float> sample, int batch, int channels,
        ReadOnlySpan<float> noise, Span<float> prevSample, Span<float> predX0)
    {
        CheckShapes(modelOutput, sample, batch, channels, prevSample, predX0);
        if (noise.Length != 0 && noise.Length != sample.Length)
            throw new ShapeException($"Step: {noise.Length} noise values for a sample of {sample.Length}");
        StepChecked(c, modelOutput, sample, batch, noise, prevSample, predX0);
    }

    private void StepChecked(in StepCoefficients c, ReadOnlySpan<float> modelOutput, ReadOnlySpan<float> sample, int batch,
        ReadOnlySpan<float> noise, Span<float> prevSample, Span<float> predX0)
    {
        int per = sample.Length / batch;
        bool learned = Config.LearnedRangeVariance;
        int outPer = learned ? 2 * per : per;
        for (int b = 0; b < batch; b++)
        {
            var x = sample.Slice(b * per, per);
            var eps = modelOutput.Slice(b * outPer, per);
            var x0 = predX0.Slice(b * per, per);
            for (int i = 0; i < per; i++) x0[i] = (x[i] - c.SqrtOneMinusAlphaBar * eps[i]) / c.SqrtAlphaBar;
            if (Config.Thresholding) Threshold(x0);
            else if (Config.ClipSample) Clip(x0, Config.ClipSampleRange);

            var prev = prevSample.Slice(b * per, per);
            for (int i = 0; i < per; i++) prev[i] = (float)(c.X0Coef * x0[i] + c.XtCoef * x[i]);
            if (noise.IsEmpty) continue;
            var z = noise.Slice(b * per, per);
            if (learned)
            {
                var v = modelOutput.Slice(b * outPer + per, per);
                for (int i = 0; i < per; i++)
                {
                    double frac = (v[i] + 1.0) / 2.0;
                    prev[i] += (float)(Math.Exp(0.5 * (frac * c.MaxLog + (1 - frac) * c.MinLog)) * z[i]);
                }
            }
            else
            {
                for (int i = 0; i < per; i++) prev[i] += c.FixedStd * z[i];
            }
        }
    }

    /// <summary>The dynamic-threshold scale of one sample: the ratio-quantile of |x0| (linear interpolation), clamped.</summary>
    public float ThresholdScale(ReadOnlySpan<float> x0)
    {
        if (_scratch.Length < x0.Length) _scratch = new float[x0.Length];
        var a = _scratch.AsSpan(0, x0.Length);
        for (int i = 0; i < a.Length; i++) a[i] = Math.Abs(x0[i]);
        a.Sort();
        double pos = Config.DynamicThresholdingRatio * (a.Length - 1);
        int lo = (int)Math.Floor(pos), hi = Math.Min(lo + 1, a.Length - 1);
        double s = a[lo] + (a[hi] - a[lo]) * (pos - lo);
        return (float)Math.Clamp(s, 1.0, Config.SampleMaxValue);
    }

    private void Threshold(Span<float> x0)
    {
        float s = ThresholdScale(x0);
        for (int i = 0; i < x0.Length; i++) x0[i] = Math.Clamp(x0[i], -s, s) / s;
    }

    private static void Clip(Span<float> x0, float r)
    {
        for (int i = 0; i < x0.Length; i++) x0[i] = Math.Clamp(x0[i], -r, r);
    }
}

/// <summary>
/// The constants of one DDPM step t → prev: √ᾱ_t and √(1−ᾱ_t) for x0 (fp32, as the per-element arithmetic uses them), the
/// posterior mean's coefficients on x0 and x_t, the log-variance range of learned-range variance, and the fixed posterior
/// standard deviation otherwise.
/// </summary>
public readonly record struct StepCoefficients(float SqrtAlphaBar, float SqrtOneMinusAlphaBar, double X0Coef, double XtCoef,
    double MinLog, double MaxLog, float FixedStd);
