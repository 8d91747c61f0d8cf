using System.Diagnostics;
using FastIF.Backends;
using FastIF.Backends.Cuda;
using FastIF.Models.T5;
using FastIF.Runtime;
using FastIF.Tensors;

namespace FastIF.Benchmarking;

/// <summary>What a T5 encode benchmark measured.</summary>
/// <param name="Ms">Wall time of every timed encode (to the embeddings on the host).</param>
/// <param name="GflopPerEncode">FLOPs of one encode counted from the executed graph, in GFLOP.</param>
/// <param name="WeightBytes">Bytes of weights one encode reads, as the backend holds them.</param>
/// <param name="StoredBytes">Bytes of the weight files.</param>
/// <param name="LoadMs">Time to open the encoder (resident: to the last byte on the device; streamed: the index only).</param>
/// <param name="Streaming">Whether the weights were streamed one block at a time.</param>
/// <param name="PeakAnonymousBytes">Largest anonymous resident memory seen after each block.</param>
/// <param name="Config">The encoder's shape.</param>
public sealed record T5BenchResult(double[] Ms, double GflopPerEncode, long WeightBytes, long StoredBytes, double LoadMs, bool Streaming,
    long PeakAnonymousBytes, T5Config Config);

/// <summary>
/// Times T5 encodes of a prompt and its negative as IF runs them: one batch of 2 × 77 tokens (a 20-token prompt with EOS,
/// and the empty negative, EOS only), fixed token ids so no tokenizer is needed. Warm-up encodes are not timed.
/// </summary>
public static class T5Bench
{
    /// <summary>Tokens per sequence (IF's).</summary>
    public const int Length = 77;

    /// <summary>The ids and masks of the benchmark batch: row 0 the negative prompt, row 1 the prompt, as PromptEncoder orders them.</summary>
    public static (int[] Ids, int[] Mask) Batch(int vocab, ulong seed, int promptTokens = 20)
    {
        var ids = new int[2 * Length];
        var mask = new int[2 * Length];
        ids[0] = 1; // EOS: the empty negative
        mask[0] = 1;
        for (int i = 0; i < promptTokens; i++)
        {
            ids[Length + i] = 3 + (int)(((ulong)i * 7919 + seed) % (ulong)(vocab - 3));
            mask[Length + i] = 1;
        }
        ids[Length + promptTokens] = 1;
        mask[Length + promptTokens] = 1;
        return (ids, mask);
    }

    /// <summary>Opens the encoder in <paramref name="dir"/> on <paramref name="backend"/>, then runs the encodes.</summary>
    public static T5BenchResult Run(string dir, IBackend backend, int reps, int warmup, ulong seed, Action<int, double>? onEncode = null,
        CancellationToken cancel = default)
    {
        if (reps < 1) throw new FastIFException($"bench needs at least 1 timed encode, got {reps}");
        var counter = new FlopCounter(backend);
        var load = Stopwatch.StartNew();
        using var enc = T5Encoder.Load(dir, counter);
        (backend as CudaBackend)?.Synchronize();
        double loadMs = load.Elapsed.TotalMilliseconds;
        var (ids, mask) = Batch(enc.Config.VocabSize, seed);
        long peakAnon = ProcessMemory.AnonymousBytes();
        double Encode()
        {
            cancel.ThrowIfCancellationRequested();
            var sw = Stopwatch.StartNew();
            using var y = enc.Encode(ids, mask, 2, Length, onBlock: (_, _) => peakAnon = Math.Max(peakAnon, ProcessMemory.AnonymousBytes()),
                cancel: cancel);
            var host = y.ToArray(); // the embeddings reach the host: the encode is done
            if (host.Any(v => !float.IsFinite(v))) throw new Sampling.NonFiniteException($"T5 bench: the encoder in {dir} produced NaN/Inf on {backend.Name}");
            return sw.Elapsed.TotalMilliseconds;
        }
        for (int i = 0; i < warmup; i++) Encode();
        counter.Reset();
        var ms = new double[reps];
        double gflop = 0;
        for (int i = 0; i < reps; i++)
        {
            ms[i] = Encode();
            if (i == 0) gflop = counter.Total / 1e9;
            onEncode?.Invoke(i, ms[i]);
        }
        int elem = backend is CudaBackend c ? c.Precision.Size() : 4;
        return new T5BenchResult(ms, gflop, enc.Config.Parameters * elem, enc.StoredBytes, loadMs, enc.Streaming, peakAnon, enc.Config);
    }
}
