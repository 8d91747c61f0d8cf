namespace FastIF.Text;

/// <summary>One segment of an encoding: the id and its normalized UTF-8 bytes (the surface text for unknowns).</summary>
public readonly record struct Segment(int Id, byte[] Bytes);

/// <summary>
/// The unigram segmenter: the highest-scoring split of the normalized bytes into vocabulary pieces (Viterbi over a byte
/// trie of the normal, user-defined and unused pieces), as SentencePiece's optimized encoder computes it, float
/// arithmetic and tie order included. A character no piece starts with becomes an unknown node scored
/// <c>min_score − 10</c>; runs of unknowns are then merged into one, as SentencePieceProcessor does.
/// </summary>
public sealed class UnigramEncoder
{
    private const float UnkPenalty = 10f;
    private readonly SentencePieceModel _model;
    private readonly List<Dictionary<byte, int>> _next = [new()];
    private readonly List<int> _id = [-1];
    private readonly float _minScore, _maxScore;

    /// <summary>Builds the piece trie of <paramref name="model"/>.</summary>
    public UnigramEncoder(SentencePieceModel model)
    {
        _model = model;
        _minScore = float.MaxValue;
        _maxScore = float.MinValue;
        for (int id = 0; id < model.Pieces.Count; id++)
        {
            var p = model.Pieces[id];
            if (p.Type == PieceType.Normal)
            {
                _minScore = Math.Min(_minScore, p.Score);
                _maxScore = Math.Max(_maxScore, p.Score);
            }
            if (p.Type is PieceType.Normal or PieceType.UserDefined or PieceType.Unused) Insert(System.Text.Encoding.UTF8.GetBytes(p.Text), id);
        }
        if (_minScore == float.MaxValue) _minScore = _maxScore = 0;
    }

    private void Insert(byte[] key, int id)
    {
        int node = 0;
        foreach (byte b in key)
        {
            if (!_next[node].TryGetValue(b, out int child))
            {
                child = _next.Count;
                _next.Add([]);
                _id.Add(-1);
                _next[node][b] = child;
            }
            node = child;
        }
        _id[node] = id;
    }

    /// <summary>Segments normalized bytes; consecutive unknown characters come back as one unknown segment.</summary>
    public List<Segment> Encode(byte[] normalized)
    {
        int size = normalized.Length;
        var best = new (int Id, float Score, int Start)[size + 1];
        for (int i = 0; i <= size; i++) best[i] = (-1, 0f, -1);
        float unkScore = _minScore - UnkPenalty;
        int start = 0;
        while (start < size)
        {
            float tillHere = best[start].Score;
            int charLen = Math.Min(CharLength(normalized[start]), size - start);
            bool hasSingle = false;
            int node = 0;
            for (int key = start; key < size; key++)
            {
                if (!_next[node].TryGetValue(normalized[key], out node)) break;
                int id = _id[node];
                if (id < 0) continue;
                var piece = _model.Pieces[id];
                if (piece.Type == PieceType.Unused) continue;
                int length = key + 1 - start;
                // As the reference: the user-defined bonus makes the score a double, so every piece's candidate is summed
                // and compared in double and stored as float (which decides near-ties the same way).
                double score = piece.Type == PieceType.UserDefined ? length * _maxScore - 0.1 : piece.Score;
                double candidate = score + tillHere;
                ref var target = ref best[key + 1];
                if (target.Start == -1 || candidate > target.Score) target = (id, (float)candidate, start);
                if (length == charLen) hasSingle = true;
            }
            if (!hasSingle)
            {
                ref var target = ref best[start + charLen];
                float candidate = unkScore + tillHere;
                if (target.Start == -1 || candidate > target.Score) target = (_model.UnkId, candidate, start);
            }
            start += charLen;
        }
        var path = new List<(int Id, int Start, int End)>();
        for (int end = size; end > 0;)
        {
            var n = best[end];
            path.Add((n.Id, n.Start, end));
            end = n.Start;
        }
        path.Reverse();
        var result = new List<Segment>(path.Count);
        for (int i = 0; i < path.Count; i++)
        {
            var (id, s, e) = path[i];
            // A run of unknowns is one segment spanning their bytes.
            while (id == _model.UnkId && i + 1 < path.Count && path[i + 1].Id == _model.UnkId) e = path[++i].End;
            result.Add(new Segment(id, normalized[s..e]));
        }
        return result;
    }

    /// <summary>The byte length of a UTF-8 character from its lead byte (1 for a stray continuation byte).</summary>
    private static int CharLength(byte lead) => lead < 0xC0 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
}
