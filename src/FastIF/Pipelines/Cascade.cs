using System.Diagnostics;
using FastIF.Backends;
using FastIF.Backends.Cuda;
using FastIF.Diffusion;
using FastIF.Runtime;
using FastIF.Sampling;
using FastIF.Tensors;

namespace FastIF.Pipelines;

/// <summary>One stage of a cascade run.</summary>
/// <param name="Snapshot">The stage's IF snapshot folder.</param>
/// <param name="Timesteps">Timesteps to visit, descending.</param>
/// <param name="Guidance">Classifier-free guidance scale.</param>
/// <param name="Size">Output side in pixels.</param>
/// <param name="Variant">Weights variant (fp16...), or null.</param>
public sealed record CascadeStage(string Snapshot, long[] Timesteps, float Guidance, int Size, string? Variant = null);

/// <summary>What a stage cost.</summary>
/// <param name="Name">"stage I" or "stage II".</param>
/// <param name="Seconds">Load plus sampling, wall time.</param>
/// <param name="WeightBytes">The stage's weights as the backend holds them.</param>
/// <param name="PeakHostAnonBytes">Largest anonymous resident memory of the process seen during the stage (−1 where unknown).</param>
/// <param name="PeakDeviceBytes">Weights plus peak activation memory on the GPU, or null on the CPU.</param>
public sealed record StageReport(string Name, double Seconds, long WeightBytes, long PeakHostAnonBytes, long? PeakDeviceBytes);

/// <summary>
/// IF's cascade with a memory plan that fits small machines: the text is encoded first (by the caller), then stage I is
/// loaded, sampled and released, then stage II is loaded, conditioned on stage I's images, sampled and released, so at
/// most one UNet is resident at a time. Both stages use the same prompt embeddings and each its own noise stream of
/// the seed (stage II's draws do not depend on stage I's step count).
/// </summary>
public static class Cascade
{
    /// <summary>Runs both stages; returns stage I's <c>[B, 3, s1, s1]</c>, stage II's <c>[B, 3, s2, s2]</c> and the reports.</summary>
    public static (float[] StageOne, float[] StageTwo, IReadOnlyList<StageReport> Reports) Run(IBackend backend, TextConditioning text,
        CascadeStage one, CascadeStage two, int batch, ulong seed, int noiseLevel = 250, Action<string, StepTrace, int>? onStep = null,
        CancellationToken cancel = default)
    {
        var reports = new List<StageReport>();
        float[] low = RunStage(backend, "stage I", one, batch, reports, onStep, cancel, stage =>
        {
            if (stage.IsStageTwo) throw new FastIFException($"{one.Snapshot} is a stage-II snapshot; the cascade's first stage must be stage I");
            return IFPipelines.TextToImage(stage.UNet, stage.Scheduler, text, one.Timesteps, one.Guidance, batch, one.Size, one.Size, new PhiloxNoise(seed));
        });
        float[] high = RunStage(backend, "stage II", two, batch, reports, onStep, cancel, stage =>
        {
            if (!stage.IsStageTwo) throw new FastIFException($"{two.Snapshot} is a stage-I snapshot; the cascade's second stage must be stage II");
            return IFPipelines.SuperResolution(stage.UNet, stage.Scheduler, stage.ImageNoising!, text, two.Timesteps, two.Guidance, batch,
                two.Size, two.Size, new PhiloxNoise(seed + 1), low, one.Size, one.Size, noiseLevel);
        });
        return (low, high, reports);
    }

    private static float[] RunStage(IBackend backend, string name, CascadeStage s, int batch, List<StageReport> reports,
        Action<string, StepTrace, int>? onStep, CancellationToken cancel, Func<IFStage, SamplerRequest> build)
    {
        var sw = Stopwatch.StartNew();
        var cuda = backend as CudaBackend;
        cuda?.ActivationPool.ResetPeak();
        long peakAnon = ProcessMemory.AnonymousBytes();
        using var stage = IFStage.Load(s.Snapshot, backend, s.Variant);
        var req = build(stage);
        int steps = Sampler.StepCount(req);
        var image = Sampler.Run(req with
        {
            Stage = name,
            OnStep = t =>
            {
                peakAnon = Math.Max(peakAnon, ProcessMemory.AnonymousBytes());
                onStep?.Invoke(name, t, steps);
            },
        }, cancel);
        long weights = stage.UNet.LoadedWeightElements * (cuda?.Precision.Size() ?? 4);
        reports.Add(new StageReport(name, sw.Elapsed.TotalSeconds, weights, peakAnon, cuda == null ? null : weights + cuda.ActivationPool.PeakInUseBytes));
        return image;
    }
}
