using FastIF.Backends;
using FastIF.Diffusion;
using FastIF.Models.UNet;

namespace FastIF.Pipelines;

/// <summary>
/// One stage of an IF snapshot folder (<c>unet/</c>, <c>scheduler/</c>, and for stage II <c>image_noising_scheduler/</c>),
/// loaded onto a backend.
/// </summary>
public sealed class IFStage : IDisposable
{
    private IFStage(UNet2DCondition unet, DdpmScheduler scheduler, DdpmScheduler? imageNoising)
    {
        UNet = unet;
        Scheduler = scheduler;
        ImageNoising = imageNoising;
    }

    /// <summary>The UNet with its weights.</summary>
    public UNet2DCondition UNet { get; }
    /// <summary>The sampling scheduler.</summary>
    public DdpmScheduler Scheduler { get; }
    /// <summary>Stage II's scheduler for noise augmentation of the low-res image (null for stage I).</summary>
    public DdpmScheduler? ImageNoising { get; }
    /// <summary>True for a super-resolution stage (6 input channels).</summary>
    public bool IsStageTwo => UNet.Config.InChannels == 6;

    /// <summary>Loads a snapshot folder; errors say which part is missing.</summary>
    public static IFStage Load(string snapshot, IBackend backend, string? variant = null)
    {
        if (!Directory.Exists(snapshot)) throw new FastIFException($"{snapshot}: model folder not found");
        var unetDir = Path.Combine(snapshot, "unet");
        var sched = Path.Combine(snapshot, "scheduler", "scheduler_config.json");
        if (!Directory.Exists(unetDir)) throw new FastIFException($"{snapshot}: no unet/ folder (expected a diffusers IF snapshot: unet/, scheduler/, ...)");
        if (!File.Exists(sched)) throw new FastIFException($"{snapshot}: no scheduler/scheduler_config.json");
        var scheduler = new DdpmScheduler(SchedulerConfig.Load(sched));
        var unet = UNet2DCondition.Load(unetDir, backend, variant);
        try
        {
            DdpmScheduler? noising = null;
            if (unet.Config.InChannels == 6)
            {
                var n = Path.Combine(snapshot, "image_noising_scheduler", "scheduler_config.json");
                if (!File.Exists(n)) throw new FastIFException($"{snapshot}: a stage-II snapshot needs image_noising_scheduler/scheduler_config.json");
                noising = new DdpmScheduler(SchedulerConfig.Load(n));
            }
            return new IFStage(unet, scheduler, noising);
        }
        catch
        {
            unet.Dispose();
            throw;
        }
    }

    /// <summary>IF's scheduler configs as diffusers writes them (stage I max 1.5, stage II 1.0; the image-noising one).</summary>
    public static string SchedulerJson(bool stageTwo) => $$"""
        {
          "_class_name": "DDPMScheduler",
          "beta_end": 0.02,
          "beta_schedule": "squaredcos_cap_v2",
          "beta_start": 0.0001,
          "clip_sample": true,
          "clip_sample_range": 1.0,
          "dynamic_thresholding_ratio": 0.95,
          "num_train_timesteps": 1000,
          "prediction_type": "epsilon",
          "sample_max_value": {{(stageTwo ? "1.0" : "1.5")}},
          "thresholding": true,
          "variance_type": "learned_range"
        }
        """;

    /// <summary>The image-noising scheduler config of stage II snapshots.</summary>
    public const string ImageNoisingSchedulerJson = """{"_class_name": "DDPMScheduler", "beta_schedule": "squaredcos_cap_v2"}""";

    /// <summary>Releases the weights.</summary>
    public void Dispose() => UNet.Dispose();
}
