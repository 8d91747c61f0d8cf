using System.Text.Json;

namespace FastIF.Diffusion;

/// <summary>
/// diffusers <c>DDPMScheduler</c> config as IF uses it (<c>scheduler/scheduler_config.json</c>). Unknown keys and
/// values the engine does not implement are errors naming the key; absent keys take diffusers' defaults.
/// </summary>
public sealed record SchedulerConfig
{
    /// <summary>Training timesteps T (1000).</summary>
    public int NumTrainTimesteps { get; init; } = 1000;
    /// <summary>Whether the model's extra channels interpolate the log variance (<c>learned_range</c>) or it is fixed small.</summary>
    public bool LearnedRangeVariance { get; init; }
    /// <summary>Dynamic thresholding of x0 (IF: true).</summary>
    public bool Thresholding { get; init; }
    /// <summary>Quantile of |x0| used as the threshold (0.95).</summary>
    public float DynamicThresholdingRatio { get; init; } = 0.995f;
    /// <summary>Upper clamp of the threshold (1.5 stage I, 1.0 stage II).</summary>
    public float SampleMaxValue { get; init; } = 1f;
    /// <summary>Clip x0 to ±<see cref="ClipSampleRange"/> when thresholding is off.</summary>
    public bool ClipSample { get; init; } = true;
    /// <summary>Clip range.</summary>
    public float ClipSampleRange { get; init; } = 1f;
    /// <summary>Offset added to leading timesteps.</summary>
    public int StepsOffset { get; init; }

    /// <summary>Reads and validates a scheduler config file.</summary>
    public static SchedulerConfig Load(string path)
    {
        try { return Parse(File.ReadAllText(path), path); }
        catch (IOException e) { throw new ConfigException($"{path}: cannot read scheduler config: {e.Message}"); }
    }

    /// <summary>Parses and validates scheduler config JSON.</summary>
    public static SchedulerConfig Parse(string json, string source = "scheduler_config.json")
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 8 }); }
        catch (JsonException e) { throw new ConfigException($"{source}: not valid JSON: {e.Message}"); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new ConfigException($"{source}: expected a JSON object");
            var problems = new List<string>();
            var c = new SchedulerConfig();
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                var v = p.Value;
                string? Str() => v.ValueKind == JsonValueKind.String ? v.GetString() : null;
                void Bad(string what) => problems.Add($"\"{p.Name}\" {what}");
                switch (p.Name)
                {
                    case "_class_name":
                        if (Str() != "DDPMScheduler") Bad($"is {v.GetRawText()}; only DDPMScheduler is implemented");
                        break;
                    case "num_train_timesteps":
                        if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var n) && n is > 1 and <= 100_000) c = c with { NumTrainTimesteps = n };
                        else Bad($"must be an integer in [2, 100000], got {v.GetRawText()}");
                        break;
                    case "beta_schedule":
                        if (Str() != "squaredcos_cap_v2") Bad($"is {v.GetRawText()}; only \"squaredcos_cap_v2\" is implemented");
                        break;
                    case "variance_type":
                        if (Str() == "learned_range") c = c with { LearnedRangeVariance = true };
                        else if (Str() != "fixed_small") Bad($"is {v.GetRawText()}; only \"learned_range\" and \"fixed_small\" are implemented");
                        break;
                    case "prediction_type":
                        if (Str() != "epsilon") Bad($"is {v.GetRawText()}; only \"epsilon\" is implemented");
                        break;
                    case "timestep_spacing":
                        if (Str() != "leading") Bad($"is {v.GetRawText()}; only \"leading\" is implemented");
                        break;
                    case "thresholding": c = c with { Thresholding = Bool(v, p.Name, problems) }; break;
                    case "clip_sample": c = c with { ClipSample = Bool(v, p.Name, problems) }; break;
                    case "dynamic_thresholding_ratio": c = c with { DynamicThresholdingRatio = Num(v, p.Name, problems, 0, 1) }; break;
                    case "sample_max_value": c = c with { SampleMaxValue = Num(v, p.Name, problems, 1, float.MaxValue) }; break;
                    case "clip_sample_range": c = c with { ClipSampleRange = Num(v, p.Name, problems, 0, float.MaxValue) }; break;
                    case "steps_offset":
                        if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var o) && o >= 0) c = c with { StepsOffset = o };
                        else Bad($"must be a non-negative integer, got {v.GetRawText()}");
                        break;
                    case "rescale_betas_zero_snr":
                        if (v.ValueKind != JsonValueKind.False) Bad($"is {v.GetRawText()}; only false is implemented");
                        break;
                    case "trained_betas":
                        if (v.ValueKind != JsonValueKind.Null) Bad("must be null (custom betas are not implemented)");
                        break;
                    // Present in IF's files but unused by the cosine schedule / by DDPMScheduler.
                    case "beta_start" or "beta_end" or "lambda_min_clipped" or "_diffusers_version" or "_name_or_path": break;
                    default:
                        Bad("is not a DDPMScheduler option FastIF knows");
                        break;
                }
            }
            if (problems.Count > 0) throw new ConfigException($"{source}: unsupported scheduler config:\n  " + string.Join("\n  ", problems));
            return c;
        }
    }

    private static bool Bool(JsonElement v, string key, List<string> problems)
    {
        if (v.ValueKind is JsonValueKind.True or JsonValueKind.False) return v.GetBoolean();
        problems.Add($"\"{key}\" must be true or false, got {v.GetRawText()}");
        return false;
    }

    private static float Num(JsonElement v, string key, List<string> problems, float min, float max)
    {
        if (v.ValueKind == JsonValueKind.Number && v.GetDouble() >= min && v.GetDouble() <= max) return (float)v.GetDouble();
        problems.Add($"\"{key}\" must be a number in [{min}, {max}], got {v.GetRawText()}");
        return min;
    }
}
