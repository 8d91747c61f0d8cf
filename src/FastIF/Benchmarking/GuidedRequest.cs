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
    public static SamplerRequest Build(UNet2DCondition unet, int images, int views, int size, int steps, ulong seed, int textTokens = 77)
    {
        var c = unet.Config;
        var noise = new PhiloxNoise(seed);
        float[] Draw(int n) { var v = new float[n]; noise.Next(v); return v; }
        var timesteps = TimestepLists.Leading(steps);
        bool two = c.InChannels == 6;
        var scheduler = new DdpmScheduler(SchedulerConfig.Parse(IFStage.SchedulerJson(two), "IF scheduler"));
        var text = new TextConditioning(Draw(images * textTokens * c.EncoderHidDim), Draw(images * textTokens * c.EncoderHidDim));
        var req = two
            ? IFPipelines.SuperResolution(unet, scheduler, new DdpmScheduler(SchedulerConfig.Parse(IFStage.ImageNoisingSchedulerJson, "image noising")),
                text, timesteps, 4f, images, size, size, noise, Draw(images * 3 * (size / 4) * (size / 4)), size / 4, size / 4)
            : IFPipelines.TextToImage(unet, scheduler, text, timesteps, 7f, images, size, size, noise);
        string[] names = ["identity", "flip_v", "flip_h", "rot180", "rot90", "rot270", "transpose", "negate"];
        if (views <= 1) return req;
        return req with
        {
            Components = Enumerable.Range(0, views).Select(v => new Component(text.Prompt, Views.ByName(names[v % names.Length]))).ToList(),
            Combiner = Combiners.Mean,
        };
    }
}
