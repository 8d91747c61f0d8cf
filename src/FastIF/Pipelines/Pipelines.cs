using FastIF.Diffusion;
using FastIF.Models.UNet;
using FastIF.Sampling;

namespace FastIF.Pipelines;

/// <summary>The text conditioning of a run: prompt and negative embeddings, each <c>[B, L, E]</c>.</summary>
public sealed record TextConditioning(float[] Prompt, float[] Negative);

/// <summary>
/// IF's pipelines as <see cref="SamplerRequest"/>s: each sets up its start sample, components and constraints the
/// way the diffusers pipeline does (same draws in the same order), then the one sampler runs it.
/// </summary>
public static class IFPipelines
{
    /// <summary>IFPipeline: x_T drawn first, then one draw per step with t &gt; 0.</summary>
    public static SamplerRequest TextToImage(UNet2DCondition unet, DdpmScheduler scheduler, TextConditioning text, long[] timesteps,
        float guidance, int batch, int height, int width, INoiseSource noise)
    {
        var start = new float[batch * 3 * height * width];
        noise.Next(start);
        return Request(unet, scheduler, text, timesteps, guidance, batch, height, width, noise, start);
    }

    /// <summary>
    /// IFImg2ImgPipeline (SDEdit): keep the last <c>min(⌊n·strength⌋, n)</c> timesteps and start from the image noised
    /// to the first of them.
    /// </summary>
    public static SamplerRequest ImageToImage(UNet2DCondition unet, DdpmScheduler scheduler, TextConditioning text, long[] timesteps,
        float guidance, int batch, int height, int width, INoiseSource noise, float[] image, double strength)
    {
        var ts = CutByStrength(timesteps, strength);
        var start = Noised(scheduler, image, ts[0], batch, noise);
        return Request(unet, scheduler, text, ts, guidance, batch, height, width, noise, start);
    }

    /// <summary>
    /// IFInpaintingPipeline: mask <c>[B, 1, H, W]</c> is 1 where the model paints; the start is
    /// <c>(1−m)·image + m·noised</c> and every step keeps the unmasked region (<see cref="KeepRegionConstraint"/>).
    /// </summary>
    public static SamplerRequest Inpaint(UNet2DCondition unet, DdpmScheduler scheduler, TextConditioning text, long[] timesteps,
        float guidance, int batch, int height, int width, INoiseSource noise, float[] image, float[] mask, double strength)
    {
        CheckBinary(mask);
        var ts = CutByStrength(timesteps, strength);
        var noised = Noised(scheduler, image, ts[0], batch, noise);
        var start = new float[noised.Length];
        Masks.Blend(mask, batch, height * width, image, noised, start);
        return Request(unet, scheduler, text, ts, guidance, batch, height, width, noise, start) with { Constraints = [new KeepRegionConstraint(mask)] };
    }

    /// <summary>
    /// IFSuperResolutionPipeline: x_T drawn first, then the augmentation noise; the low-res image is upscaled
    /// (bilinear, align_corners) and noised once to <paramref name="noiseLevel"/> with the image-noising schedule.
    /// </summary>
    public static SamplerRequest SuperResolution(UNet2DCondition unet, DdpmScheduler scheduler, DdpmScheduler imageNoising,
        TextConditioning text, long[] timesteps, float guidance, int batch, int height, int width, INoiseSource noise,
        float[] lowRes, int lowHeight, int lowWidth, int noiseLevel = 250)
    {
        var start = new float[batch * 3 * height * width];
        noise.Next(start);
        return Request(unet, scheduler, text, timesteps, guidance, batch, height, width, noise, start)
            with { Conditioning = StageTwoConditioning(imageNoising, lowRes, batch, lowHeight, lowWidth, height, width, noise, noiseLevel), ClassLabel = noiseLevel };
    }

    /// <summary>
    /// Stage II's conditioning image: the low-res image upscaled (bilinear, align_corners) and noised once to
    /// <paramref name="noiseLevel"/> with one draw. Any stage-II request (anagrams and hybrids too) uses it.
    /// </summary>
    public static float[] StageTwoConditioning(DdpmScheduler imageNoising, float[] lowRes, int batch, int lowHeight, int lowWidth,
        int height, int width, INoiseSource noise, int noiseLevel)
    {
        if (noiseLevel is < 0 or >= 1000) throw new FastIFException($"noise level {noiseLevel} must be in [0, 1000)");
        var up = Resize.BilinearAlignCorners(lowRes, batch * 3, lowHeight, lowWidth, height, width);
        return Noised(imageNoising, up, noiseLevel, batch, noise);
    }

    /// <summary>diffusers' strength rule: the last <c>min(⌊n·strength⌋, n)</c> entries.</summary>
    public static long[] CutByStrength(long[] timesteps, double strength)
    {
        if (!(strength > 0 && strength <= 1)) throw new FastIFException($"strength {strength} must be in (0, 1]");
        int n = timesteps.Length, init = Math.Min((int)(n * strength), n);
        if (init == 0) throw new FastIFException($"strength {strength} of {n} steps leaves no step to run");
        return timesteps[(n - init)..];
    }

    private static float[] Noised(DdpmScheduler s, float[] image, long t, int batch, INoiseSource noise)
    {
        var z = new float[image.Length];
        noise.Next(z);
        var dst = new float[image.Length];
        s.AddNoise(image, z, Enumerable.Repeat(t, batch).ToArray(), dst);
        return dst;
    }

    private static void CheckBinary(float[] mask)
    {
        foreach (var m in mask)
            if (m != 0f && m != 1f) throw new FastIFException($"inpainting mask must be binary (0 keep, 1 paint), found {m}");
    }

    private static SamplerRequest Request(UNet2DCondition unet, DdpmScheduler scheduler, TextConditioning text, long[] timesteps,
        float guidance, int batch, int height, int width, INoiseSource noise, float[] start) => new()
    {
        UNet = unet, Scheduler = scheduler, Timesteps = timesteps, GuidanceScale = guidance, Batch = batch,
        Height = height, Width = width, Start = start, Components = [new Component(text.Prompt, Views.Identity)],
        NegativeEmbeds = text.Negative, Noise = noise,
    };
}

/// <summary>Image resampling used by the pipelines.</summary>
public static class Resize
{
    /// <summary>
    /// Bilinear resize with <c>align_corners=True</c> (torch.nn.functional.interpolate): output pixel i samples the
    /// source at <c>i·(in−1)/(out−1)</c>, separable, no antialiasing. <paramref name="planes"/> images of h×w.
    /// </summary>
    public static float[] BilinearAlignCorners(float[] src, int planes, int h, int w, int oh, int ow)
    {
        if (src.Length != planes * h * w) throw new ShapeException($"resize: {src.Length} values are not {planes}x{h}x{w}");
        var dst = new float[planes * oh * ow];
        // torch computes the scale as float (in-1)/(out-1) and the source coordinate as scale·i in float.
        float sy = oh > 1 ? (float)(h - 1) / (oh - 1) : 0f, sx = ow > 1 ? (float)(w - 1) / (ow - 1) : 0f;
        for (int p = 0; p < planes; p++)
            for (int y = 0; y < oh; y++)
            {
                float fy = sy * y;
                int y0 = Math.Min((int)fy, h - 1), y1 = Math.Min(y0 + 1, h - 1);
                float ly = fy - y0;
                for (int x = 0; x < ow; x++)
                {
                    float fx = sx * x;
                    int x0 = Math.Min((int)fx, w - 1), x1 = Math.Min(x0 + 1, w - 1);
                    float lx = fx - x0;
                    var s = src.AsSpan(p * h * w, h * w);
                    float top = (1 - lx) * s[y0 * w + x0] + lx * s[y0 * w + x1];
                    float bottom = (1 - lx) * s[y1 * w + x0] + lx * s[y1 * w + x1];
                    dst[(p * oh + y) * ow + x] = (1 - ly) * top + ly * bottom;
                }
            }
        return dst;
    }
}
