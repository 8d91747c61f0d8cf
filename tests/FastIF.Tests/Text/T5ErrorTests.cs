using FastIF.Backends.Cpu;
using FastIF.Models.T5;
using FastIF.Tensors;
using FastIF.Weights;

namespace FastIF.Tests.Text;

/// <summary>T5 configs and checkpoints FastIF cannot use end in one error naming the key or the tensor.</summary>
public class T5ErrorTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"fastif-t5err-{Guid.NewGuid():N}");

    public T5ErrorTests()
    {
        var src = Fixtures.Require("t5", "t5-tiny");
        Directory.CreateDirectory(_dir);
        File.Copy(Path.Combine(src, "config.json"), Path.Combine(_dir, "config.json"));
        File.Copy(Path.Combine(src, "model.safetensors"), Path.Combine(_dir, "model.safetensors"));
    }

    public void Dispose() => Directory.Delete(_dir, true);

    private string Config => Path.Combine(_dir, "config.json");

    [Theory]
    [InlineData("\"gated-gelu\"", "\"relu\"", "feed_forward_proj")]
    [InlineData("\"gelu_new\"", "\"relu\"", "dense_act_fn")]
    [InlineData("\"d_ff\": 80", "\"d_ff\": -3", "d_ff")]
    [InlineData("\"num_heads\": 4", "\"num_heads\": \"four\"", "num_heads")]
    [InlineData("\"t5\"", "\"bert\"", "model_type")]
    [InlineData("\"T5EncoderModel\"", "\"BertModel\"", "architectures")]
    public void UnsupportedConfigsNameTheKey(string find, string replace, string key)
    {
        File.WriteAllText(Config, File.ReadAllText(Config).Replace(find, replace));
        var e = Assert.Throws<ConfigException>(() => T5Encoder.Load(_dir, CpuBackend.Instance));
        Assert.Contains(key, e.Message);
    }

    [Fact]
    public void MissingAndMisShapedTensorsAreListed()
    {
        var path = Path.Combine(_dir, "model.safetensors");
        List<(string, Shape, float[])> tensors;
        using (var f = SafetensorsFile.Open(path))
            tensors = f.Entries.Where(e => e.Name != "encoder.block.1.layer.1.DenseReluDense.wo.weight")
                .Select(e => (e.Name, e.Shape, f.ReadFloat32(e.Name))).ToList();
        SafetensorsWriter.Save(path, tensors);
        var e = Assert.Throws<WeightMismatchException>(() => T5Encoder.Load(_dir, CpuBackend.Instance));
        Assert.Contains("missing encoder.block.1.layer.1.DenseReluDense.wo.weight", e.Message);

        File.WriteAllText(Config, File.ReadAllText(Config).Replace("\"d_ff\": 80", "\"d_ff\": 96"));
        e = Assert.Throws<WeightMismatchException>(() => T5Encoder.Load(_dir, CpuBackend.Instance));
        Assert.Contains("mis-shaped encoder.block.0.layer.1.DenseReluDense.wi_0.weight: file has [80, 32], config needs [96, 32]", e.Message);
    }

    [Fact]
    public void BadIdsAndShapesAreShapeErrors()
    {
        using var enc = T5Encoder.Load(_dir, CpuBackend.Instance);
        var ids = new int[77];
        var mask = new int[77];
        ids[0] = 512;
        mask[0] = 1;
        Assert.Contains("outside the embedding", Assert.Throws<ShapeException>(() => enc.Encode(ids, mask, 1, 77, cancel: TestContext.Current.CancellationToken)).Message);
        Assert.Throws<ShapeException>(() => enc.Encode(new int[10], new int[10], 1, 77, cancel: TestContext.Current.CancellationToken));
    }
}
