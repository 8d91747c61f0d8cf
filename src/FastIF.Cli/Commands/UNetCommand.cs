using System.CommandLine;
using FastIF.Backends;
using FastIF.Models.UNet;
using FastIF.Tensors;
using FastIF.Weights;

namespace FastIF.Cli.Commands;

/// <summary><c>fastif unet</c>: one UNet call from a safetensors file of inputs to a safetensors file holding <c>output</c>.</summary>
internal static class UNetCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "diffusers unet folder (config.json + weights)", Required = true };
        var inputs = new Option<string>("--inputs") { Description = "safetensors with sample, timestep, encoder_hidden_states [, class_labels]", Required = true };
        var output = new Option<string>("--output") { Description = "safetensors file to write (tensor \"output\")", Required = true };
        var variant = new Option<string?>("--variant") { Description = "weights variant, e.g. fp16 (diffusion_pytorch_model.fp16.safetensors)" };
        var prefix = new Option<string>("--prefix") { Description = "name prefix of the input tensors, e.g. \"case0.\" for a fixture file", DefaultValueFactory = _ => "" };
        var backend = BackendOption.Create();
        var precision = BackendOption.CreatePrecision();
        var attention = BackendOption.CreateAttention();
        var upsample = BackendOption.CreateUpsample();
        var cmd = new Command("unet", "Run one UNet forward pass on tensors from a file.")
            { model, inputs, output, variant, prefix, backend, precision, attention, upsample };
        cmd.SetAction(pr => CliErrors.Run(() =>
        {
            using var be = BackendOption.Resolve(pr.GetValue(backend)!, pr.GetValue(precision)!, pr.GetValue(attention)!);
            using var unet = UNet2DCondition.Load(pr.GetValue(model)!, be, pr.GetValue(variant), BackendOption.ParseUpsample(pr.GetValue(upsample)!, be));
            using var io = SafetensorsFile.Open(pr.GetValue(inputs)!);
            string p = pr.GetValue(prefix)!;
            using var sample = Floats(io, be, p + "sample");
            int batch = sample.Shape[0];
            using var t = Steps(io, be, p + "timestep", batch);
            using var ehs = Floats(io, be, p + "encoder_hidden_states");
            using var cls = io.TryGetEntry(p + "class_labels", out _) ? Steps(io, be, p + "class_labels", batch) : null;
            var sw = System.Diagnostics.Stopwatch.StartNew();
            using var y = unet.Forward(sample, t, ehs, cls);
            var ms = sw.Elapsed.TotalMilliseconds;
            SafetensorsWriter.Save(pr.GetValue(output)!, [("output", y.Shape, y.ToArray())],
                metadata: new Dictionary<string, string>
                {
                    ["producer"] = "fastif unet", ["backend"] = be.Name, ["upsample"] = BackendOption.UpsampleName(unet.Options),
                });
            Console.WriteLine($"output {y.Shape} written to {pr.GetValue(output)} ({ms:F1} ms forward on {be.Name})");
            return 0;
        }));
        return cmd;
    }

    private static Tensor Floats(SafetensorsFile f, IBackend be, string name)
    {
        if (!f.TryGetEntry(name, out var e)) throw new FastIFException($"{f.Path}: no tensor \"{name}\"");
        return be.FromHost(f.ReadFloat32(name), e.Shape);
    }

    /// <summary>Integer steps (one per batch item, or a scalar broadcast to the batch) as floats.</summary>
    private static Tensor Steps(SafetensorsFile f, IBackend be, string name, int batch)
    {
        if (!f.TryGetEntry(name, out var e)) throw new FastIFException($"{f.Path}: no tensor \"{name}\"");
        var v = e.DType.IsFloat() ? f.ReadFloat32(name).Select(x => (long)x).ToArray() : f.ReadInt64(name);
        if (v.Length == 1 && batch > 1) v = Enumerable.Repeat(v[0], batch).ToArray();
        if (v.Length != batch) throw new ShapeException($"{f.Path}: \"{name}\" has {v.Length} values for batch {batch}");
        return be.FromHost(v.Select(x => (float)x).ToArray(), new Shape(batch));
    }
}
