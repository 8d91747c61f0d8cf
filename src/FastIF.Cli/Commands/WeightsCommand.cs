using System.CommandLine;
using FastIF.Models.T5;
using FastIF.Models.UNet;
using FastIF.Tensors;
using FastIF.Weights;

namespace FastIF.Cli.Commands;

/// <summary><c>fastif weights random</c>: a diffusers unet folder with random weights of a preset's real shapes.</summary>
internal static class WeightsCommand
{
    public static Command Create()
    {
        var preset = new Option<string>("--preset") { Description = "one of: " + string.Join(", ", UNetPresets.Names.Concat(T5Presets.Names)), Required = true };
        var outDir = new Option<string>("--out") { Description = "folder to write (config.json + safetensors)", Required = true };
        var dtype = new Option<string>("--dtype") { Description = "fp16 or fp32 (bf16 also accepted)", DefaultValueFactory = _ => "fp16" };
        var seed = new Option<ulong>("--seed") { Description = "random seed", DefaultValueFactory = _ => 0 };
        var snapshot = new Option<bool>("--snapshot") { Description = "write a whole IF snapshot (unet/, scheduler/, ...) instead of a unet folder" };
        var random = new Command("random", "Write random weights with the real shapes of a preset (streamed to disk).") { preset, outDir, dtype, seed, snapshot };
        random.SetAction((pr, ct) => Task.FromResult(CliErrors.Run(() =>
        {
            if (T5Presets.Names.Contains(pr.GetValue(preset)!))
            {
                var t5 = T5Presets.Get(pr.GetValue(preset)!);
                var t5dt = ParseDType(pr.GetValue(dtype)!);
                string t5dir = pr.GetValue(outDir)!;
                if (pr.GetValue(snapshot)) throw new FastIFException("--snapshot makes a UNet snapshot; write a T5 preset into a snapshot's text_encoder/ folder instead");
                T5RandomWeights.Write(t5, t5dir, t5dt, pr.GetValue(seed), Progress.Bytes("writing", t5dt.Size()), ct);
                Console.Error.WriteLine();
                Console.WriteLine($"{pr.GetValue(preset)}: {t5.Parameters:N0} parameters ({t5dt}) -> {t5dir} (config.json, 2 shards, index); " +
                    "add the tokenizer as tokenizer/spiece.model beside it to encode prompts");
                return 0;
            }
            var cfg = UNetPresets.Get(pr.GetValue(preset)!);
            var dt = ParseDType(pr.GetValue(dtype)!);
            var progress = Progress.Bytes("writing", dt.Size());
            string dir = pr.GetValue(outDir)!;
            if (pr.GetValue(snapshot)) RandomWeights.WriteSnapshot(cfg, dir, dt, pr.GetValue(seed), progress);
            else RandomWeights.WriteUNet(cfg, dir, dt, pr.GetValue(seed), progress);
            Console.Error.WriteLine();
            Console.WriteLine($"{pr.GetValue(preset)}: {new UNet2DCondition(cfg).Parameters.Sum(p => p.Shape.Elements):N0} parameters -> {dir}");
            return 0;
        })));
        return new Command("weights", "Make or inspect model weights.") { random };
    }

    public static DType ParseDType(string s) => s switch
    {
        "fp16" or "f16" or "float16" => DType.F16,
        "fp32" or "f32" or "float32" => DType.F32,
        "bf16" or "bfloat16" => DType.BF16,
        _ => throw new FastIFException($"unknown dtype \"{s}\"; use fp16, fp32 or bf16"),
    };
}
