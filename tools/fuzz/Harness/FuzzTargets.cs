using System.Text;
using FastIF.Diffusion;
using FastIF.Imaging;
using FastIF.Models.UNet;
using FastIF.Pipelines;
using FastIF.Tensors;
using FastIF.Weights;

namespace FastIF.Fuzz;

/// <summary>Every parser FastIF points at files people downloaded or drew, as fuzz targets with valid seeds.</summary>
public static class FuzzTargets
{
    /// <summary>The names of <see cref="All"/>'s targets.</summary>
    public static readonly string[] Names = ["safetensors", "safetensors-index", "unet-config", "scheduler-config", "t5-config", "profile-json", "png", "spiece", "torch-zip", "torch-pickle"];

    /// <summary>Builds every target; file-based ones read and write under <paramref name="scratch"/>. The tokenizer target
    /// starts from the fixtures' SentencePiece models (<paramref name="fixtures"/>/t5), the PyTorch ones from a torch.save-layout
    /// checkpoint (<paramref name="torchSample"/>, tests/FastIF.Tests/Weights/data/state_dict.bin); each is left out without its seed.</summary>
    public static IReadOnlyList<FuzzTarget> All(string scratch, string? fixtures = null, string? torchSample = null)
    {
        Directory.CreateDirectory(scratch);
        var all = new List<FuzzTarget> { Safetensors(scratch), ShardIndex(scratch), UNetConfigs(), SchedulerConfigs(), T5Configs(), Profiles(scratch), Pngs() };
        if (fixtures != null && File.Exists(Path.Combine(fixtures, "t5", "tiny_unigram.model"))) all.Add(SentencePiece(fixtures));
        if (torchSample != null && File.Exists(torchSample)) all.AddRange(Torch(scratch, torchSample));
        return all;
    }

    private static FuzzTarget Profiles(string scratch)
    {
        // The JSON `fastif profile --compare` reads back.
        var seed = Path.Combine(scratch, "seed-profile.json");
        new FastIF.Benchmarking.ProfileReport
        {
            Device = "cpu", Backend = "cpu", Preset = "tiny", Precision = "fp32", UNetBatch = 2, Size = 64, WallMs = 12.5,
            Calls = [new("conv2d 3x3", "[2, 3, 64, 64] -> [2, 32, 64, 64]", 1.5, 2e6, 4096), new("attention", "[2, 1024, 64] -> [2, 1024, 64]", 3.25, 5e6, 8192)],
        }.Save(seed);
        var file = Path.Combine(scratch, "input-profile.json");
        return new FuzzTarget("profile-json", [File.ReadAllBytes(seed)], bytes =>
        {
            File.WriteAllBytes(file, bytes);
            var r = FastIF.Benchmarking.ProfileReport.Load(file);
            FastIF.Benchmarking.ProfileReport.Compare(r, r);
        });
    }

    private static FuzzTarget T5Configs()
    {
        var seeds = new[] { FastIF.Models.T5.T5Config.Xxl, FastIF.Models.T5.T5Presets.Get("t5-tiny") }.Select(c => Encoding.UTF8.GetBytes(c.ToJson())).ToList();
        return new FuzzTarget("t5-config", seeds, bytes => FastIF.Models.T5.T5Config.Parse(Encoding.UTF8.GetString(bytes), "fuzz config.json"));
    }

    private static IEnumerable<FuzzTarget> Torch(string scratch, string sample)
    {
        var file = Path.Combine(scratch, "input.bin");
        void ReadAll(string path)
        {
            using var ck = TorchCheckpoint.Open(path);
            foreach (var n in ck.Names) ck.ReadBytes(n);
        }
        yield return new FuzzTarget("torch-zip", [File.ReadAllBytes(sample)], bytes =>
        {
            File.WriteAllBytes(file, bytes);
            ReadAll(file);
        });
        // The pickle alone, mutated inside an intact zip: most zip-level mutations never reach the unpickler.
        byte[] pickle;
        var records = new List<(string Name, byte[] Data)>();
        using (var z = System.IO.Compression.ZipFile.OpenRead(sample))
            foreach (var e in z.Entries)
            {
                using var s = e.Open();
                var ms = new MemoryStream();
                s.CopyTo(ms);
                records.Add((e.FullName, ms.ToArray()));
            }
        pickle = records.Single(r => r.Name.EndsWith("/data.pkl")).Data;
        yield return new FuzzTarget("torch-pickle", [pickle], bytes =>
        {
            using (var z = System.IO.Compression.ZipFile.Open(file + ".tmp", System.IO.Compression.ZipArchiveMode.Create))
                foreach (var (name, data) in records)
                {
                    using var s = z.CreateEntry(name, System.IO.Compression.CompressionLevel.NoCompression).Open();
                    s.Write(name.EndsWith("/data.pkl") ? bytes : data);
                }
            File.Move(file + ".tmp", file, overwrite: true);
            ReadAll(file);
        });
    }

    private static FuzzTarget SentencePiece(string fixtures)
    {
        // The tiny model whole, and the real one's header fields with a cut vocabulary, keep inputs small enough to try many.
        var seeds = new List<byte[]> { File.ReadAllBytes(Path.Combine(fixtures, "t5", "tiny_unigram.model")) };
        return new FuzzTarget("spiece", seeds, bytes =>
        {
            var tok = new FastIF.Text.T5Tokenizer(FastIF.Text.SentencePieceModel.Parse(bytes, "fuzz.model"));
            // Encoding exercises the (possibly mutated) normalizer trie and the piece trie.
            tok.Encode("A photo of a Café, ﬁne ①½ \t  x  </s> <extra_id_3> 🍕🍕");
        });
    }

    private static FuzzTarget Safetensors(string scratch)
    {
        var seeds = new List<byte[]>();
        foreach (var dt in new[] { DType.F32, DType.F16, DType.BF16 })
        {
            var p = Path.Combine(scratch, $"seed-{dt}.safetensors");
            SafetensorsWriter.Save(p, [("w", new Shape(3, 4), Enumerable.Range(0, 12).Select(i => i * 0.5f).ToArray()), ("b", new Shape(3), [1, 2, 3])],
                dt, new Dictionary<string, string> { ["format"] = "pt" });
            seeds.Add(File.ReadAllBytes(p));
        }
        var file = Path.Combine(scratch, "input.safetensors");
        return new FuzzTarget("safetensors", seeds, bytes =>
        {
            File.WriteAllBytes(file, bytes);
            using var f = SafetensorsFile.Open(file);
            foreach (var e in f.Entries) if (e.DType.IsFloat()) f.ReadFloat32(e.Name);
        });
    }

    private static FuzzTarget ShardIndex(string scratch)
    {
        var dir = Path.Combine(scratch, "sharded");
        Directory.CreateDirectory(dir);
        SafetensorsWriter.Save(Path.Combine(dir, "model-00001-of-00002.safetensors"), [("a.weight", new Shape(2, 2), [1, 2, 3, 4])]);
        SafetensorsWriter.Save(Path.Combine(dir, "model-00002-of-00002.safetensors"), [("b.weight", new Shape(3), [5, 6, 7])]);
        var index = """
            {"metadata": {"total_size": 28}, "weight_map": {"a.weight": "model-00001-of-00002.safetensors", "b.weight": "model-00002-of-00002.safetensors"}}
            """;
        var path = Path.Combine(dir, "model.safetensors.index.json");
        return new FuzzTarget("safetensors-index", [Encoding.UTF8.GetBytes(index)], bytes =>
        {
            File.WriteAllBytes(path, bytes);
            using var c = Checkpoint.Open(path);
            foreach (var n in c.Names) c.ReadFloat32(n);
        });
    }

    private static FuzzTarget UNetConfigs()
    {
        var seeds = new[] { "tiny", "tiny-ii", "if-i-xl", "if-ii-l" }.Select(p => Encoding.UTF8.GetBytes(UNetPresets.Get(p).ToJson())).ToList();
        return new FuzzTarget("unet-config", seeds, bytes => UNetConfig.Parse(Encoding.UTF8.GetString(bytes), "fuzz config.json"));
    }

    private static FuzzTarget SchedulerConfigs()
    {
        var seeds = new[] { IFStage.SchedulerJson(false), IFStage.SchedulerJson(true), IFStage.ImageNoisingSchedulerJson }
            .Select(Encoding.UTF8.GetBytes).ToList();
        return new FuzzTarget("scheduler-config", seeds, bytes =>
        {
            var cfg = SchedulerConfig.Parse(Encoding.UTF8.GetString(bytes), "fuzz scheduler_config.json");
            // A config that parses must also build a usable schedule.
            _ = new DdpmScheduler(cfg);
        });
    }

    private static FuzzTarget Pngs()
    {
        var seeds = new List<byte[]>();
        var px = Enumerable.Range(0, 8 * 6 * 4).Select(i => (byte)(i * 37)).ToArray();
        seeds.Add(Png.Encode(8, 6, PngColorType.Rgb, px.AsSpan(0, 8 * 6 * 3)));
        seeds.Add(Png.Encode(8, 6, PngColorType.Gray, px.AsSpan(0, 8 * 6)));
        seeds.Add(Png.Encode(8, 6, PngColorType.Rgba, px));
        var options = new PngReadOptions { MaxPixels = 1 << 20 };
        return new FuzzTarget("png", seeds, bytes => Png.Decode(bytes, options));
    }
}
