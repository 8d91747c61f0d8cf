using FastIF.Diffusion;
using FastIF.Pipelines;
using FastIF.Sampling;

namespace FastIF.Tests.Diffusion;

public class SamplingPartsTests
{
    // Known-answer vectors of Random123's kat_vectors for philox4x32 with 10 rounds: counter words, key words, output.
    [Theory]
    [InlineData(0u, 0u, 0u, 0u, 0u, 0u, 0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u)]
    [InlineData(0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu)]
    [InlineData(0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u, 0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u)]
    public void PhiloxMatchesRandom123(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1, uint o0, uint o1, uint o2, uint o3)
    {
        Span<uint> r = stackalloc uint[4];
        PhiloxNoise.Philox(((ulong)k1 << 32) | k0, ((ulong)c3 << 32) | c2, ((ulong)c1 << 32) | c0, r);
        Assert.Equal(new[] { o0, o1, o2, o3 }, r.ToArray());
    }

    [Fact]
    public void PhiloxNoiseIsStandardNormalAndKeyedByDraw()
    {
        var a = new PhiloxNoise(42);
        var d0 = new float[1 << 16];
        var d1 = new float[1 << 16];
        a.Next(d0);
        a.Next(d1);
        double mean = d0.Average(v => (double)v), var = d0.Average(v => (double)v * v) - mean * mean;
        Assert.InRange(mean, -0.02, 0.02);
        Assert.InRange(var, 0.97, 1.03);
        Assert.NotEqual(d0[..16], d1[..16]);
        var again = new float[1 << 16];
        PhiloxNoise.Fill(42, 1, again);
        Assert.Equal(d1, again);
        // An element depends only on (seed, draw, index): a shorter draw is a prefix.
        var prefix = new float[7];
        PhiloxNoise.Fill(42, 0, prefix);
        Assert.Equal(d0[..7], prefix);
    }

    public static TheoryData<string> ViewNames() => ["identity", "flip_v", "flip_h", "rot90", "rot180", "rot270", "transpose", "negate"];

    [Theory]
    [MemberData(nameof(ViewNames))]
    public void ViewsAreInvertible(string name)
    {
        var v = Views.ByName(name);
        var r = new Random(3);
        var x = Enumerable.Range(0, 6 * 8 * 8).Select(_ => (float)r.NextDouble()).ToArray();
        var y = new float[x.Length];
        var back = new float[x.Length];
        v.Apply(x, y, 6, 8, 8);
        v.Invert(y, back, 6, 8, 8);
        Assert.Equal(x, back);
        if (name != "identity") Assert.NotEqual(x, y);
    }

    [Fact]
    public void ViewsMoveThePixelsTheirNamesSay()
    {
        // 2x3 image: rows [0 1 2], [3 4 5].
        float[] x = [0, 1, 2, 3, 4, 5];
        float[] Apply(IView v) { var y = new float[6]; v.Apply(x, y, 1, 2, 3); return y; }
        Assert.Equal([3, 4, 5, 0, 1, 2], Apply(Views.FlipVertical));
        Assert.Equal([2, 1, 0, 5, 4, 3], Apply(Views.FlipHorizontal));
        Assert.Equal([0, 3, 1, 4, 2, 5], Apply(Views.Transpose));
        Assert.Equal([2, 5, 1, 4, 0, 3], Apply(Views.Rotate90));   // torch.rot90(k=1): counter-clockwise
        Assert.Equal([3, 0, 4, 1, 5, 2], Apply(Views.Rotate270));
        Assert.Equal([5, 4, 3, 2, 1, 0], Apply(Views.Rotate180));
    }

    [Fact]
    public void PatchPermutationsAndBadPermutations()
    {
        var v = Views.Patches(4, 4, 2, [3, 2, 1, 0]);
        var x = Enumerable.Range(0, 16).Select(i => (float)i).ToArray();
        var y = new float[16];
        var back = new float[16];
        v.Apply(x, y, 1, 4, 4);
        Assert.Equal(10f, y[0]);   // top-left patch comes from the bottom-right one
        v.Invert(y, back, 1, 4, 4);
        Assert.Equal(x, back);
        Assert.Throws<FastIFException>(() => Views.Permutation([0, 0, 1]));
        Assert.Throws<FastIFException>(() => Views.ByName("spin"));
    }

    [Theory]
    [InlineData(5, 0.7, new long[] { 400, 200, 0 })]
    [InlineData(5, 1.0, new long[] { 800, 600, 400, 200, 0 })]
    [InlineData(5, 0.2, new long[] { 0 })]
    public void StrengthKeepsTheLastSteps(int n, double strength, long[] expected)
        => Assert.Equal(expected, IFPipelines.CutByStrength(TimestepLists.Leading(n), strength));

    [Theory]
    [InlineData(0.0)]
    [InlineData(1.5)]
    [InlineData(0.1)]
    public void BadStrengthIsRefused(double strength)
        => Assert.Throws<FastIFException>(() => IFPipelines.CutByStrength(TimestepLists.Leading(5), strength));

    [Fact]
    public void CustomTimestepListsAreValidated()
    {
        Assert.Throws<FastIFException>(() => TimestepLists.Custom([500, 600]));
        Assert.Throws<FastIFException>(() => TimestepLists.Custom([1000, 0]));
        Assert.Throws<FastIFException>(() => TimestepLists.Custom([]));
        Assert.Throws<FastIFException>(() => TimestepLists.Named("fast28"));
        Assert.Equal(27, TimestepLists.Named("fast27").Length);
    }

    [Fact]
    public void BilinearAlignCornersKeepsCornersAndInterpolates()
    {
        float[] src = [0, 1, 2, 3];   // 2x2
        var up = Resize.BilinearAlignCorners(src, 1, 2, 2, 3, 3);
        Assert.Equal(new float[] { 0, 0.5f, 1, 1, 1.5f, 2, 2, 2.5f, 3 }, up);
    }

    [Fact]
    public void SchedulerConfigRejectsWhatItDoesNotImplement()
    {
        var e = Assert.Throws<ConfigException>(() => SchedulerConfig.Parse("""{"beta_schedule": "linear"}"""));
        Assert.Contains("beta_schedule", e.Message);
        Assert.Contains("prediction_type", Assert.Throws<ConfigException>(() => SchedulerConfig.Parse("""{"prediction_type": "v_prediction"}""")).Message);
        Assert.Contains("warp", Assert.Throws<ConfigException>(() => SchedulerConfig.Parse("""{"warp": 9}""")).Message);
    }

    private static StepState State(int index, int count, float[] x) => new()
    {
        Index = index, Count = count, T = 500, PrevT = 250, Batch = 1, Height = 1, Width = 2, X = x, XPrev = new float[x.Length],
        Scheduler = new DdpmScheduler(new SchedulerConfig()), Noise = new RecordedNoise([new float[6]]),
    };

    [Fact]
    public void DifferentialDiffusionHardAndSoftThresholds()
    {
        // Two pixels with map 0.30 and 0.20 at step 1 of 4 (threshold 0.25); the noise is zero, so "noised" = √ᾱ·original.
        float[] original = [1, 1, 1, 1, 1, 1];
        float[] map = [0.30f, 0.20f];
        var s = State(1, 4, [0, 0, 0, 0, 0, 0]);
        new DifferentialDiffusionConstraint(original, map, discardInitialDraw: false).BeforeStep(s);
        float a = (float)Math.Sqrt(s.Scheduler.AlphaBar(500));
        Assert.Equal(a, s.X[0], 6);     // 0.30 > 0.25: reset to the noised original
        Assert.Equal(0f, s.X[1]);       // 0.20 ≤ 0.25: left to the model
        var soft = State(1, 4, [0, 0, 0, 0, 0, 0]);
        new DifferentialDiffusionConstraint(original, map, discardInitialDraw: false, soft: true).BeforeStep(soft);
        Assert.Equal(0.2f * a, soft.X[0], 5);   // weight (0.30 − 0.25)·4 = 0.2
        Assert.Equal(0f, soft.X[1]);
    }

    [Fact]
    public void AnagramComposesWithAnInpaintMask()
    {
        var ifDir = Fixtures.Require("if");
        using var unet = Models.UNet.UNet2DCondition.Load(Path.Combine(ifDir, "if1_tiny"), Backends.Cpu.CpuBackend.Instance);
        var scheduler = new DdpmScheduler(SchedulerConfig.Load(Path.Combine(ifDir, "scheduler_if1", "scheduler_config.json")));
        int h = 16, w = 16, n = 3 * h * w;
        var noise = new PhiloxNoise(9);
        float[] Draw(int len) { var v = new float[len]; noise.Next(v); return v; }
        var start = Draw(n);
        var mask = new float[h * w];
        for (int p = 0; p < h * w; p++) mask[p] = p % w < w / 2 ? 1 : 0;   // repaint the left half
        var req = new SamplerRequest
        {
            UNet = unet, Scheduler = scheduler, Timesteps = TimestepLists.Leading(3), Height = h, Width = w, Start = start,
            Components = [new Component(Draw(7 * 48), Views.Identity), new Component(Draw(7 * 48), Views.FlipHorizontal)],
            NegativeEmbeds = Draw(7 * 48), Combiner = Combiners.Mean, Constraints = [new KeepRegionConstraint(mask)], Noise = noise,
        };
        var output = Sampler.Run(req, TestContext.Current.CancellationToken);
        for (int i = 0; i < n; i++)
        {
            Assert.False(float.IsNaN(output[i]));
            if (mask[i % (h * w)] == 0) Assert.Equal(start[i], output[i]);   // the kept half never moves
        }
        Assert.NotEqual(start[0], output[0]);
    }

    [Fact]
    public void RePaintWalkJumpsBackAsTheReferenceSchedule()
    {
        // get_schedule_jump(t_T=4, jump_length=1, jump_n_sample=2) walks 3 2 3 2 1 2 1 0 1 0 after the start at 4 (hand-traced).
        Assert.Equal([4, 3, 2, 3, 2, 1, 2, 1, 0, 1, 0], RePaintSchedule.Levels(4, 1, 2));
        Assert.Equal([3, 2, 1, 0], RePaintSchedule.Levels(3, 2, 1));
        Assert.Throws<FastIFException>(() => RePaintSchedule.Levels(3, 0, 1));
    }

    [Fact]
    public void FactorizedCombinersSplitAnEstimateIntoPartsThatSumBack()
    {
        int h = 24, w = 24, n = 3 * h * w;
        var r = new Random(8);
        float[] Est() => Enumerable.Range(0, 2 * n).Select(_ => (float)(r.NextDouble() * 2 - 1)).ToArray();
        var e = Est();
        var dst = new float[2 * n];
        // The same estimate in every slot: the bands of one signal add up to the signal.
        foreach (var (c, k) in new[] { (Combiners.LowHighPass(9, 1.5f), 2), (Combiners.ThreeBand(9, 2f, 5, 0.7f), 3), (Combiners.GrayColor, 2) })
        {
            c.Combine(Enumerable.Repeat(e, k).ToList(), h, w, dst);
            Numerics.AssertWithin($"{c.GetType().Name} of identical estimates", e, dst, 1e-5);
        }
        // Gray/colour: the channel mean of the result is the first estimate's gray, the rest the second's colour.
        var e0 = Est();
        var e1 = Est();
        Combiners.GrayColor.Combine([e0, e1], h, w, dst);
        int hw = h * w;
        for (int p = 0; p < hw; p++)
        {
            float gray0 = (e0[p] + e0[hw + p] + e0[2 * hw + p]) / 3, mean = (dst[p] + dst[hw + p] + dst[2 * hw + p]) / 3;
            Assert.Equal((double)gray0, mean, 1e-5);
            Assert.Equal((double)(e1[p] - e1[hw + p]), dst[p] - dst[hw + p], 1e-5);
        }
    }
}
