using FastIF.Backends.Cpu;
using FastIF.Models.T5;
using FastIF.Tensors;
using FastIF.Weights;

namespace FastIF.Tests.Text;

/// <summary>
/// The T5 encoder on the CPU backend against ../shared/fixtures/t5 (computed in float64 from the stored weights by an
/// independent implementation checked against transformers): buckets exactly, position bias, embeddings, every block's
/// residual stream and the final output, with the F32 weights (single file and shards) and the fp16 variant, weights
/// resident and streamed. The fixture README's suggested fp32 check is max |diff| ≤ 1e-4.
/// </summary>
public class T5EncoderGoldenTests
{
    private const double MaxAbs = 1e-4;

    public static TheoryData<string, string, bool> Cases() => new()
    {
        { "t5-tiny", "", false }, { "t5-tiny", "", true },
        { "t5-tiny-sharded", "", false }, { "t5-tiny-sharded", "", true },
        { "t5-tiny-sharded", "fp16", false }, { "t5-tiny-sharded", "fp16", true },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void EncoderMatchesTheReference(string model, string variant, bool stream)
    {
        var dir = Fixtures.Require("t5", model);
        using var io = SafetensorsFile.Open(Path.Combine(dir, "io.safetensors"));
        var ids = io.ReadInt64("input_ids").Select(v => (int)v).ToArray();
        var mask = io.ReadInt64("attention_mask").Select(v => (int)v).ToArray();
        var shape = io.GetEntry("input_ids").Shape;
        int b = shape[0], l = shape[1];
        using var enc = T5Encoder.Load(dir, CpuBackend.Instance, new T5EncoderOptions(variant == "" ? null : variant, stream));
        Assert.Equal(stream, enc.Streaming);
        var seen = new List<string>();
        bool fp16 = variant == "fp16";
        using var y = enc.Encode(ids, mask, b, l, (name, t) =>
        {
            // Per-block tensors were recorded with the F32 weights only.
            if (fp16) return;
            Assert.Equal(io.GetEntry(name).Shape, t.Shape);
            Numerics.AssertClose($"{model} {name}", io.ReadFloat32(name), t.ToArray(), double.PositiveInfinity, MaxAbs);
            seen.Add(name);
        }, cancel: TestContext.Current.CancellationToken);
        var key = fp16 ? "last_hidden_state_fp16_weights" : "last_hidden_state";
        Assert.Equal(io.GetEntry(key).Shape, y.Shape);
        Numerics.AssertClose($"{model}{(fp16 ? " fp16" : "")} last_hidden_state", io.ReadFloat32(key), y.ToArray(), double.PositiveInfinity, MaxAbs);
        if (!fp16) Assert.Equal(1 + 2 * enc.Config.NumLayers, seen.Count);
    }

    [Theory]
    [InlineData("t5-tiny")]
    [InlineData("t5-tiny-sharded")]
    public void BucketsAreExactAndTheBiasIsTheTableAtThem(string model)
    {
        var dir = Fixtures.Require("t5", model);
        using var io = SafetensorsFile.Open(Path.Combine(dir, "io.safetensors"));
        var cfg = T5Config.Load(Path.Combine(dir, "config.json"));
        int l = io.GetEntry("input_ids").Shape[1];
        var buckets = T5Encoder.RelativePositionBuckets(l, cfg.RelativeBuckets, cfg.RelativeMaxDistance);
        Assert.Equal(io.ReadInt64("relative_position_bucket").Select(v => (int)v), buckets);
        using var ck = Checkpoint.OpenDirectory(dir, "model");
        var table = ck.ReadFloat32(T5Weights.RelativeBias);
        var bias = io.ReadFloat32("position_bias");
        for (int h = 0; h < cfg.NumHeads; h++)
            for (int p = 0; p < l * l; p++)
                Assert.Equal(table[buckets[p] * cfg.NumHeads + h], bias[h * l * l + p]);
    }

    [Fact]
    public void TheBucketTableOfTheReadmeHolds()
    {
        // ../shared/fixtures/t5/README.md, 32 buckets / 128: |n| 8-11 → 8, 12-15 → 9, ..., 64-90 → 14, >= 91 → 15; keys after +16.
        var b = T5Encoder.RelativePositionBuckets(200, 32, 128);
        int At(int n) => n >= 0 ? b[n] : b[-n * 200]; // row 0 gives key-after offsets, column 0 key-before ones
        int[] starts = [8, 12, 16, 23, 32, 46, 64, 91];
        for (int k = 0; k < starts.Length; k++)
        {
            Assert.Equal(8 + k, At(-starts[k]));
            Assert.Equal(24 + k, At(starts[k]));
            if (k > 0) Assert.Equal(7 + k, At(-(starts[k] - 1)));
        }
        Assert.Equal(15, At(-199));
        Assert.Equal(16 + 3, At(3));
        Assert.Equal(0, At(0));
    }
}
