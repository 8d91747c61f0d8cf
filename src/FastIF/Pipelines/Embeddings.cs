using FastIF.Weights;

namespace FastIF.Pipelines;

/// <summary>Prompt embeddings from a safetensors file (<c>prompt_embeds</c> and <c>negative_prompt_embeds</c>, [1, L, E] or [L, E]).</summary>
public static class Embeddings
{
    /// <summary>Loads the pair, checks the width against the model, and repeats it for <paramref name="batch"/> images.</summary>
    public static TextConditioning Load(string path, int encoderDim, int batch)
    {
        using var f = SafetensorsFile.Open(path);
        var p = Read(f, "prompt_embeds", encoderDim);
        var n = Read(f, "negative_prompt_embeds", encoderDim);
        if (p.Length != n.Length) throw new FastIFException($"{path}: prompt_embeds and negative_prompt_embeds differ in size");
        return new TextConditioning(Tensors.HostArrays.Repeat(p, batch), Tensors.HostArrays.Repeat(n, batch));
    }

    private static float[] Read(SafetensorsFile f, string name, int e)
    {
        if (!f.TryGetEntry(name, out var entry)) throw new FastIFException($"{f.Path}: no tensor \"{name}\" (expected prompt_embeds and negative_prompt_embeds)");
        var s = entry.Shape;
        bool ok = (s.Rank == 3 && s[0] == 1 && s[2] == e) || (s.Rank == 2 && s[1] == e);
        if (!ok) throw new FastIFException($"{f.Path}: \"{name}\" is {s}, the model needs [1, L, {e}]");
        return f.ReadFloat32(name);
    }

    /// <summary>Writes random N(0,1) embeddings of length <paramref name="tokens"/> (for trying modes without a text encoder).</summary>
    public static void WriteRandom(string path, int encoderDim, int tokens, ulong seed)
    {
        var p = new float[tokens * encoderDim];
        var n = new float[tokens * encoderDim];
        Sampling.PhiloxNoise.Fill(seed, 0, p);
        Sampling.PhiloxNoise.Fill(seed, 1, n);
        SafetensorsWriter.Save(path, [("prompt_embeds", new Tensors.Shape(1, tokens, encoderDim), p),
            ("negative_prompt_embeds", new Tensors.Shape(1, tokens, encoderDim), n)],
            metadata: new Dictionary<string, string> { ["producer"] = "fastif embeds random", ["seed"] = seed.ToString() });
    }
}
