using System.CommandLine;
using System.Text.Json;
using FastIF.Diffusion;
using FastIF.Imaging;
using FastIF.Models.UNet;
using FastIF.Pipelines;
using FastIF.Runtime;

namespace FastIF.Cli.Commands;

/// <summary>
/// <c>fastif cascade --stage1 DIR --stage2 DIR --prompt "..." --out PNG</c>: text to a 256-pixel image through T5, stage I
/// and stage II, one model resident at a time, with each stage's time and memory reported.
/// </summary>
internal static class CascadeCommand
{
    public static Command Create()
    {
        var s1 = new Option<string>("--stage1") { Description = "the stage-I IF snapshot (its text_encoder/ and tokenizer/ encode --prompt)", Required = true };
        var s2 = new Option<string>("--stage2") { Description = "the stage-II IF snapshot", Required = true };
        var embeds = new Option<string?>("--embeds") { Description = "prompt embeddings (fastif encode) instead of --prompt" };
        var t1 = new Option<string>("--timesteps1") { Description = "stage I timesteps: a named list or comma-separated values", DefaultValueFactory = _ => "fast27" };
        var t2 = new Option<string>("--timesteps2") { Description = "stage II timesteps", DefaultValueFactory = _ => "smart27" };
        var g1 = new Option<float>("--guidance1") { Description = "stage I guidance", DefaultValueFactory = _ => 7f };
        var g2 = new Option<float>("--guidance2") { Description = "stage II guidance", DefaultValueFactory = _ => 4f };
        var size1 = new Option<int?>("--size1") { Description = "stage I side (default: its sample size)" };
        var size2 = new Option<int?>("--size2") { Description = "stage II side (default: its sample size)" };
        var v1 = new Option<string?>("--variant1") { Description = "stage I weights variant" };
        var v2 = new Option<string?>("--variant2") { Description = "stage II weights variant" };
        var noiseLevel = new Option<int>("--noise-level") { Description = "stage II augmentation noise level, [0, 1000)", DefaultValueFactory = _ => 250 };
        var batch = new Option<int>("--batch") { Description = "images", DefaultValueFactory = _ => 1 };
        var seed = new Option<ulong>("--seed") { Description = "noise seed (stage II uses seed + 1)", DefaultValueFactory = _ => 0 };
        var outPng = new Option<string>("--out") { Description = "the stage II PNG", Required = true };
        var outLow = new Option<string?>("--out-stage1") { Description = "also write stage I's PNG" };
        var json = new Option<string?>("--json") { Description = "per-stage time and memory as JSON" };
        var backend = BackendOption.Create();
        var precision = BackendOption.CreatePrecision();
        var text = new PromptOptions();
        var cmd = new Command("cascade", "Text to image through T5, stage I and stage II, one model resident at a time.")
            { s1, s2, embeds, t1, t2, g1, g2, size1, size2, v1, v2, noiseLevel, batch, seed, outPng, outLow, json, backend, precision };
        foreach (var o in text.All) cmd.Options.Add(o);
        cmd.SetAction((pr, ct) => Task.FromResult(CliErrors.Run(() =>
        {
            int n = pr.GetValue(batch);
            if (n is < 1 or > 64) throw new FastIFException($"--batch {n} must be in [1, 64]");
            int level = pr.GetValue(noiseLevel);
            if (level is < 0 or >= 1000) throw new FastIFException($"--noise-level {level} must be in [0, 1000)");
            foreach (var (opt, g) in new[] { ("--guidance1", pr.GetValue(g1)), ("--guidance2", pr.GetValue(g2)) })
                if (!(g >= 0 && g <= 50)) throw new FastIFException($"{opt} {g} must be in [0, 50]");
            string one = pr.GetValue(s1)!, two = pr.GetValue(s2)!;
            var c1 = UNetConfig.Load(Path.Combine(one, "unet", "config.json"));
            var c2 = UNetConfig.Load(Path.Combine(two, "unet", "config.json"));
            if (c1.EncoderHidDim != c2.EncoderHidDim)
                throw new FastIFException($"stage I takes {c1.EncoderHidDim}-wide text, stage II {c2.EncoderHidDim}-wide: the snapshots do not belong together");
            int side1 = pr.GetValue(size1) ?? c1.SampleSize, side2 = pr.GetValue(size2) ?? c2.SampleSize;
            using var be = BackendOption.Resolve(pr.GetValue(backend)!, pr.GetValue(precision)!);
            var prompts = pr.GetValue(text.Prompts) ?? [];
            TextConditioning cond;
            if (prompts.Length > 0 == (pr.GetValue(embeds) != null))
                throw new FastIFException("give exactly one of --prompt and --embeds");
            if (prompts.Length > 1) throw new FastIFException("the cascade takes one --prompt");
            var encodeSw = System.Diagnostics.Stopwatch.StartNew();
            if (prompts.Length == 1)
            {
                var e = text.EncodeAll(pr, one, be, ct)[0];
                if (e.Width != c1.EncoderHidDim) throw new FastIFException($"the text encoder makes {e.Width}-wide embeddings, the UNets take {c1.EncoderHidDim}");
                cond = e.Conditioning(n);
            }
            else cond = Embeddings.Load(pr.GetValue(embeds)!, c1.EncoderHidDim, n);
            double encodeS = encodeSw.Elapsed.TotalSeconds;
            var (low, high, reports) = Cascade.Run(be, cond,
                new CascadeStage(one, TimestepLists.Parse(pr.GetValue(t1)!, "--timesteps1"), pr.GetValue(g1), side1, pr.GetValue(v1)),
                new CascadeStage(two, TimestepLists.Parse(pr.GetValue(t2)!, "--timesteps2"), pr.GetValue(g2), side2, pr.GetValue(v2)),
                n, pr.GetValue(seed), level,
                (name, t, steps) => Progress.Step($"{name} step {t.Index + 1}/{steps} (t = {t.T})", t.Index + 1, steps), ct);
            if (pr.GetValue(outLow) is { } lowPath) ImageFiles.SaveGrid(lowPath, [low], n, side1, side1);
            ImageFiles.SaveGrid(pr.GetValue(outPng)!, [high], n, side2, side2);
            Console.WriteLine($"text: {encodeS:F1} s ({(prompts.Length == 1 ? "T5 or the embedding cache" : "embedding file")})");
            foreach (var r in reports)
                Console.WriteLine($"{r.Name}: {r.Seconds:F1} s, weights {ProcessMemory.Gib(r.WeightBytes)}, peak host anonymous memory {ProcessMemory.Gib(r.PeakHostAnonBytes)}" +
                    (r.PeakDeviceBytes is { } d ? $", peak device memory {ProcessMemory.Gib(d)}" : ""));
            Console.WriteLine($"cascade: wrote {pr.GetValue(outPng)} ({n} image(s) {side2}x{side2} on {be.Name})");
            if (pr.GetValue(json) is { } jsonPath)
                File.WriteAllText(jsonPath, JsonSerializer.Serialize(new Dictionary<string, object?>
                {
                    ["backend"] = be.Name, ["batch"] = n, ["seed"] = pr.GetValue(seed), ["text_seconds"] = encodeS,
                    ["stages"] = reports.Select(r => new Dictionary<string, object?>
                    {
                        ["name"] = r.Name, ["seconds"] = r.Seconds, ["weight_bytes"] = r.WeightBytes,
                        ["peak_host_anon_bytes"] = r.PeakHostAnonBytes, ["peak_device_bytes"] = r.PeakDeviceBytes,
                    }).ToList(),
                    ["commit"] = Environment.GetEnvironmentVariable("FASTIF_COMMIT"),
                }, new JsonSerializerOptions { WriteIndented = true }) + "\n");
            return 0;
        })));
        return cmd;
    }
}
