using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace FastIF.Benchmarking;

/// <summary>Totals of one op kind in a profile.</summary>
public sealed record ProfileKind(string Op, int Calls, double Ms, double Share, double Gflop, double GBytes)
{
    /// <summary>Achieved TFLOP/s over the kind's time.</summary>
    public double Tflops => Ms > 0 ? Gflop / Ms : 0;
    /// <summary>Achieved GB/s over the kind's time.</summary>
    public double GBps => Ms > 0 ? GBytes / Ms * 1000 : 0;
}

/// <summary>One profiled step: where the time went, op by op and kind by kind. Saved as JSON for <c>--compare</c>.</summary>
public sealed record ProfileReport
{
    /// <summary>Device name.</summary>
    public required string Device { get; init; }
    /// <summary>Backend name.</summary>
    public required string Backend { get; init; }
    /// <summary>Preset or model folder.</summary>
    public required string Preset { get; init; }
    /// <summary>Storage precision.</summary>
    public required string Precision { get; init; }
    /// <summary>UNet batch of the profiled call.</summary>
    public required int UNetBatch { get; init; }
    /// <summary>Image side.</summary>
    public required int Size { get; init; }
    /// <summary>Wall time of the whole profiled call (ops plus the gaps between them).</summary>
    public required double WallMs { get; init; }
    /// <summary>Every op call in order.</summary>
    public required IReadOnlyList<OpCall> Calls { get; init; }
    /// <summary>The commit it was measured at ($FASTIF_COMMIT), when known.</summary>
    public string? Commit { get; init; }

    /// <summary>Sum of the op times.</summary>
    public double OpMs => Calls.Sum(c => c.Ms);

    /// <summary>Per-kind totals, slowest first; shares are of the summed op time.</summary>
    public IReadOnlyList<ProfileKind> ByKind()
    {
        double total = Math.Max(OpMs, 1e-12);
        return Calls.GroupBy(c => c.Op)
            .Select(g => new ProfileKind(g.Key, g.Count(), g.Sum(c => c.Ms), g.Sum(c => c.Ms) / total, g.Sum(c => c.Flops) / 1e9, g.Sum(c => (double)c.Bytes) / 1e9))
            .OrderByDescending(k => k.Ms).ToList();
    }

    /// <summary>The <paramref name="n"/> slowest distinct op signatures (kind and shapes), with call counts.</summary>
    public IReadOnlyList<(string Op, string Shapes, int Calls, double Ms, double Gflop, double GBytes)> Hottest(int n) =>
        Calls.GroupBy(c => (c.Op, c.Shapes))
            .Select(g => (g.Key.Op, g.Key.Shapes, g.Count(), g.Sum(c => c.Ms), g.Sum(c => c.Flops) / 1e9, g.Sum(c => (double)c.Bytes) / 1e9))
            .OrderByDescending(r => r.Item4).Take(n).ToList();

    /// <summary>Writes the report as JSON.</summary>
    public void Save(string path) => File.WriteAllText(path, JsonSerializer.Serialize(this, ProfileJson.Default.ProfileReport) + "\n");

    /// <summary>Reads a report written by <see cref="Save"/>.</summary>
    public static ProfileReport Load(string path)
    {
        ProfileReport r;
        try
        {
            r = JsonSerializer.Deserialize(File.ReadAllText(path), ProfileJson.Default.ProfileReport)
                ?? throw new FastIFException($"{path}: empty profile");
        }
        catch (JsonException e) { throw new FastIFException($"{path}: not a FastIF profile ({e.Message})"); }
        // The serializer fills what is present; a profile must also make sense to compare.
        if (r.Device is null || r.Backend is null || r.Preset is null || r.Precision is null || r.Calls is null)
            throw new FastIFException($"{path}: not a FastIF profile (device, backend, preset, precision and calls are required)");
        foreach (var c in r.Calls)
            if (c is null || c.Op is null || c.Shapes is null || !(c.Ms >= 0) || !double.IsFinite(c.Ms) || !double.IsFinite(c.Flops) || c.Bytes < 0)
                throw new FastIFException($"{path}: a call entry is incomplete or holds a negative or non-finite figure");
        if (!double.IsFinite(r.WallMs)) throw new FastIFException($"{path}: wall_ms is not a finite number");
        return r;
    }

    /// <summary>A per-kind comparison table of two profiles (B relative to A).</summary>
    public static string Compare(ProfileReport a, ProfileReport b)
    {
        var ka = a.ByKind().ToDictionary(k => k.Op);
        var kb = b.ByKind().ToDictionary(k => k.Op);
        var sb = new StringBuilder();
        sb.AppendLine($"A: {a.Preset} {a.Backend} {a.Precision} on {a.Device} ({a.Commit ?? "?"}), B: {b.Preset} {b.Backend} {b.Precision} on {b.Device} ({b.Commit ?? "?"})");
        sb.AppendLine($"{"op",-14} {"A ms",10} {"B ms",10} {"B/A",7} {"A calls",8} {"B calls",8}");
        foreach (var op in ka.Keys.Union(kb.Keys).OrderByDescending(o => Math.Max(ka.GetValueOrDefault(o)?.Ms ?? 0, kb.GetValueOrDefault(o)?.Ms ?? 0)))
        {
            double ma = ka.GetValueOrDefault(op)?.Ms ?? 0, mb = kb.GetValueOrDefault(op)?.Ms ?? 0;
            sb.AppendLine($"{op,-14} {ma,10:F3} {mb,10:F3} {(ma > 0 ? $"{mb / ma:F2}" : "new"),7} {ka.GetValueOrDefault(op)?.Calls ?? 0,8} {kb.GetValueOrDefault(op)?.Calls ?? 0,8}");
        }
        sb.AppendLine($"{"all ops",-14} {a.OpMs,10:F3} {b.OpMs,10:F3} {b.OpMs / Math.Max(a.OpMs, 1e-12),7:F2}");
        sb.AppendLine($"{"wall",-14} {a.WallMs,10:F3} {b.WallMs,10:F3} {b.WallMs / Math.Max(a.WallMs, 1e-12),7:F2}");
        return sb.ToString();
    }
}

/// <summary>Source-generated JSON for profiles (the library stays trimming- and AOT-safe).</summary>
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(ProfileReport))]
internal sealed partial class ProfileJson : JsonSerializerContext;
