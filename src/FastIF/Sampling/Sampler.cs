using FastIF.Backends;
using FastIF.Diffusion;
using FastIF.Models.UNet;
using FastIF.Tensors;

namespace FastIF.Sampling;

/// <summary>One noise estimate of a step: a prompt embedding <c>[B, L, E]</c> seen through a view.</summary>
public sealed record Component(float[] PromptEmbeds, IView View);

/// <summary>Everything one sampling run needs; modes are different fillings of this, never different loops.</summary>
public sealed record SamplerRequest
{
    /// <summary>The UNet (weights loaded).</summary>
    public required UNet2DCondition UNet { get; init; }
    /// <summary>The scheduler.</summary>
    public required DdpmScheduler Scheduler { get; init; }
    /// <summary>Timesteps to visit, descending.</summary>
    public required long[] Timesteps { get; init; }
    /// <summary>Classifier-free guidance scale; ≤ 1 runs the conditional half only (as diffusers does).</summary>
    public float GuidanceScale { get; init; } = 7f;
    /// <summary>Images per run.</summary>
    public int Batch { get; init; } = 1;
    /// <summary>Image height.</summary>
    public required int Height { get; init; }
    /// <summary>Image width.</summary>
    public required int Width { get; init; }
    /// <summary>The starting sample x_T (or the noised image), <c>[B, 3, H, W]</c>.</summary>
    public required float[] Start { get; init; }
    /// <summary>Prompt × view pairs, all estimated in one batched UNet call per step.</summary>
    public required IReadOnlyList<Component> Components { get; init; }
    /// <summary>Negative (unconditional) embedding <c>[B, L, E]</c>.</summary>
    public required float[] NegativeEmbeds { get; init; }
    /// <summary>Merges the components' estimates.</summary>
    public ICombiner Combiner { get; init; } = Combiners.Single;
    /// <summary>Constraints applied around every step.</summary>
    public IReadOnlyList<IConstraint> Constraints { get; init; } = [];
    /// <summary>Random draws.</summary>
    public required INoiseSource Noise { get; init; }
    /// <summary>Stage II: the noise-augmented upscaled image <c>[B, 3, H, W]</c> concatenated after x_t.</summary>
    public float[]? Conditioning { get; init; }
    /// <summary>Stage II: the augmentation noise level fed as class label.</summary>
    public long? ClassLabel { get; init; }
    /// <summary>
    /// The walk over noise levels: level n = x at <c>Timesteps[0]</c>, level ℓ = x at <c>Timesteps[n−ℓ]</c>, level 0 = clean.
    /// Each move down one level is a denoising step, each move up one level a forward re-noising (RePaint's
    /// resampling jumps, see <see cref="RePaintSchedule"/>). Null walks straight down.
    /// </summary>
    public int[]? Levels { get; init; }
    /// <summary>Stop after this many steps (a partial run, e.g. one step from the middle of a schedule); null runs all.</summary>
    public int? StopAfter { get; init; }
    /// <summary>Sees every step (for traces, previews and progress).</summary>
    public Action<StepTrace>? OnStep { get; init; }
    /// <summary>Checks the UNet output and the new sample for NaN/Inf after every step and stops with
    /// <see cref="NonFiniteException"/> naming the step (on by default: one pass over host data the loop already holds).</summary>
    public bool CheckFinite { get; init; } = true;
    /// <summary>What the run is called in errors ("stage I", "stage II").</summary>
    public string Stage { get; init; } = "sampling";
    /// <summary>
    /// Run the fused step (<see cref="FusedSampler"/>: a plan, the backend's step kernels, on the GPU one CUDA graph per
    /// step) instead of the host loop. Null chooses: fused on a CUDA backend, the host loop on the CPU (the reference).
    /// </summary>
    public bool? Fused { get; init; }
    /// <summary>With the fused step on a CUDA backend: capture the step as a graph and replay it (default) or launch eagerly.</summary>
    public bool Graph { get; init; } = true;
    /// <summary>Times every denoising step (CUDA events on the GPU: no synchronisation in the loop); read it after the run.</summary>
    public Benchmarking.IOpClock? StepClock { get; init; }
}

/// <summary>A sampling step produced NaN or Inf: the message names the stage, step, timestep and the tensor.</summary>
public sealed class NonFiniteException(string message) : FastIFException(message);

/// <summary>What one step computed (host copies).</summary>
public sealed record StepTrace(int Index, long T, float[] X, float[] UNetOutput, float[] ModelOutput, float[] PredX0, float[] XPrev);

/// <summary>
/// The one sampling loop: per step, every (prompt, view) component's guided estimate in one UNet call, mapped back
/// through its view, combined, stepped by the scheduler, then constrained. Host-side fp32 orchestration; the CPU twin
/// of the fused GPU step.
/// </summary>
public static class Sampler
{
    /// <summary>Runs the request and returns the final sample <c>[B, 3, H, W]</c>.</summary>
    public static float[] Run(SamplerRequest r, CancellationToken cancel = default)
    {
        var unet = r.UNet;
        var be = unet.Backend ?? throw new InvalidOperationException("UNet has no weights loaded");
        if (r.Fused ?? be.Innermost() is Backends.Cuda.CudaBackend) return FusedSampler.Run(r, cancel);
        var cfg = unet.Config;
        int b = r.Batch, h = r.Height, w = r.Width, k = r.Components.Count, hw = h * w, img = 3 * hw;
        int cin = cfg.InChannels;
        Validate(r, cin);
        bool cfgOn = r.GuidanceScale > 1f;
        int halves = cfgOn ? 2 : 1, unetBatch = halves * k * b;

        using var ehsT = TextStates(r, be, halves);
        using var cls = ClassLabels(r, be, unetBatch);

        var x = (float[])r.Start.Clone();
        var prevTimes = TimestepLists.Previous(r.Timesteps);
        var input = new float[unetBatch * cin * hw];
        var concat = new float[cin * hw];
        var estimates = Enumerable.Range(0, k).Select(_ => new float[2 * img]).ToArray();
        var backU = new float[2 * img];
        int n = r.Timesteps.Length;
        var levels = Levels(r);
        int steps = StepCount(r), i = -1;
        for (int move = 0; move < levels.Length - 1 && i + 1 < steps; move++)
        {
            cancel.ThrowIfCancellationRequested();
            if (levels[move + 1] > levels[move])
            {
                Renoise(r, x, AlphaBarAtLevel(r, levels[move]), AlphaBarAtLevel(r, levels[move + 1]));
                continue;
            }
            i++;
            int clockToken = r.StepClock?.Start() ?? -1;
            int idx = n - levels[move];
            long t = r.Timesteps[idx], prev = prevTimes[idx];
            var state = new StepState
            {
                Index = i, Count = steps, T = t, PrevT = prev, Batch = b, Height = h, Width = w,
                X = x, XPrev = new float[x.Length], Scheduler = r.Scheduler, Noise = r.Noise,
            };
            foreach (var c in r.Constraints) c.BeforeStep(state);

            for (int half = 0; half < halves; half++)
                for (int c = 0; c < k; c++)
                    for (int bi = 0; bi < b; bi++)
                    {
                        x.AsSpan(bi * img, img).CopyTo(concat);
                        r.Conditioning?.AsSpan(bi * img, img).CopyTo(concat.AsSpan(img));
                        r.Components[c].View.Apply(concat, input.AsSpan(((half * k + c) * b + bi) * cin * hw, cin * hw), cin, h, w);
                    }
            float[] output;
            using (var inT = be.FromHost(input, new Shape(unetBatch, cin, h, w)))
            using (var ts = be.FromHost(Enumerable.Repeat((float)t, unetBatch).ToArray(), new Shape(unetBatch)))
            using (var y = unet.Forward(inT, ts, ehsT, cls))
                output = y.ToArray();
            if (r.CheckFinite) RequireFinite(r, output, "the UNet output", i, steps, t);

            var modelOutput = new float[b * 2 * img];
            for (int bi = 0; bi < b; bi++)
            {
                for (int c = 0; c < k; c++)
                {
                    var view = r.Components[c].View;
                    int cond = ((halves - 1) * k + c) * b + bi;
                    view.Invert(output.AsSpan(cond * 2 * img, 2 * img), estimates[c], 6, h, w);
                    if (cfgOn)
                    {
                        view.Invert(output.AsSpan((c * b + bi) * 2 * img, 2 * img), backU, 6, h, w);
                        var est = estimates[c];
                        for (int j = 0; j < img; j++) est[j] = backU[j] + r.GuidanceScale * (est[j] - backU[j]);
                    }
                }
                r.Combiner.Combine(estimates, h, w, modelOutput.AsSpan(bi * 2 * img, 2 * img));
            }

            var noise = t > 0 ? new float[x.Length] : [];
            if (t > 0) r.Noise.Next(noise);
            var x0 = new float[x.Length];
            r.Scheduler.Step(modelOutput, x, b, 3, t, prev, noise, state.XPrev, x0);
            foreach (var c in r.Constraints) c.AfterStep(state);
            if (r.CheckFinite) RequireFinite(r, state.XPrev, "the new sample", i, steps, t);
            r.StepClock?.Stop(clockToken);
            r.OnStep?.Invoke(new StepTrace(i, t, (float[])x.Clone(), output, modelOutput, x0, (float[])state.XPrev.Clone()));
            x = state.XPrev;
        }
        return x;
    }

    /// <summary>
    /// The text states of the UNet batch, <c>[neg(component 0..K−1, image) ; pos(component, image)]</c> (the negative half
    /// only with guidance), uploaded once: they never change during a run.
    /// </summary>
    internal static Tensor TextStates(SamplerRequest r, IBackend be, int halves)
    {
        int b = r.Batch, k = r.Components.Count, e = r.UNet.Config.EncoderHidDim, textLen = r.NegativeEmbeds.Length / (b * e);
        var ehs = new float[halves * k * b * textLen * e];
        for (int half = 0; half < halves; half++)
            for (int c = 0; c < k; c++)
            {
                var src = halves == 2 && half == 0 ? r.NegativeEmbeds : r.Components[c].PromptEmbeds;
                src.CopyTo(ehs, ((half * k + c) * b) * textLen * e);
            }
        return be.FromHost(ehs, new Shape(halves * k * b, textLen, e));
    }

    /// <summary>Stage II's class labels (the augmentation level) for every image of the UNet batch; null for stage I.</summary>
    internal static Tensor? ClassLabels(SamplerRequest r, IBackend be, int unetBatch) =>
        r.ClassLabel is { } nl ? be.FromHost(Enumerable.Repeat((float)nl, unetBatch).ToArray(), new Shape(unetBatch)) : null;

    internal static void RequireFinite(SamplerRequest r, float[] values, string what, int step, int steps, long t)
    {
        int bad = 0, first = -1;
        for (int j = 0; j < values.Length; j++)
            if (!float.IsFinite(values[j]))
            {
                bad++;
                if (first < 0) first = j;
            }
        if (bad == 0) return;
        throw NonFinite(r, what, step, steps, t, bad, values.Length, $"first at index {first}, {values[first]}");
    }

    internal static NonFiniteException NonFinite(SamplerRequest r, string what, int step, int steps, long t, long bad, long total, string detail) =>
        new($"{r.Stage} step {step + 1}/{steps} (t={t}): {what} holds {bad} NaN/Inf value(s) of {total} " +
            $"({detail}). Likely causes: fp16 overflow (try --precision bf16 or fp32), corrupt weights, " +
            "or extreme inputs; --no-nan-check runs on regardless");

    internal static int[] Levels(SamplerRequest r)
    {
        int n = r.Timesteps.Length;
        var levels = r.Levels ?? Enumerable.Range(0, n + 1).Select(l => n - l).ToArray();
        CheckLevels(levels, n);
        return levels;
    }

    /// <summary>How many denoising steps (UNet calls) a request makes: its level walk's downward moves, capped by StopAfter.</summary>
    public static int StepCount(SamplerRequest r)
    {
        var levels = Levels(r);
        int downs = Enumerable.Range(1, levels.Length - 1).Count(j => levels[j] < levels[j - 1]);
        return Math.Min(downs, r.StopAfter ?? int.MaxValue);
    }

    internal static double AlphaBarAtLevel(SamplerRequest r, int level) =>
        level == 0 ? 1.0 : r.Scheduler.AlphaBar(r.Timesteps[r.Timesteps.Length - level]);

    /// <summary>Forward diffusion from ᾱ_a up to ᾱ_b: x ← √(ᾱ_b/ᾱ_a)·x + √(1 − ᾱ_b/ᾱ_a)·z, one fresh draw.</summary>
    private static void Renoise(SamplerRequest r, float[] x, double alphaBarFrom, double alphaBarTo)
    {
        double ratio = alphaBarTo / alphaBarFrom;
        var z = new float[x.Length];
        r.Noise.Next(z);
        float a = (float)Math.Sqrt(ratio), s = (float)Math.Sqrt(1 - ratio);
        for (int i = 0; i < x.Length; i++) x[i] = a * x[i] + s * z[i];
    }

    private static void CheckLevels(int[] levels, int n)
    {
        if (levels.Length < 2 || levels[0] != n || levels[^1] != 0)
            throw new FastIFException($"a level walk must start at {n} (x_T) and end at 0 (clean)");
        for (int j = 1; j < levels.Length; j++)
            if (Math.Abs(levels[j] - levels[j - 1]) != 1 || levels[j] > n)
                throw new FastIFException($"level walk moves from {levels[j - 1]} to {levels[j]}: every move is one level up or down within [0, {n}]");
    }

    internal static void Validate(SamplerRequest r, int cin)
    {
        int b = r.Batch, img = 3 * r.Height * r.Width;
        if (b < 1) throw new FastIFException($"batch must be at least 1, got {b}");
        if (r.Components.Count == 0) throw new FastIFException("a sampling run needs at least one prompt/view component");
        if (r.Combiner.Components > 0 && r.Combiner.Components != r.Components.Count)
            throw new FastIFException($"the combiner takes {r.Combiner.Components} components, the request has {r.Components.Count}");
        if (r.Start.Length != b * img) throw new ShapeException($"start sample has {r.Start.Length} values, expected [{b}, 3, {r.Height}, {r.Width}]");
        if (r.Timesteps.Length == 0) throw new FastIFException("no timesteps to run");
        bool stage2 = r.Conditioning != null;
        if (stage2 != (cin == 6)) throw new FastIFException(cin == 6 ? "this stage-II UNet needs a conditioning image" : "conditioning image given to a stage-I UNet");
        if (stage2 && r.Conditioning!.Length != b * img) throw new ShapeException($"conditioning image has {r.Conditioning.Length} values, expected {b * img}");
        int e = r.UNet.Config.EncoderHidDim;
        if (r.NegativeEmbeds.Length == 0 || r.NegativeEmbeds.Length % (b * e) != 0)
            throw new ShapeException($"negative embeddings ({r.NegativeEmbeds.Length} values) are not [{b}, L, {e}]");
        foreach (var c in r.Components)
            if (c.PromptEmbeds.Length != r.NegativeEmbeds.Length)
                throw new ShapeException($"prompt embeddings ({c.PromptEmbeds.Length} values) differ in size from the negative ones ({r.NegativeEmbeds.Length})");
        if (r.Height != r.Width && r.Components.Any(c => c.View is PixelView pv && pv.OutputSize(r.Height, r.Width) != (r.Height, r.Width)))
            throw new FastIFException("views that swap height and width need a square image");
    }
}
