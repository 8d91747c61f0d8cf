using System.Buffers.Binary;
using System.Text;
using FastIF.Tensors;
using FastIF.Weights;

namespace FastIF.Tests.Weights;

public class SafetensorsTests
{
    private static string Temp(string name = "t.safetensors")
    {
        var dir = Path.Combine(Path.GetTempPath(), $"fastif-st-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        return Path.Combine(dir, name);
    }

    /// <summary>A file from a raw header string and data bytes.</summary>
    private static string Raw(string header, byte[] data)
    {
        var p = Temp();
        var h = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + h.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)h.Length);
        h.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + h.Length);
        File.WriteAllBytes(p, bytes);
        return p;
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F16)]
    [InlineData(DType.BF16)]
    public void FloatRoundTrip(DType dtype)
    {
        var r = new Random(5);
        var a = Enumerable.Range(0, 2 * 3 * 5).Select(_ => (float)(r.NextDouble() * 4 - 2)).ToArray();
        var b = new float[] { 0f, -0f, 1f, 65504f, 1e-7f };
        var p = Temp();
        SafetensorsWriter.Save(p, [("a", new Shape(2, 3, 5), a), ("b", new Shape(5), b)], dtype, new Dictionary<string, string> { ["k"] = "v" });
        using var f = SafetensorsFile.Open(p);
        Assert.Equal("v", f.Metadata["k"]);
        Assert.Equal(new Shape(2, 3, 5), f.GetEntry("a").Shape);
        Assert.Equal(dtype, f.GetEntry("a").DType);
        double tol = dtype switch { DType.F32 => 0, DType.F16 => 1e-3, _ => 8e-3 };
        var got = f.ReadFloat32("a");
        for (int i = 0; i < a.Length; i++) Assert.True(Math.Abs(got[i] - a[i]) <= tol * Math.Abs(a[i]), $"{dtype} [{i}] {got[i]} vs {a[i]}");
        Assert.Equal(0, (8 + BinaryPrimitives.ReadInt64LittleEndian(File.ReadAllBytes(p))) % 8);
    }

    [Fact]
    public void Int64RoundTripAndWrongDtypeErrors()
    {
        var p = Temp();
        using (var w = new SafetensorsWriter(p, [("t", DType.I64, new Shape(3)), ("x", DType.F32, new Shape(1))]))
        {
            w.Write("t", new long[] { 999, -1, long.MaxValue });
            w.Write("x", new float[] { 1 });
            w.Commit();
        }
        using var f = SafetensorsFile.Open(p);
        Assert.Equal(new long[] { 999, -1, long.MaxValue }, f.ReadInt64("t"));
        Assert.Contains("\"t\"", Assert.Throws<SafetensorsException>(() => f.ReadFloat32("t")).Message);
        Assert.Contains("\"x\"", Assert.Throws<SafetensorsException>(() => f.ReadInt64("x")).Message);
        Assert.Contains("\"nope\"", Assert.Throws<SafetensorsException>(() => f.GetEntry("nope")).Message);
    }

    [Fact]
    public void FixtureHalfWeightsAreTheFp32WeightsRounded()
    {
        var dir = Fixtures.Require("if", "if1_tiny");
        using var f32 = Checkpoint.OpenDirectory(dir, "diffusion_pytorch_model");
        using var f16 = Checkpoint.OpenDirectory(dir, "diffusion_pytorch_model", "fp16");
        Assert.Equal(f32.Names.Order(), f16.Names.Order());
        foreach (var n in f32.Names)
        {
            Assert.Equal(DType.F16, f16.GetEntry(n).DType);
            var a = f32.ReadFloat32(n);
            var b = f16.ReadFloat32(n);
            for (int i = 0; i < a.Length; i++) Assert.Equal((float)(Half)a[i], b[i]);
        }
    }

    [Fact]
    public void FixtureIoFileEntries()
    {
        using var f = SafetensorsFile.Open(Fixtures.Require("if", "unet_if1_io.safetensors"));
        Assert.Equal(new Shape(2, 3, 32, 32), f.GetEntry("case0.sample").Shape);
        Assert.Equal(DType.I64, f.GetEntry("case0.timestep").DType);
        Assert.Equal(new Shape(2), f.GetEntry("case0.timestep").Shape);
        Assert.Equal("unet_io_stage1", f.Metadata["kind"]);
    }

    [Fact]
    public void ShardedIndexAndVariantNaming()
    {
        var dir = Path.GetDirectoryName(Temp())!;
        SafetensorsWriter.Save(Path.Combine(dir, "model.fp16-00001-of-00002.safetensors"), [("a", new Shape(2), [1, 2])], DType.F16);
        SafetensorsWriter.Save(Path.Combine(dir, "model.fp16-00002-of-00002.safetensors"), [("b", new Shape(1), [3])], DType.F16);
        File.WriteAllText(Path.Combine(dir, "model.safetensors.index.fp16.json"),
            """{"metadata": {"total_size": 6}, "weight_map": {"a": "model.fp16-00001-of-00002.safetensors", "b": "model.fp16-00002-of-00002.safetensors"}}""");
        using (var ck = Checkpoint.OpenDirectory(dir, "model", "fp16"))
        {
            Assert.Equal(new[] { "a", "b" }, ck.Names.Order());
            Assert.Equal(new float[] { 3 }, ck.ReadFloat32("b"));
            Assert.EndsWith("model.fp16-00002-of-00002.safetensors", ck.FileOf("b"));
        }
        var e = Assert.Throws<SafetensorsException>(() => Checkpoint.OpenDirectory(dir, "model"));
        Assert.Contains("model.safetensors", e.Message);

        File.WriteAllText(Path.Combine(dir, "model.safetensors.index.fp16.json"),
            """{"weight_map": {"a": "model.fp16-00001-of-00002.safetensors", "c": "model.fp16-00002-of-00002.safetensors"}}""");
        e = Assert.Throws<SafetensorsException>(() => Checkpoint.OpenDirectory(dir, "model", "fp16"));
        Assert.Contains("\"c\"", e.Message);
        Assert.Contains("\"b\"", e.Message);

        File.WriteAllText(Path.Combine(dir, "model.safetensors.index.fp16.json"), """{"weight_map": {"a": "../../etc/passwd"}}""");
        Assert.Throws<SafetensorsException>(() => Checkpoint.OpenDirectory(dir, "model", "fp16"));
    }

    [Fact]
    public void MissingVariantSaysWhichWeightsExist()
    {
        var dir = Path.GetDirectoryName(Temp())!;
        SafetensorsWriter.Save(Path.Combine(dir, "diffusion_pytorch_model.safetensors"), [("a", new Shape(1), [1])]);
        var e = Assert.Throws<SafetensorsException>(() => Checkpoint.OpenDirectory(dir, "diffusion_pytorch_model", "fp16"));
        Assert.Contains("diffusion_pytorch_model.fp16.safetensors", e.Message);
        Assert.Contains("non-variant", e.Message);
    }

    [Fact]
    public void WriterEnforcesOrderSizeAndAtomicity()
    {
        var p = Temp();
        using (var w = new SafetensorsWriter(p, [("a", DType.F32, new Shape(2)), ("b", DType.F16, new Shape(3))]))
        {
            Assert.Contains("\"a\"", Assert.Throws<SafetensorsException>(() => w.Write("b", new float[3])).Message);
            Assert.Contains("needs 8 bytes", Assert.Throws<SafetensorsException>(() => w.Write("a", new float[3])).Message);
            w.Write("a", new float[2]);
            Assert.Contains("only 1 of 2", Assert.Throws<SafetensorsException>(() => w.Commit()).Message);
        }
        Assert.False(File.Exists(p));
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(p)!));
    }

    // Each violates one rule of the format; the message must name the rule's subject.
    [Theory]
    [InlineData("""{"a": {"dtype": "F33", "shape": [1], "data_offsets": [0, 4]}}""", 4, "unknown dtype")]
    [InlineData("""{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}""", 4, "needs 8 bytes")]
    [InlineData("""{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 8]}}""", 4, "beyond")]
    [InlineData("""{"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}""", 8, "overlaps")]
    [InlineData("""{"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}""", 8, "unindexed")]
    [InlineData("""{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}""", 8, "after the last tensor")]
    [InlineData("""{"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}""", 4, "non-negative")]
    [InlineData("""{"a": {"dtype": "F32", "shape": [4294967296, 4294967296, 4294967296], "data_offsets": [0, 4]}}""", 4, "exceeds")]
    [InlineData("""{"a": {"dtype": "F32", "shape": [2147483647, 2147483647, 2147483647], "data_offsets": [0, 4]}}""", 4, "overflows")]
    [InlineData("""{"a": {"dtype": "F32", "shape": [1], "data_offsets": [9223372036854775800, 9223372036854775807]}}""", 4, "beyond")]
    [InlineData("""{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0]}}""", 4, "[begin, end]")]
    [InlineData("""{"a": {"dtype": "F32", "shape": [1]}}""", 4, "[begin, end]")]
    [InlineData("""{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4], "extra": 1}}""", 4, "unknown entry field")]
    [InlineData("""{"__metadata__": {"k": 5}}""", 0, "must be a string")]
    [InlineData("""[1, 2]""", 0, "JSON object")]
    [InlineData("""{"a": """, 0, "not valid JSON")]
    [InlineData("""{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}""", 8, "twice")]
    public void CorruptHeadersAreRejectedWithTheirReason(string header, int dataBytes, string reason)
    {
        var p = Raw(header, new byte[dataBytes]);
        var e = Assert.Throws<SafetensorsException>(() => SafetensorsFile.Open(p));
        Assert.Contains(reason, e.Message);
        Assert.Contains(p, e.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    public void TooShortFiles(int length)
    {
        var p = Temp();
        File.WriteAllBytes(p, new byte[length]);
        Assert.Throws<SafetensorsException>(() => SafetensorsFile.Open(p));
    }

    [Fact]
    public void HeaderLengthBeyondTheFileOrLimit()
    {
        foreach (ulong n in new ulong[] { 1, 1000, ulong.MaxValue, (ulong)long.MaxValue + 1 })
        {
            var p = Temp();
            var b = new byte[64];
            BinaryPrimitives.WriteUInt64LittleEndian(b, n);
            File.WriteAllBytes(p, b);
            Assert.Contains("header length", Assert.Throws<SafetensorsException>(() => SafetensorsFile.Open(p)).Message);
        }
    }

    /// <summary>Truncations, bit flips and random bytes of a valid file end in our exception or a valid parse, quickly.</summary>
    [Fact]
    public void MutatedFilesFailCleanly()
    {
        var p = Temp();
        SafetensorsWriter.Save(p, [("w", new Shape(3, 4), Enumerable.Range(0, 12).Select(i => (float)i).ToArray()), ("b", new Shape(3), [1, 2, 3])],
            DType.F16, new Dictionary<string, string> { ["format"] = "pt" });
        var good = File.ReadAllBytes(p);
        var r = new Random(11);
        int tried = 0;
        void Try(byte[] bytes)
        {
            File.WriteAllBytes(p, bytes);
            tried++;
            try
            {
                using var f = SafetensorsFile.Open(p);
                foreach (var e in f.Entries) if (e.DType.IsFloat()) f.ReadFloat32(e.Name);
            }
            catch (SafetensorsException) { }
        }
        for (int len = 0; len < good.Length; len++) Try(good[..len]);
        for (int bit = 0; bit < good.Length * 8; bit++)
        {
            var m = (byte[])good.Clone();
            m[bit / 8] ^= (byte)(1 << (bit % 8));
            Try(m);
        }
        for (int i = 0; i < 300; i++)
        {
            var m = new byte[r.Next(0, 200)];
            r.NextBytes(m);
            if (m.Length >= 8 && r.Next(2) == 0) BinaryPrimitives.WriteUInt64LittleEndian(m, (ulong)r.Next(0, m.Length));
            Try(m);
        }
        Assert.True(tried > good.Length * 8);
    }
}
