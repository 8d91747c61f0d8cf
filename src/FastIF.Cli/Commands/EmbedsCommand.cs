using System.CommandLine;
using FastIF.Pipelines;

namespace FastIF.Cli.Commands;

/// <summary><c>fastif embeds random</c>: random prompt embeddings to try the modes before the text encoder exists.</summary>
internal static class EmbedsCommand
{
    public static Command Create()
    {
        var outFile = new Option<string>("--out") { Description = "safetensors file to write", Required = true };
        var dim = new Option<int>("--dim") { Description = "embedding width (the UNet's encoder_hid_dim: 4096 for IF, 256 for the tiny presets)", DefaultValueFactory = _ => 256 };
        var tokens = new Option<int>("--tokens") { Description = "sequence length", DefaultValueFactory = _ => 77 };
        var seed = new Option<ulong>("--seed") { DefaultValueFactory = _ => 0, Description = "seed" };
        var random = new Command("random", "Write random N(0,1) prompt_embeds and negative_prompt_embeds.") { outFile, dim, tokens, seed };
        random.SetAction(pr => CliErrors.Run(() =>
        {
            int d = pr.GetValue(dim), t = pr.GetValue(tokens);
            if (d < 1 || t < 1) throw new FastIFException("--dim and --tokens must be positive");
            Embeddings.WriteRandom(pr.GetValue(outFile)!, d, t, pr.GetValue(seed));
            Console.WriteLine($"wrote {pr.GetValue(outFile)} ([1, {t}, {d}] x 2)");
            return 0;
        }));
        return new Command("embeds", "Make prompt embedding files.") { random };
    }
}
