using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using FastIF.Backends.Cuda;
using FastIF.Diffusion;
using FastIF.Imaging;
using FastIF.Pipelines;
using FastIF.Sampling;
using FastIF.Tensors;

namespace FastIF.Cli.Commands;

/// <summary>
/// The sampling modes (<c>generate</c>, <c>edit</c>, <c>inpaint</c>, <c>anagram</c>, <c>hybrid</c>, <c>diffdiff</c>,
/// <c>upscale</c>, <c>noise</c>, <c>denoise</c>): each maps its flags to one <see cref="SamplerRequest"/> and runs
/// the one sampler. Shared flags live in <see cref="Common"/>.
/// </summary>
internal static class SampleCommands
{
    private sealed class Common
    {
        public readonly Option<string> Model = new("--model") { Description = "IF snapshot folder (unet/, scheduler/, ...)", Required = true };
        public readonly Option<string?> Variant = new("--variant") { Description = "weights variant, e.g. fp16" };
        public readonly Option<string[]> Embeds = new("--embeds") { Description = "prompt embeddings (.safetensors with prompt_embeds, negative_prompt_embeds); repeat for several prompts", AllowMultipleArgumentsPerToken = true };
        public readonly Option<ulong> Seed = new("--seed") { Description = "noise seed (Philox)", DefaultValueFactory = _ => 0 };
        public readonly Option<int> Steps = new("--steps") { Description = "leading-spaced steps", DefaultValueFactory = _ => 20 };
        public readonly Option<string?> Timesteps = new("--timesteps") { Description = "a named list (fast27, smart27, smart50, smart100, smart185, super27, super40, super100) or comma-separated values" };
        public readonly Option<float> Guidance = new("--guidance") { Description = "classifier-free guidance scale", DefaultValueFactory = _ => 7f };
        public readonly Option<int> Batch = new("--batch") { Description = "images", DefaultValueFactory = _ => 1 };
        public readonly Option<int?> Size = new("--size") { Description = "image side (default: the model's sample size)" };
        public readonly Option<string> Out = new("--out") { Description = "output PNG (several images side by side)", Required = true };
        public readonly Option<string?> Json = new("--json") { Description = "also write a JSON summary" };
        public readonly Option<string> Backend = BackendOption.Create();
        public readonly Option<string> Precision = BackendOption.CreatePrecision();
        public readonly Option<string> Attention = BackendOption.CreateAttention();
        public readonly Option<string> Graph = new("--graph") { Description = "cuda: replay each sampling step as one CUDA graph (on) or launch it eagerly (off)", DefaultValueFactory = _ => "on" };
        public readonly Option<string?> LowRes = new("--low-res") { Description = "stage II: the low-resolution PNG to condition on" };
        public readonly PromptOptions Text = new();
        public readonly Option<bool> NoNanCheck = new("--no-nan-check") { Description = "do not stop when a step produces NaN/Inf (checked after every step by default)" };
        public readonly Option<int> NoiseLevel = new("--noise-level") { Description = "stage II: augmentation noise level of the low-res image, [0, 1000)", DefaultValueFactory = _ => 250 };

        public readonly Option<string?> ConstrainImage = new("--constrain-image") { Description = "compose: the image that --constrain-mask / --constrain-map hold to" };
        public readonly Option<string?> ConstrainMask = new("--constrain-mask") { Description = "compose: also inpaint (RePaint rule): white = generate, black = keep --constrain-image" };
        public readonly Option<string?> ConstrainMap = new("--constrain-map") { Description = "compose: also a Differential Diffusion change map over --constrain-image (white = change)" };

        public void AddTo(Command c)
        {
            Option[] own = [Model, Variant, Embeds, Seed, Steps, Timesteps, Guidance, Batch, Size, Out, Json, Backend, Precision, Attention, Graph, LowRes, NoiseLevel, NoNanCheck,
                ConstrainImage, ConstrainMask, ConstrainMap];
            foreach (var o in own.Concat(Text.All))
                c.Options.Add(o);
        }
    }

    /// <summary>The largest device memory in use (driver's view: every process) seen after any step; null on the CPU.</summary>
    private sealed class DevicePeak(CudaBackend? cuda)
    {
        public long? Bytes { get; private set; }

        public void Sample()
        {
            if (cuda == null) return;
            var (free, total) = cuda.Context.MemoryInfo();
            Bytes = Math.Max(Bytes ?? 0, total - free);
        }
    }

    /// <summary>What a mode needs from the shared flags, resolved.</summary>
    private sealed record Ctx(IFStage Stage, ParseResult P, Common C, int Batch, int Size, PhiloxNoise Noise, CancellationToken Cancel,
        IReadOnlyList<EncodedPrompt> Encoded, DevicePeak Peak, int Row = 0)
    {
        public TextConditioning Text(int i = 0)
        {
            int width = Stage.UNet.Config.EncoderHidDim;
            if (Encoded.Count > 0)
            {
                if (Encoded.Count <= i) throw new FastIFException($"this mode needs {i + 1} --prompt (or --embeds) values, got {Encoded.Count}");
                if (Encoded[i].Width != width)
                    throw new FastIFException($"the text encoder makes {Encoded[i].Width}-wide embeddings, the UNet takes {width}: they belong to different models");
                return Encoded[i].Conditioning(Batch);
            }
            var files = P.GetValue(C.Embeds) ?? [];
            if (files.Length <= i)
                throw new FastIFException($"this mode needs {i + 1} --embeds file(s) or --prompt values, got {files.Length}");
            return Embeddings.Load(files[i], width, Batch);
        }

        public long[] Timesteps()
        {
            if (P.GetValue(C.Timesteps) is { } spec) return TimestepLists.Parse(spec);
            int n = P.GetValue(C.Steps);
            if (n is < 1 or > 1000) throw new FastIFException($"--steps {n} must be in [1, 1000]");
            return TimestepLists.Leading(n);
        }

        public (float[] Pixels, int Height, int Width) LowRes()
        {
            var path = P.GetValue(C.LowRes) ?? throw new FastIFException("a stage-II model needs --low-res IMAGE.png to condition on");
            var pic = Png.Read(path);
            return (HostArrays.Repeat(ImageTensor.Rgb8ToChw(pic.ToRgb8(), pic.Width, pic.Height), Batch), pic.Height, pic.Width);
        }

        public float[] Image(Option<string> opt) => Image(P.GetValue(opt)!);

        /// <summary>An RGB PNG at the run's size (resized with a note when it differs), repeated for the batch.</summary>
        public float[] Image(string path)
        {
            var img = ImageFiles.LoadRgb(path, Size, Size, out var note);
            if (note != null) Console.Error.WriteLine(note);
            return HostArrays.Repeat(img, Batch);
        }
    }

    public static IEnumerable<Command> Create()
    {
        yield return Mode("generate", "Text to image (stage I) from prompt embeddings.", (_, _) => { },
            ctx => IFPipelines.TextToImage(ctx.Stage.UNet, ctx.Stage.Scheduler, ctx.Text(), ctx.Timesteps(), ctx.P.GetValue(ctx.C.Guidance), ctx.Batch, ctx.Size, ctx.Size, ctx.Noise));

        var image = new Option<string>("--image") { Description = "input PNG", Required = true };
        var strength = new Option<string>("--strength") { Description = "how much to change, (0, 1]: keeps the last ⌊n·strength⌋ steps; a comma list makes one grid row each", DefaultValueFactory = _ => "0.7" };
        var iStart = new Option<string?>("--i-start") { Description = "start at this index of the timestep list instead (the seeds' i_start); a comma list makes one grid row each" };
        yield return Mode("edit", "SDEdit image to image: noise the input to a strength, then denoise with the prompt.",
            (c, _) => { c.Options.Add(image); c.Options.Add(strength); c.Options.Add(iStart); },
            ctx =>
            {
                var ts = ctx.Timesteps();
                double s;
                if (ctx.P.GetValue(iStart) is { } starts)
                {
                    int i = ListOf(starts, "--i-start", int.Parse)[ctx.Row];
                    if (i < 0 || i >= ts.Length) throw new FastIFException($"--i-start {i} must be in [0, {ts.Length - 1}] for {ts.Length} timesteps");
                    s = (double)(ts.Length - i) / ts.Length;
                }
                else s = ListOf(ctx.P.GetValue(strength)!, "--strength", v => double.Parse(v, System.Globalization.CultureInfo.InvariantCulture))[ctx.Row];
                return IFPipelines.ImageToImage(ctx.Stage.UNet, ctx.Stage.Scheduler, ctx.Text(), ts, ctx.P.GetValue(ctx.C.Guidance),
                    ctx.Batch, ctx.Size, ctx.Size, ctx.Noise, ctx.Image(image), s);
            },
            rows: ctx => ctx.P.GetValue(iStart) is { } starts ? ListOf(starts, "--i-start", int.Parse).Length
                : ListOf(ctx.P.GetValue(strength)!, "--strength", v => double.Parse(v, System.Globalization.CultureInfo.InvariantCulture)).Length);

        var mask = new Option<string>("--mask") { Description = "binary PNG mask, white = repaint", Required = true };
        var repaint = new Option<bool>("--repaint") { Description = "re-noise the known region every step (RePaint) instead of keeping it clean (diffusers)" };
        var jumpLength = new Option<int>("--jump-length") { Description = "RePaint resampling: jump back this many steps ...", DefaultValueFactory = _ => 1 };
        var jumpCount = new Option<int>("--jump-count") { Description = "... this many times per point (1 = no resampling)", DefaultValueFactory = _ => 1 };
        var inpaintStrength = new Option<double>("--strength") { Description = "(0, 1]", DefaultValueFactory = _ => 1.0 };
        yield return Mode("inpaint", "Repaint the white part of a mask.", (c, _) => { c.Options.Add(image); c.Options.Add(mask); c.Options.Add(repaint); c.Options.Add(inpaintStrength); c.Options.Add(jumpLength); c.Options.Add(jumpCount); },
            ctx =>
            {
                var img = ctx.Image(image);
                var m = ImageFiles.LoadMap(ctx.P.GetValue(mask)!, ctx.Size, ctx.Size, binary: true);
                var req = IFPipelines.Inpaint(ctx.Stage.UNet, ctx.Stage.Scheduler, ctx.Text(), ctx.Timesteps(), ctx.P.GetValue(ctx.C.Guidance),
                    ctx.Batch, ctx.Size, ctx.Size, ctx.Noise, img, m, ctx.P.GetValue(inpaintStrength));
                if (!ctx.P.GetValue(repaint))
                {
                    if (ctx.P.GetValue(jumpCount) > 1) throw new FastIFException("--jump-count needs --repaint (resampling re-noises the known region)");
                    return req;
                }
                return req with
                {
                    Constraints = [new RePaintConstraint(img, m)],
                    Levels = RePaintSchedule.Levels(req.Timesteps.Length, ctx.P.GetValue(jumpLength), ctx.P.GetValue(jumpCount)),
                };
            });

        var views = new Option<string>("--views") { Description = "one view per --embeds: identity, flip_v, flip_h, rot90, rot180, rot270, transpose, negate", DefaultValueFactory = _ => "identity,flip_v" };
        yield return Mode("anagram", "Visual anagram: one image that reads as each prompt under its view.", (c, _) => c.Options.Add(views),
            ctx =>
            {
                var names = ctx.P.GetValue(views)!.Split(',', StringSplitOptions.TrimEntries);
                if (names.Length is < 2 or > 4) throw new FastIFException($"--views: an anagram takes 2 to 4 views, got {names.Length}");
                var comps = names.Select((v, i) => new Component(ctx.Text(i).Prompt, Views.ByName(v))).ToList();
                return Base(ctx, comps, ctx.Text(0).Negative) with { Combiner = Combiners.Mean };
            });

        var kernel = new Option<int?>("--kernel") { Description = "Gaussian kernel size, odd (default 33 at 64 px, scaled with the image size)" };
        var sigma = new Option<float?>("--sigma") { Description = "Gaussian sigma (default 2 at 64 px, scaled with the image size)" };
        var split = new Option<string>("--split") { Description = "frequency (low + high from 2 prompts, or low + mid + high from 3) or gray-color (gray of the first, colour of the second)", DefaultValueFactory = _ => "frequency" };
        yield return Mode("hybrid", "Hybrid image by factorized diffusion: each prompt owns one component of the image.",
            (c, _) => { c.Options.Add(kernel); c.Options.Add(sigma); c.Options.Add(split); },
            ctx =>
            {
                int prompts = (ctx.P.GetValue(ctx.C.Embeds) ?? []).Length;
                ICombiner combiner;
                var (k, sg) = BlurFor(ctx, kernel, sigma);
                switch (ctx.P.GetValue(split))
                {
                    case "gray-color": combiner = Combiners.GrayColor; prompts = 2; break;
                    case "frequency" when prompts >= 3:
                        combiner = Combiners.ThreeBand(k, sg, Math.Max(1, (k / 4) | 1), sg / 4);
                        prompts = 3;
                        break;
                    case "frequency": combiner = Combiners.LowHighPass(k, sg); prompts = 2; break;
                    default: throw new FastIFException($"--split \"{ctx.P.GetValue(split)}\": use frequency or gray-color");
                }
                var comps = Enumerable.Range(0, prompts).Select(i => new Component(ctx.Text(i).Prompt, Views.Identity)).ToList();
                return Base(ctx, comps, ctx.Text(0).Negative) with { Combiner = combiner };
            });

        var map = new Option<string>("--map") { Description = "change map: a gray PNG or a .safetensors tensor \"map\" [H, W] in [0, 1]; white/1 = change freely, black/0 = keep", Required = true };
        var soft = new Option<bool>("--soft") { Description = "blend at each step's threshold instead of a hard cut, so strengths finer than 1/steps count" };
        yield return Mode("diffdiff", "Differential Diffusion: a per-pixel strength map.", (c, _) => { c.Options.Add(image); c.Options.Add(map); c.Options.Add(soft); },
            ctx =>
            {
                // The reference IF code resets pixels whose map value exceeds i/n (map = 1 keeps the original); FastIF's
                // maps follow diffusers/ComfyUI (white = change), so the map is inverted here.
                var m = LoadChangeMap(ctx.P.GetValue(map)!, ctx.Size).Select(v => 1f - v).ToArray();
                var img = ctx.Image(image);
                return Base(ctx, [new Component(ctx.Text().Prompt, Views.Identity)], ctx.Text().Negative) with
                {
                    Start = new float[img.Length], Constraints = [new DifferentialDiffusionConstraint(img, m, discardInitialDraw: false, soft: ctx.P.GetValue(soft))],
                };
            });

        yield return Mode("upscale", "Stage II super-resolution of a low-resolution image (--low-res).", (_, _) => { },
            ctx =>
            {
                if (!ctx.Stage.IsStageTwo) throw new FastIFException($"{ctx.P.GetValue(ctx.C.Model)} is a stage-I model; upscale needs a stage-II snapshot");
                var (lr, lh, lw) = ctx.LowRes();
                return IFPipelines.SuperResolution(ctx.Stage.UNet, ctx.Stage.Scheduler, ctx.Stage.ImageNoising!, ctx.Text(), ctx.Timesteps(),
                    ctx.P.GetValue(ctx.C.Guidance), ctx.Batch, ctx.Size, ctx.Size, ctx.Noise, lr, lh, lw, ctx.P.GetValue(ctx.C.NoiseLevel));
            });

        var t = new Option<int>("--t") { Description = "timestep to noise to, [0, 1000)", DefaultValueFactory = _ => 500 };
        yield return Mode("noise", "Forward process: the image noised to timestep t (no model call).", (c, _) => { c.Options.Add(image); c.Options.Add(t); }, null,
            ctx =>
            {
                var img = ctx.Image(image);
                var z = new float[img.Length];
                ctx.Noise.Next(z);
                var dst = new float[img.Length];
                ctx.Stage.Scheduler.AddNoise(img, z, Enumerable.Repeat((long)ctx.P.GetValue(t), ctx.Batch).ToArray(), dst);
                return dst;
            });

        var stride = new Option<int>("--stride") { Description = "iterative: timestep stride down to 0", DefaultValueFactory = _ => 30 };
        var method = new Option<string>("--method") { Description = "iterative (strided from t), one-step (x0 from one call) or gaussian (classical blur)", DefaultValueFactory = _ => "iterative" };
        yield return Mode("denoise", "Noise the image to t, then denoise it: iterative, one-step or classical Gaussian.",
            (c, _) => { c.Options.Add(image); c.Options.Add(t); c.Options.Add(stride); c.Options.Add(method); c.Options.Add(kernel); c.Options.Add(sigma); }, null,
            ctx =>
            {
                var img = ctx.Image(image);
                var z = new float[img.Length];
                ctx.Noise.Next(z);
                var noised = new float[img.Length];
                long t0 = ctx.P.GetValue(t);
                ctx.Stage.Scheduler.AddNoise(img, z, Enumerable.Repeat(t0, ctx.Batch).ToArray(), noised);
                switch (ctx.P.GetValue(method))
                {
                    case "gaussian":
                        var (ks, ss) = BlurFor(ctx, kernel, sigma);
                        var k = GaussianBlur.Kernel(ks, ss);
                        var blurred = new float[noised.Length];
                        GaussianBlur.Apply(noised, blurred, 3 * ctx.Batch, ctx.Size, ctx.Size, k);
                        return blurred;
                    case "one-step":
                        return RunSampler(ctx, Base(ctx, [new Component(ctx.Text().Prompt, Views.Identity)], ctx.Text().Negative) with { Start = noised, Timesteps = [t0] });
                    case "iterative":
                        int s = ctx.P.GetValue(stride);
                        if (s < 1) throw new FastIFException($"--stride {s} must be positive");
                        var ts = new List<long>();
                        for (long v = t0; v >= 0; v -= s) ts.Add(v);
                        if (ts[^1] != 0) ts.Add(0);
                        return RunSampler(ctx, Base(ctx, [new Component(ctx.Text().Prompt, Views.Identity)], ctx.Text().Negative) with { Start = noised, Timesteps = [.. ts] });
                    default:
                        throw new FastIFException($"--method \"{ctx.P.GetValue(method)}\": use iterative, one-step or gaussian");
                }
            });
    }

    /// <summary>The blur of hybrids and classical denoising: as given, or the fixtures' 33 / σ 2 at 64 px scaled to the image.</summary>
    private static (int Kernel, float Sigma) BlurFor(Ctx ctx, Option<int?> kernel, Option<float?> sigma)
    {
        float scale = ctx.Size / 64f;
        int k = ctx.P.GetValue(kernel) ?? (2 * (int)MathF.Round(16 * scale) + 1);
        return (k, ctx.P.GetValue(sigma) ?? 2f * scale);
    }

    /// <summary>A request from pure noise; on a stage-II model the views and combiners act on the 6-channel input.</summary>
    private static SamplerRequest Base(Ctx ctx, IReadOnlyList<Component> comps, float[] negative)
    {
        var start = new float[ctx.Batch * 3 * ctx.Size * ctx.Size];
        ctx.Noise.Next(start);
        var req = new SamplerRequest
        {
            UNet = ctx.Stage.UNet, Scheduler = ctx.Stage.Scheduler, Timesteps = ctx.Timesteps(), GuidanceScale = ctx.P.GetValue(ctx.C.Guidance),
            Batch = ctx.Batch, Height = ctx.Size, Width = ctx.Size, Start = start, Components = comps, NegativeEmbeds = negative, Noise = ctx.Noise,
        };
        if (!ctx.Stage.IsStageTwo) return req;
        var (lr, lh, lw) = ctx.LowRes();
        int level = ctx.P.GetValue(ctx.C.NoiseLevel);
        return req with
        {
            Conditioning = IFPipelines.StageTwoConditioning(ctx.Stage.ImageNoising!, lr, ctx.Batch, lh, lw, ctx.Size, ctx.Size, ctx.Noise, level),
            ClassLabel = level,
        };
    }

    /// <summary>Adds the --constrain-* constraints to any mode's request: constraints compose with every combiner and view.</summary>
    private static SamplerRequest Compose(Ctx ctx, SamplerRequest req)
    {
        string? mask = ctx.P.GetValue(ctx.C.ConstrainMask), map = ctx.P.GetValue(ctx.C.ConstrainMap);
        if (mask == null && map == null) return req;
        var path = ctx.P.GetValue(ctx.C.ConstrainImage) ?? throw new FastIFException("--constrain-mask and --constrain-map need --constrain-image");
        var batchImg = ctx.Image(path);
        var extra = new List<IConstraint>(req.Constraints);
        if (map != null) extra.Add(new DifferentialDiffusionConstraint(batchImg, LoadChangeMap(map, ctx.Size).Select(v => 1f - v).ToArray(), discardInitialDraw: false));
        if (mask != null) extra.Add(new RePaintConstraint(batchImg, ImageFiles.LoadMap(mask, ctx.Size, ctx.Size, binary: true)));
        return req with { Constraints = extra };
    }

    private static float[] RunSampler(Ctx ctx, SamplerRequest req)
    {
        req = Compose(ctx, req);
        int n = Sampler.StepCount(req);
        var sw = Stopwatch.StartNew();
        return Sampler.Run(req with
        {
            OnStep = s => { ctx.Peak.Sample(); Progress.Step($"step {s.Index + 1}/{n} (t = {s.T}) {sw.Elapsed.TotalSeconds:F1} s", s.Index + 1, n); },
            CheckFinite = !ctx.P.GetValue(ctx.C.NoNanCheck),
            Graph = ctx.P.GetValue(ctx.C.Graph) switch
            {
                "on" => true,
                "off" => false,
                var g => throw new FastIFException($"--graph must be on or off, not \"{g}\""),
            },
            Stage = ctx.Stage.UNet.Config.InChannels == 6 ? "stage II" : "stage I",
        }, ctx.Cancel);
    }

    private static float[] LoadChangeMap(string path, int size)
    {
        if (!path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase)) return ImageFiles.LoadMap(path, size, size, binary: false);
        using var f = Weights.SafetensorsFile.Open(path);
        var e = f.GetEntry("map");
        if (e.Shape.Elements != (long)size * size || e.Shape[^1] != size)
            throw new FastIFException($"{path}: map is {e.Shape}, the image is {size}x{size}");
        var m = f.ReadFloat32("map");
        if (m.Any(v => !(v >= 0 && v <= 1))) throw new FastIFException($"{path}: map values must lie in [0, 1]");
        return m;
    }

    private static T[] ListOf<T>(string spec, string option, Func<string, T> parse)
    {
        try { return spec.Split(',', StringSplitOptions.TrimEntries).Select(parse).ToArray(); }
        catch (Exception e) when (e is FormatException or OverflowException) { throw new FastIFException($"{option} \"{spec}\" is not a comma-separated list of numbers"); }
    }

    private static Command Mode(string name, string description, Action<Command, Common> addOptions, Func<Ctx, SamplerRequest>? build,
        Func<Ctx, float[]>? direct = null, Func<Ctx, int>? rows = null)
    {
        var common = new Common();
        var cmd = new Command(name, description);
        common.AddTo(cmd);
        addOptions(cmd, common);
        cmd.SetAction((pr, ct) => Task.FromResult(CliErrors.Run(() =>
        {
            using var be = BackendOption.Resolve(pr.GetValue(common.Backend)!, pr.GetValue(common.Precision)!, pr.GetValue(common.Attention)!);
            var load = Stopwatch.StartNew();
            using var stage = IFStage.Load(pr.GetValue(common.Model)!, be, pr.GetValue(common.Variant));
            double loadSeconds = load.Elapsed.TotalSeconds;
            var peak = new DevicePeak(be as CudaBackend);
            int batch = pr.GetValue(common.Batch);
            if (batch is < 1 or > 64) throw new FastIFException($"--batch {batch} must be in [1, 64]");
            int size = pr.GetValue(common.Size) ?? stage.UNet.Config.SampleSize;
            if (size <= 0 || size % stage.UNet.Config.SpatialMultiple != 0)
                throw new FastIFException($"--size {size} must be a positive multiple of {stage.UNet.Config.SpatialMultiple}");
            float g = pr.GetValue(common.Guidance);
            if (!(g >= 0 && g <= 50)) throw new FastIFException($"--guidance {g} must be in [0, 50]");
            var prompts = pr.GetValue(common.Text.Prompts) ?? [];
            if (prompts.Length > 0 && (pr.GetValue(common.Embeds) ?? []).Length > 0) throw new FastIFException("give prompts as --prompt or as --embeds files, not both");
            var encoded = prompts.Length > 0 ? common.Text.EncodeAll(pr, pr.GetValue(common.Model)!, be, ct) : [];
            var first = new Ctx(stage, pr, common, batch, size, new PhiloxNoise(pr.GetValue(common.Seed)), ct, encoded, peak);
            int rowCount = rows?.Invoke(first) ?? 1;
            var sw = Stopwatch.StartNew();
            var grid = new List<float[]>();
            for (int r = 0; r < rowCount; r++)
            {
                // Every row starts from the same seed, so rows differ only in what the row varies.
                var ctx = first with { Row = r, Noise = new PhiloxNoise(pr.GetValue(common.Seed)) };
                grid.Add(build != null ? RunSampler(ctx, build(ctx)) : direct!(ctx));
                ct.ThrowIfCancellationRequested();
            }
            string outPath = pr.GetValue(common.Out)!;
            ImageFiles.SaveGrid(outPath, grid, batch, size, size);
            Console.WriteLine($"{name}: wrote {outPath} ({rowCount} row(s) of {batch} image(s) {size}x{size}, {sw.Elapsed.TotalSeconds:F1} s on {be.Name})");
            if (pr.GetValue(common.Json) is { } json)
                File.WriteAllText(json, JsonSerializer.Serialize(new { mode = name, output = outPath, seed = pr.GetValue(common.Seed), batch, size,
                    seconds = sw.Elapsed.TotalSeconds, load_seconds = loadSeconds, backend = be.Name,
                    precision = be is CudaBackend cb ? cb.Precision.ToString() : "F32", graph = be is CudaBackend ? pr.GetValue(common.Graph) : null,
                    attention = be is CudaBackend ? pr.GetValue(common.Attention) : null, peak_device_used_bytes = peak.Bytes,
                    device = be is CudaBackend c2 ? c2.Context.Name : null }) + "\n");
            return 0;
        })));
        return cmd;
    }
}
