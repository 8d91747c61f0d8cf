using System.Text.Json;
using System.Text.Json.Nodes;

namespace FastIF.Benchmarking;

/// <summary>Median, fastest and slowest of a list of timings (milliseconds), and the list itself.</summary>
public sealed record TimingStats(double Median, double Min, double Max, IReadOnlyList<double> All)
{
    /// <summary>The statistics of <paramref name="ms"/> (at least one value).</summary>
    public static TimingStats Of(IReadOnlyList<double> ms)
    {
        if (ms.Count == 0) throw new FastIFException("no timings to summarise: at least one timed repetition is needed");
        var s = ms.Order().ToArray();
        double median = s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
        return new TimingStats(median, s[0], s[^1], ms.ToArray());
    }

    /// <summary>The spread, (max − min) / median.</summary>
    public double Spread => Median > 0 ? (Max - Min) / Median : 0;

    internal JsonObject ToJson() => new()
    {
        ["median"] = Median, ["min"] = Min, ["max"] = Max, ["spread"] = Spread,
        ["all"] = new JsonArray(All.Select(v => (JsonNode?)JsonValue.Create(v)).ToArray()),
    };
}

/// <summary>A device's measured peaks, the roofline's two ceilings.</summary>
/// <param name="GemmTflops">TFLOP/s of a large GEMM in the backend's precision.</param>
/// <param name="CopyGBps">GB/s of a large memory copy (bytes read plus written).</param>
/// <param name="How">How they were measured.</param>
public sealed record DevicePeaks(double GemmTflops, double CopyGBps, string How)
{
    /// <summary>The roofline floor of work of <paramref name="gflop"/> GFLOP that must read <paramref name="bytes"/> bytes:
    /// the larger of the compute time at the GEMM peak and the read time at the copy bandwidth, in ms.</summary>
    public double FloorMs(double gflop, long bytes) => Math.Max(gflop / GemmTflops, bytes / (CopyGBps * 1e6));
}

/// <summary>
/// One benchmark result as <c>fastif bench --json</c> writes it, whatever the preset or backend: the only writer of bench
/// JSON, so CPU, GPU, T5 and cascade results carry the same keys (<see cref="RequiredKeys"/>). Derived figures
/// (achieved rates, floor, ratio) are computed here from the measured ones.
/// </summary>
public sealed record BenchReport
{
    /// <summary>Device name (GPU name, or CPU model and threads).</summary>
    public required string Device { get; init; }
    /// <summary>Backend (cpu, cuda).</summary>
    public required string Backend { get; init; }
    /// <summary>Preset (tiny, if-i-xl, t5-xxl, cascade, ...).</summary>
    public required string Preset { get; init; }
    /// <summary>Compute/storage precision of the backend (fp32 on the CPU).</summary>
    public required string Precision { get; init; }
    /// <summary>Images (or prompts) per timed unit.</summary>
    public required int Batch { get; init; }
    /// <summary>What one timed unit ("step") is.</summary>
    public required string Step { get; init; }
    /// <summary>Milliseconds per timed unit.</summary>
    public required TimingStats MsPerStep { get; init; }
    /// <summary>FLOPs of one timed unit counted from the executed graph, in GFLOP.</summary>
    public required double GflopPerForward { get; init; }
    /// <summary>Stored weight dtype, when weights were made for the run.</summary>
    public string? WeightsDtype { get; init; }
    /// <summary>View components per step (the UNet batch grows with them).</summary>
    public int Views { get; init; } = 1;
    /// <summary>The UNet batch of one call, for UNet presets.</summary>
    public int? UNetBatch { get; init; }
    /// <summary>How the UNet's upsamplers ran ("subpixel" or "nearest"), for UNet presets.</summary>
    public string? Upsample { get; init; }
    /// <summary>Image side, for UNet presets.</summary>
    public int? Size { get; init; }
    /// <summary>Bytes of weights one timed unit reads (every parameter once, as the backend holds them).</summary>
    public long? WeightBytes { get; init; }
    /// <summary>The device's measured peaks, or null where none are known.</summary>
    public DevicePeaks? Peaks { get; init; }
    /// <summary>Model load time in ms (to the last byte on the device).</summary>
    public double? LoadMs { get; init; }
    /// <summary>Bytes read from disk by the load.</summary>
    public long? LoadBytes { get; init; }
    /// <summary>Peak memory figures in bytes (host_resident, host_anonymous, device), −1 or absent where unknown.</summary>
    public IReadOnlyDictionary<string, long> PeakMemory { get; init; } = new Dictionary<string, long>();
    /// <summary>Mode-specific extras (eager/graph timings, per-stage figures), written as given.</summary>
    public IReadOnlyDictionary<string, JsonNode?> Extra { get; init; } = new Dictionary<string, JsonNode?>();
    /// <summary>The machine: OS, cores, runtime, CPU, and on a GPU driver, arch and library versions.</summary>
    public required IReadOnlyDictionary<string, string?> Machine { get; init; }
    /// <summary>The commit measured (<c>$FASTIF_COMMIT</c> or git), or null.</summary>
    public string? Commit { get; init; }
    /// <summary>The command line.</summary>
    public required string Command { get; init; }

    /// <summary>Achieved TFLOP/s at the median.</summary>
    public double AchievedTflops => GflopPerForward / MsPerStep.Median;
    /// <summary>Achieved GB/s of weight reads at the median, or null when the weight bytes are unknown.</summary>
    public double? AchievedGBps => WeightBytes is { } b ? b / (MsPerStep.Median * 1e6) : null;
    /// <summary>The roofline floor per timed unit, or null without peaks.</summary>
    public double? FloorMsPerStep => Peaks?.FloorMs(GflopPerForward, WeightBytes ?? 0);
    /// <summary>Median over the floor.</summary>
    public double? RatioToFloor => FloorMsPerStep is { } f && f > 0 ? MsPerStep.Median / f : null;
    /// <summary>Load bandwidth in GB/s, when known.</summary>
    public double? LoadGBps => LoadBytes is { } b && LoadMs is > 0 ? b / (LoadMs.Value * 1e6) : null;

    /// <summary>The keys every bench JSON has, with the JSON kinds each may take.</summary>
    public static IReadOnlyDictionary<string, JsonValueKind[]> RequiredKeys { get; } = new Dictionary<string, JsonValueKind[]>
    {
        ["device"] = [JsonValueKind.String], ["backend"] = [JsonValueKind.String], ["preset"] = [JsonValueKind.String],
        ["precision"] = [JsonValueKind.String], ["batch"] = [JsonValueKind.Number], ["steps"] = [JsonValueKind.Number],
        ["ms_per_step"] = [JsonValueKind.Object], ["gflop_per_forward"] = [JsonValueKind.Number],
        ["achieved_tflops"] = [JsonValueKind.Number], ["floor_ms_per_step"] = [JsonValueKind.Number, JsonValueKind.Null],
        ["commit"] = [JsonValueKind.String, JsonValueKind.Null], ["command"] = [JsonValueKind.String],
        ["machine"] = [JsonValueKind.Object],
    };

    /// <summary>The JSON object.</summary>
    public JsonObject ToJson()
    {
        var o = new JsonObject
        {
            ["device"] = Device, ["backend"] = Backend, ["preset"] = Preset, ["precision"] = Precision,
            ["weights_dtype"] = WeightsDtype, ["batch"] = Batch, ["views"] = Views, ["unet_batch"] = UNetBatch, ["size"] = Size, ["upsample"] = Upsample,
            ["steps"] = MsPerStep.All.Count, ["step"] = Step, ["ms_per_step"] = MsPerStep.ToJson(),
            ["gflop_per_forward"] = GflopPerForward, ["achieved_tflops"] = AchievedTflops,
            ["weight_bytes"] = WeightBytes, ["achieved_gbps"] = AchievedGBps,
            ["floor_ms_per_step"] = FloorMsPerStep, ["ratio_to_floor"] = RatioToFloor,
            ["peak_gemm_tflops"] = Peaks?.GemmTflops, ["peak_copy_gbps"] = Peaks?.CopyGBps, ["peaks_how"] = Peaks?.How,
            ["load_ms"] = LoadMs, ["load_bytes"] = LoadBytes, ["load_gbps"] = LoadGBps,
            ["peak_memory_bytes"] = new JsonObject(PeakMemory.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)JsonValue.Create(kv.Value)))),
        };
        foreach (var kv in Extra) o[kv.Key] = kv.Value?.DeepClone();
        o["commit"] = Commit;
        o["command"] = Command;
        o["machine"] = new JsonObject(Machine.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)JsonValue.Create(kv.Value))));
        return o;
    }

    /// <summary>Writes the JSON (indented, one trailing newline), atomically.</summary>
    public void Save(string path)
    {
        var tmp = path + ".tmp";
        File.WriteAllText(tmp, ToJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) + "\n");
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>Every way <paramref name="json"/> falls short of a bench result: missing keys, wrong kinds, bad timings.</summary>
    public static IReadOnlyList<string> Problems(JsonElement json)
    {
        var problems = new List<string>();
        if (json.ValueKind != JsonValueKind.Object) return ["the root is not an object"];
        foreach (var (key, kinds) in RequiredKeys)
        {
            if (!json.TryGetProperty(key, out var v)) problems.Add($"\"{key}\" is missing");
            else if (!kinds.Contains(v.ValueKind)) problems.Add($"\"{key}\" is {v.ValueKind}, expected {string.Join(" or ", kinds)}");
        }
        if (json.TryGetProperty("ms_per_step", out var ms) && ms.ValueKind == JsonValueKind.Object)
            foreach (var k in new[] { "median", "min", "max" })
                if (!ms.TryGetProperty(k, out var v) || v.ValueKind != JsonValueKind.Number || !(v.GetDouble() > 0))
                    problems.Add($"\"ms_per_step.{k}\" must be a positive number");
        return problems;
    }
}
