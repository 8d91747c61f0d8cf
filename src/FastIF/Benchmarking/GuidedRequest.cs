using FastIF.Diffusion;
using FastIF.Models.UNet;
using FastIF.Pipelines;
using FastIF.Sampling;

namespace FastIF.Benchmarking;

/// <summary>The sampling request benchmarks and profiles time: IF's own pipeline on random inputs.</summary>
public static class GuidedRequest
{
    /// <summary>
    /// A classifier-free-guided request of <paramref name="steps"/> leading timesteps for <paramref name="unet"/>: stage I
    /// text-to-image, or stage II super-resolution of a random quarter-size image; <paramref name="views"/> &gt; 1 makes it an
    /// anagram of that many views (mean combiner). Embeddings, start and draws come from Philox(<paramref name="seed"/>).
    /// </summary>
    public static SamplerRequest Build(UNet2DCondition unet, int images, int views, int size, int steps, ulong seed, int textTokens = 77,
        DdpmScheduler? scheduler = null, DdpmScheduler? imageNoising = null)
    {
        if (images < 1) throw new FastIFException($"bench needs at least 1 image, got {images}");
        if (views < 1) throw new FastIFException($"--views must be at least 1, got {views}");
        var c = unet.Config;
        var noise = new PhiloxNoise(seed);
        float[] Draw(long n) { var v = new float[n]; noise.Next(v); return v; }
        var timesteps = TimestepLists.Leading(steps);
        bool two = c.InChannels == 6;
        scheduler ??= new DdpmScheduler(SchedulerConfig.Parse(IFStage.SchedulerJson(two), "IF scheduler"));
        var text = new TextConditioning(Draw((long)images * textTokens * c.EncoderHidDim), Draw((long)images * textTokens * c.EncoderHidDim));
        int low = Math.Max(size / 4, 1);
        var req = two
            ? IFPipelines.SuperResolution(unet, scheduler, imageNoising ?? new DdpmScheduler(SchedulerConfig.Parse(IFStage.ImageNoisingSchedulerJson, "image noising")),
                text, timesteps, 4f, images, size, size, noise, Draw((long)images * 3 * low * low), low, low)
            : IFPipelines.TextToImage(unet, scheduler, text, timesteps, 7f, images, size, size, noise);
        if (views == 1) return req;
        return req with
        {
            Components = Enumerable.Range(0, views).Select(v => new Component(text.Prompt, Cycle[v % Cycle.Length])).ToList(),
            Combiner = Combiners.Mean,
        };
    }

    // Size-preserving views, so any image side works; a count beyond the list repeats it (the UNet work is the same).
    private static readonly IView[] Cycle = [Views.Identity, Views.FlipVertical, Views.FlipHorizontal, Views.Rotate180, Views.Negate];
}
