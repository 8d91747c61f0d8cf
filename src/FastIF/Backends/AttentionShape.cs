using FastIF.Tensors;

namespace FastIF.Backends;

/// <summary>
/// The sizes of one <see cref="IBackend.Attention"/> call, checked against the op's contract once for every backend:
/// q <c>[B, Nq, C]</c>, k/v <c>[B, Nk1, C]</c>, optional k2/v2 <c>[B, Nk2, C]</c>, heads dividing C, and an optional flat
/// fp32 score bias of 1 or B blocks of <c>heads·Nq·(Nk1+Nk2)</c> values.
/// </summary>
public readonly record struct AttentionShape(int Batch, int Queries, int Channels, int Keys1, int Keys2, int HeadDim, int BiasBatches)
{
    /// <summary>All keys (both sets).</summary>
    public int Keys => Keys1 + Keys2;

    /// <summary>Validates the operands; throws <see cref="ShapeException"/> naming what does not fit.</summary>
    public static AttentionShape Of(Tensor q, Tensor k, Tensor v, int heads, Tensor? k2, Tensor? v2, Tensor? scoreBias)
    {
        if (q.Shape.Rank != 3) throw new ShapeException($"Attention q: expected rank 3, got {q.Shape}");
        int n = q.Shape[0], nq = q.Shape[1], c = q.Shape[2];
        if (heads <= 0 || c % heads != 0) throw new ShapeException($"Attention: {c} channels do not split into {heads} heads");
        if (k.Shape != v.Shape || k.Shape.Rank != 3 || k.Shape[0] != n || k.Shape[2] != c)
            throw new ShapeException($"Attention: k {k.Shape} / v {v.Shape} do not fit q {q.Shape}");
        if ((k2 == null) != (v2 == null)) throw new ShapeException("Attention: k2 and v2 must be given together");
        int nk2 = 0;
        if (k2 != null)
        {
            if (k2.Shape != v2!.Shape || k2.Shape.Rank != 3 || k2.Shape[0] != n || k2.Shape[2] != c)
                throw new ShapeException($"Attention: k2 {k2.Shape} / v2 {v2.Shape} do not fit q {q.Shape}");
            nk2 = k2.Shape[1];
        }
        int nk = k.Shape[1] + nk2, biasBatches = 0;
        if (scoreBias != null)
        {
            long per = (long)heads * nq * nk, len = scoreBias.Shape.Elements;
            if (scoreBias.Shape.Rank != 1 || (len != per && len != n * per))
                throw new ShapeException($"Attention: score bias {scoreBias.Shape} must be a vector of 1 or {n} x {heads} x {nq} x {nk} values");
            biasBatches = (int)(len / per);
        }
        return new AttentionShape(n, nq, c, k.Shape[1], nk2, c / heads, biasBatches);
    }
}
