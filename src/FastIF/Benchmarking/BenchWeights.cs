using FastIF.Models.T5;
using FastIF.Models.UNet;
using FastIF.Tensors;
using FastIF.Weights;

namespace FastIF.Benchmarking;

/// <summary>
/// Cached random weights for the bench presets that need more than a bare UNet folder (<see cref="RandomWeights.Cached"/>):
/// T5 text encoders and whole IF snapshots (unet/ plus schedulers) for the cascade. Folders live under
/// <c>$FASTIF_CACHE</c> (or <c>~/.cache/fastif</c>) and are rewritten when their config differs from the preset's.
/// </summary>
public static class BenchWeights
{
    /// <summary>The cache root.</summary>
    public static string Root()
    {
        var root = Environment.GetEnvironmentVariable("FASTIF_CACHE");
        return string.IsNullOrEmpty(root)
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "fastif") : root;
    }

    /// <summary>A T5 <c>text_encoder</c> folder of random weights for a preset, written on first use.</summary>
    public static string CachedT5(string preset, DType dtype, ulong seed, IProgress<(long Done, long Total)>? progress = null,
        CancellationToken cancel = default)
    {
        var config = T5Presets.Get(preset);
        var dir = Path.Combine(Root(), "weights", $"{preset}-{dtype.SafetensorsName().ToLowerInvariant()}-s{seed}");
        var cfg = Path.Combine(dir, "config.json");
        // The config is written last, so its presence with the right text means the shards are complete.
        bool fresh = File.Exists(cfg) && File.ReadAllText(cfg) == config.ToJson() + "\n"
            && File.Exists(Path.Combine(dir, "model.safetensors.index.json"));
        if (!fresh)
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
            T5RandomWeights.Write(config, dir, dtype, seed, progress, cancel);
        }
        return dir;
    }

    /// <summary>An IF snapshot folder (unet/, scheduler/, and for stage II image_noising_scheduler/) for a UNet preset.</summary>
    public static string CachedSnapshot(string preset, DType dtype, ulong seed, IProgress<(long Done, long Total)>? progress = null,
        CancellationToken cancel = default)
    {
        var config = UNetPresets.Get(preset);
        var dir = Path.Combine(Root(), "snapshots", $"{preset}-{dtype.SafetensorsName().ToLowerInvariant()}-s{seed}");
        var cfg = Path.Combine(dir, "unet", "config.json");
        bool fresh = File.Exists(cfg) && File.ReadAllText(cfg) == config.ToJson()
            && Directory.GetFiles(Path.Combine(dir, "unet"), "diffusion_pytorch_model*.safetensors").Length == 1
            && File.Exists(Path.Combine(dir, "scheduler", "scheduler_config.json"))
            && (config.InChannels != 6 || File.Exists(Path.Combine(dir, "image_noising_scheduler", "scheduler_config.json")));
        if (!fresh)
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
            RandomWeights.WriteSnapshot(config, dir, dtype, seed, progress, cancel);
        }
        return dir;
    }
}
