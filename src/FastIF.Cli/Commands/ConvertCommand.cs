using System.CommandLine;
using FastIF.Tensors;
using FastIF.Weights;

namespace FastIF.Cli.Commands;

/// <summary><c>fastif convert --in X.bin|INDEX.json|DIR [--out FILE|DIR] [--dtype keep|fp16|bf16|fp32]</c>: PyTorch
/// checkpoints to safetensors, read without executing their pickle.</summary>
internal static class ConvertCommand
{
    public static Command Create()
    {
        var input = new Option<string>("--in") { Description = "a PyTorch .bin/.pt checkpoint, a *.bin.index.json, or a folder of them", Required = true };
        var output = new Option<string?>("--out") { Description = "a .safetensors file (for one .bin) or a folder (default: beside the input)" };
        var dtype = new Option<string>("--dtype") { Description = "keep, fp16, bf16 or fp32 (float tensors only)", DefaultValueFactory = _ => "keep" };
        var cmd = new Command("convert", "Convert PyTorch .bin checkpoints to safetensors (a restricted reader that executes nothing).") { input, output, dtype };
        cmd.SetAction((pr, ct) => Task.FromResult(CliErrors.Run(() =>
        {
            DType? cast = pr.GetValue(dtype) == "keep" ? null : WeightsCommand.ParseDType(pr.GetValue(dtype)!);
            var files = TorchConverter.Convert(pr.GetValue(input)!, pr.GetValue(output), cast,
                f => Console.Error.WriteLine($"converting -> {f}"), Progress.Bytes("converting", 4), ct);
            Console.Error.WriteLine();
            foreach (var f in files) Console.WriteLine($"convert: wrote {f}");
            return 0;
        })));
        return cmd;
    }
}
