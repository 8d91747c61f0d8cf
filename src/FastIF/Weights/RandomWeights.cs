using System.Numerics;
using FastIF.Models.UNet;
using FastIF.Tensors;

namespace FastIF.Weights;

/// <summary>
/// Random weights of a model's real shapes, for benchmarks and tests (no real weights can be downloaded here).
/// Values are a pure function of (seed, tensor name, index), so any tensor can be regenerated alone and the
/// result does not depend on thread count. Scales follow the fixture generator's scheme so activations stay O(1):
/// weights N(0, 1/fan_in), biases N(0, 0.05²), norm scales 1 + N(0, 0.15²), norm shifts N(0, 0.1²), embeddings N(0, 1/D).
/// </summary>
public static class RandomWeights
{
    /// <summary>
    /// Writes a diffusers unet folder: <c>config.json</c> and <c>diffusion_pytorch_model.safetensors</c> (fp32) or
    /// <c>diffusion_pytorch_model.fp16.safetensors</c> (fp16, the diffusers variant name). Streams one tensor at a
    /// time, so real sizes never sit in memory whole. Returns the weights file path.
    /// </summary>
    public static string WriteUNet(UNetConfig config, string directory, DType dtype, ulong seed,
        IProgress<(long Done, long Total)>? progress = null, CancellationToken cancel = default)
    {
        if (dtype is not (DType.F32 or DType.F16 or DType.BF16))
            throw new ArgumentException($"random weights are written as F32, F16 or BF16, not {dtype}", nameof(dtype));
        Directory.CreateDirectory(directory);
        var specs = new UNet2DCondition(config).Parameters;
        var file = Path.Combine(directory, dtype switch
        {
            DType.F16 => "diffusion_pytorch_model.fp16.safetensors",
            DType.BF16 => "diffusion_pytorch_model.bf16.safetensors",
            _ => "diffusion_pytorch_model.safetensors",
        });
        var meta = new Dictionary<string, string> { ["format"] = "pt", ["producer"] = "fastif weights random", ["seed"] = seed.ToString() };
        using (var w = new SafetensorsWriter(file, specs.Select(s => (s.Name, dtype, s.Shape)).ToList(), meta))
        {
            long total = specs.Sum(s => s.Shape.Elements), done = 0;
            foreach (var s in specs)
            {
                cancel.ThrowIfCancellationRequested();
                var values = new float[s.Shape.Elements];
                Fill(values, s, seed);
                w.Write(s.Name, values);
                done += values.Length;
                progress?.Report((done, total));
            }
            w.Commit();
        }
        File.WriteAllText(Path.Combine(directory, "config.json"), config.ToJson());
        return file;
    }

    /// <summary>
    /// Writes a diffusers IF snapshot folder: <c>unet/</c> with random weights (<see cref="WriteUNet"/>), IF's
    /// <c>scheduler/</c> config and, for stage II, <c>image_noising_scheduler/</c>.
    /// </summary>
    public static void WriteSnapshot(UNetConfig config, string directory, DType dtype, ulong seed,
        IProgress<(long Done, long Total)>? progress = null, CancellationToken cancel = default)
    {
        bool stageTwo = config.InChannels == 6;
        WriteUNet(config, Path.Combine(directory, "unet"), dtype, seed, progress, cancel);
        Directory.CreateDirectory(Path.Combine(directory, "scheduler"));
        File.WriteAllText(Path.Combine(directory, "scheduler", "scheduler_config.json"), Pipelines.IFStage.SchedulerJson(stageTwo));
        if (stageTwo)
        {
            Directory.CreateDirectory(Path.Combine(directory, "image_noising_scheduler"));
            File.WriteAllText(Path.Combine(directory, "image_noising_scheduler", "scheduler_config.json"), Pipelines.IFStage.ImageNoisingSchedulerJson);
        }
    }

    /// <summary>
    /// The folder of cached random weights for a preset (<c>$FASTIF_CACHE</c> or <c>~/.cache/fastif</c>, then
    /// <c>weights/{name}-{dtype}-s{seed}</c>), written on first use. A folder whose config differs is rewritten.
    /// </summary>
    public static string Cached(UNetConfig config, string name, DType dtype, ulong seed,
        IProgress<(long Done, long Total)>? progress = null, CancellationToken cancel = default)
    {
        var root = Environment.GetEnvironmentVariable("FASTIF_CACHE");
        if (string.IsNullOrEmpty(root))
            root = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "fastif");
        var dir = Path.Combine(root, "weights", $"{name}-{dtype.SafetensorsName().ToLowerInvariant()}-s{seed}");
        var cfg = Path.Combine(dir, "config.json");
        bool fresh = File.Exists(cfg) && File.ReadAllText(cfg) == config.ToJson()
            && Directory.GetFiles(dir, "diffusion_pytorch_model*.safetensors").Length == 1;
        if (!fresh)
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
            WriteUNet(config, dir, dtype, seed, progress, cancel);
        }
        return dir;
    }

    /// <summary>The diffusers variant name of the file <see cref="WriteUNet"/> writes for a dtype (null for fp32).</summary>
    public static string? VariantOf(DType dtype) => dtype switch { DType.F16 => "fp16", DType.BF16 => "bf16", _ => null };

    /// <summary>Fills <paramref name="values"/> with the tensor's deterministic random values.</summary>
    public static void Fill(Span<float> values, ParamSpec spec, ulong seed)
    {
        var (mean, std) = Scale(spec);
        ulong key = Mix(seed ^ Fnv1a(spec.Name));
        const int Chunk = 1 << 16;
        int n = values.Length;
        if (n <= Chunk) { Normal(values, key, 0, mean, std); return; }
        unsafe
        {
            fixed (float* p = values)
            {
                var ptr = (nint)p;
                Parallel.For(0, (n + Chunk - 1) / Chunk, c =>
                {
                    int start = c * Chunk, len = Math.Min(Chunk, n - start);
                    Normal(new Span<float>((float*)ptr + start, len), key, (ulong)start, mean, std);
                });
            }
        }
    }

    private static (float Mean, float Std) Scale(ParamSpec s) => s.Kind switch
    {
        ParamKind.Weight => (0f, 1f / MathF.Sqrt((float)(s.Shape.Elements / s.Shape[0]))),
        ParamKind.Bias => (0f, 0.05f),
        ParamKind.NormWeight => (1f, 0.15f),
        ParamKind.NormBias => (0f, 0.1f),
        ParamKind.Embedding => (0f, 1f / MathF.Sqrt(s.Shape[^1])),
        _ => throw new ArgumentOutOfRangeException(nameof(s), s.Kind, "unknown parameter kind"),
    };

    /// <summary>Box–Muller over a counter-based SplitMix64 stream: element i depends only on (key, i).</summary>
    private static void Normal(Span<float> dst, ulong key, ulong first, float mean, float std)
    {
        for (int i = 0; i < dst.Length; i += 2)
        {
            ulong r = Mix(key + (first + (ulong)i) * 0x9E3779B97F4A7C15UL);
            double u1 = ((r >> 11) + 1) * (1.0 / 9007199254740993.0); // (0, 1]
            double u2 = (Mix(r) >> 11) * (1.0 / 9007199254740992.0);
            double rad = Math.Sqrt(-2.0 * Math.Log(u1));
            var (sin, cos) = Math.SinCos(2 * Math.PI * u2);
            dst[i] = (float)(mean + std * rad * cos);
            if (i + 1 < dst.Length) dst[i + 1] = (float)(mean + std * rad * sin);
        }
    }

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    private static ulong Fnv1a(string s)
    {
        ulong h = 14695981039346656037UL;
        foreach (char ch in s) { h ^= ch; h *= 1099511628211UL; }
        return BitOperations.RotateLeft(h, 17);
    }
}
