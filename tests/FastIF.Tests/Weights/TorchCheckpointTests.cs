using System.IO.Compression;
using System.Text;
using FastIF.Tensors;
using FastIF.Tests.Cli;
using FastIF.Weights;

namespace FastIF.Tests.Weights;

/// <summary>
/// The PyTorch checkpoint reader on files laid out as torch.save lays them out (tools/testdata/make_torch_bins.py:
/// Python's own pickler on torch's reduce values), hostile pickles that name other globals, and fastif convert.
/// </summary>
[Collection("console")]
public class TorchCheckpointTests
{
    internal static string Data(string name) => Path.Combine(AppContext.BaseDirectory, "Weights", "data", name);

    [Fact]
    public void ReadsEveryTensorWithItsDtypeShapeAndValues()
    {
        using var ck = TorchCheckpoint.Open(Data("state_dict.bin"));
        Assert.Equal(["a.weight", "b.bias", "c.emb", "ids", "shared.first", "shared.rest", "transposed"], ck.Names);
        void Is(string name, DType dt, int[] shape)
        {
            Assert.True(ck.TryGetEntry(name, out var e));
            Assert.Equal(dt, e.DType);
            Assert.Equal(new Shape(shape), e.Shape);
        }
        Is("a.weight", DType.F32, [2, 3]);
        Is("b.bias", DType.F16, [4]);
        Is("c.emb", DType.BF16, [2, 2]);
        Is("ids", DType.I64, [3]);
        // The generator's values: a.weight = i/2 - 1, b.bias and c.emb as listed, ids 7, -1, 2^40.
        Assert.Equal(Enumerable.Range(0, 6).Select(i => i * 0.5f - 1), ck.ReadFloat32("a.weight"));
        Assert.Equal([0.25f, -1.5f, 3f, 1024f], ck.ReadFloat32("b.bias"));
        Assert.Equal([1f, -2f, 0.5f, 96f], ck.ReadFloat32("c.emb"));
        var ids = ck.ReadBytes("ids");
        Assert.Equal([7L, -1L, 1L << 40], Enumerable.Range(0, 3).Select(i => BitConverter.ToInt64(ids, 8 * i)));
        // Two views of one storage, and a transposed (strided) view gathered into row-major order.
        Assert.Equal([0f, 1f], ck.ReadFloat32("shared.first"));
        Assert.Equal([2f, 3f, 4f, 5f], ck.ReadFloat32("shared.rest"));
        Assert.Equal([0f, 10f, 1f, 11f, 2f, 12f], ck.ReadFloat32("transposed"));
    }

    /// <summary>A checkpoint whose data.pkl is <paramref name="pickle"/> (and one 4-byte float storage "0").</summary>
    internal static string WithPickle(byte[] pickle)
    {
        var path = Path.Combine(Path.GetTempPath(), $"fastif-evil-{Guid.NewGuid():N}.bin");
        using (var z = ZipFile.Open(path, ZipArchiveMode.Create))
        {
            using (var s = z.CreateEntry("archive/data.pkl", CompressionLevel.NoCompression).Open()) s.Write(pickle);
            using (var s = z.CreateEntry("archive/data/0", CompressionLevel.NoCompression).Open()) s.Write(new byte[4]);
        }
        return path;
    }

    /// <summary>Pickle bytes from parts: an int is one opcode/byte, a string its ASCII bytes (no C# escape pitfalls).</summary>
    private static byte[] Pickle(params object[] parts) =>
        parts.SelectMany(p => p is int b ? [(byte)b] : Encoding.ASCII.GetBytes((string)p)).ToArray();

    /// <summary>BINUNICODE: 'X', a 4-byte length, the bytes.</summary>
    private static object[] Str(string s) => [(int)'X', s.Length, 0, 0, 0, s];

    [Theory]
    [InlineData("os", "system")]
    [InlineData("posix", "system")]
    [InlineData("builtins", "eval")]
    [InlineData("__builtin__", "exec")]
    [InlineData("subprocess", "Popen")]
    [InlineData("torch", "load")]
    [InlineData("torch._utils", "_rebuild_device_tensor_from_numpy")]
    public void AnyOtherGlobalIsRefusedByName(string module, string name)
    {
        // The classic exploit: GLOBAL module.name, a string argument, REDUCE; and the same through STACK_GLOBAL.
        var viaGlobal = Pickle([0x80, 2, "c", module, "\n", name, "\n", "(", .. Str("echo hit"), "tR."]);
        var viaStack = Pickle([0x80, 4, 0x8c, module.Length, module, 0x8c, name.Length, name, 0x93, "(", .. Str("echo hit"), "tR."]);
        foreach (var bytes in new[] { viaGlobal, viaStack })
        {
            var path = WithPickle(bytes);
            try
            {
                var e = Assert.Throws<TorchCheckpointException>(() => TorchCheckpoint.Open(path));
                Assert.Contains($"\"{module}.{name}\"", e.Message);
            }
            finally { File.Delete(path); }
        }
    }

    [Fact]
    public void LegacyAndNonZipFilesAreNamed()
    {
        var legacy = Path.GetTempFileName();
        var junk = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(legacy, [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]);
            Assert.Contains("legacy torch.save format", Assert.Throws<TorchCheckpointException>(() => TorchCheckpoint.Open(legacy)).Message);
            File.WriteAllText(junk, "{\"not\": \"a checkpoint\"}");
            Assert.Contains("not a PyTorch checkpoint", Assert.Throws<TorchCheckpointException>(() => TorchCheckpoint.Open(junk)).Message);
        }
        finally { File.Delete(legacy); File.Delete(junk); }
    }

    [Fact]
    public void AViewPastItsStorageIsRefused()
    {
        // _rebuild_tensor_v2(storage of 1 float, offset 0, size (2,), stride (1,), False, OrderedDict()) inside {"w": ...}.
        var p = Pickle([0x80, 2, "}(", .. Str("w"), "ctorch._utils\n_rebuild_tensor_v2\n((", .. Str("storage"), "ctorch\nFloatStorage\n", .. Str("0"), .. Str("cpu"),
            "K", 1, "tQK", 0, "K", 2, 0x85, "K", 1, 0x85, 0x89, "ccollections\nOrderedDict\n)RtRu."]);
        var path = WithPickle(p);
        try { Assert.Contains("runs past its storage", Assert.Throws<TorchCheckpointException>(() => TorchCheckpoint.Open(path)).Message); }
        finally { File.Delete(path); }
    }

    [Fact]
    public void AHugeDimensionBesideAZeroOneIsRefused()
    {
        // size (0, 2^31), stride (1, 0): zero elements, but a dimension no Shape can hold.
        var p = Pickle([0x80, 2, "}(", .. Str("w"), "ctorch._utils\n_rebuild_tensor_v2\n((", .. Str("storage"), "ctorch\nFloatStorage\n", .. Str("0"), .. Str("cpu"),
            "K", 1, "tQK", 0, "K", 0, 0x8a, 5, 0, 0, 0, 0x80, 0, 0x86, "K", 1, "K", 0, 0x86, 0x89, "ccollections\nOrderedDict\n)RtRu."]);
        var path = WithPickle(p);
        try { Assert.Contains("too large", Assert.Throws<TorchCheckpointException>(() => TorchCheckpoint.Open(path)).Message); }
        finally { File.Delete(path); }
    }

    [Fact]
    public void AShardedConversionThatFailsLeavesNoShardsBehind()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"fastif-convert-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            foreach (var f in Directory.GetFiles(Path.GetDirectoryName(Data("state_dict.bin"))!).Where(f => f.Contains("pytorch_model")))
                File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
            // The second shard is damaged: the first converts, then the second fails.
            var second = Path.Combine(dir, "pytorch_model-00002-of-00002.bin");
            File.WriteAllBytes(second, File.ReadAllBytes(second)[..40]);
            var (code, _, err) = CliRunner.Run("convert", "--in", Path.Combine(dir, "pytorch_model.bin.index.json"));
            Assert.NotEqual(0, code);
            Assert.Contains("pytorch_model-00002-of-00002.bin", err);
            Assert.Empty(Directory.GetFiles(dir, "*.safetensors*"));
            Assert.Empty(Directory.GetFiles(dir, "*.tmp*"));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void ConvertWritesSafetensorsAndAnIndexThatReadBackEqual()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"fastif-convert-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            foreach (var f in Directory.GetFiles(Path.GetDirectoryName(Data("state_dict.bin"))!)) File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
            var (code, output, err) = CliRunner.Run("convert", "--in", dir);
            Assert.True(code == 0, err);
            Assert.Contains("model.safetensors.index.json", output);
            using (var st = SafetensorsFile.Open(Path.Combine(dir, "state_dict.safetensors")))
            using (var ck = TorchCheckpoint.Open(Data("state_dict.bin")))
                foreach (var name in ck.Names)
                {
                    ck.TryGetEntry(name, out var e);
                    Assert.Equal(e.Shape, st.GetEntry(name).Shape);
                    Assert.Equal(ck.ReadBytes(name), st.GetBytes(name).ToArray());
                }
            using (var sharded = Checkpoint.Open(Path.Combine(dir, "model.safetensors.index.json")))
            {
                Assert.Equal([1f, 2f, 3f, 4f], sharded.ReadFloat32("x.weight"));
                Assert.Equal([5f, 6f], sharded.ReadFloat32("y.weight"));
            }
            (code, _, err) = CliRunner.Run("convert", "--in", Path.Combine(dir, "state_dict.bin"), "--out", Path.Combine(dir, "half.safetensors"), "--dtype", "fp16");
            Assert.True(code == 0, err);
            using var half = SafetensorsFile.Open(Path.Combine(dir, "half.safetensors"));
            Assert.Equal(DType.F16, half.GetEntry("a.weight").DType);
            Assert.Equal(DType.I64, half.GetEntry("ids").DType);
            Assert.Empty(Directory.GetFiles(dir, "*.tmp*"));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void ConvertRefusesAHostileFileWithOneLineAndWritesNothing()
    {
        var path = WithPickle(Pickle([0x80, 2, "cos\nsystem\n(", .. Str("id"), "tR."]));
        try
        {
            var outPath = Path.ChangeExtension(path, ".safetensors");
            var (code, _, err) = CliRunner.Run("convert", "--in", path);
            Assert.Equal(2, code);
            Assert.StartsWith("error: ", err.Split('\n').First(l => l.StartsWith("error")));
            Assert.Contains("\"os.system\"", err);
            Assert.False(File.Exists(outPath));
        }
        finally { File.Delete(path); }
    }
}
