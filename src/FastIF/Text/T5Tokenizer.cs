using System.Text;

namespace FastIF.Text;

/// <summary>A prompt as T5 is fed it.</summary>
/// <param name="Ids">The token ids before EOS and padding (special-token strings typed in the text already split out).</param>
/// <param name="Pieces">The piece text of each id (the surface text for an unknown run).</param>
/// <param name="InputIds">What the encoder gets: the ids truncated to <c>maxLength − 1</c>, EOS, then padding.</param>
/// <param name="AttentionMask">1 for tokens and EOS, 0 for padding.</param>
/// <param name="DroppedTokens">How many ids truncation removed (0 when the prompt fits).</param>
public sealed record TokenizedPrompt(int[] Ids, string[] Pieces, int[] InputIds, int[] AttentionMask, int DroppedTokens);

/// <summary>
/// T5's tokenizer as DeepFloyd IF calls it (HuggingFace's slow <c>T5Tokenizer</c>, legacy mode): special-token strings
/// typed in the text (<c>&lt;/s&gt;</c>, <c>&lt;pad&gt;</c>, <c>&lt;unk&gt;</c>, <c>&lt;extra_id_N&gt;</c>) are split out
/// first, every other stretch goes through SentencePiece on its own, then the ids are truncated to
/// <c>maxLength − 1</c>, EOS (id 1) is appended unless the ids already end in it, and padding (id 0) fills to
/// <c>maxLength</c>.
/// </summary>
public sealed class T5Tokenizer
{
    /// <summary>T5's sentinel count: ids <c>pieces + 99 − N</c> are <c>&lt;extra_id_N&gt;</c>.</summary>
    public const int ExtraIds = 100;

    private readonly CharsMapNormalizer _normalizer;
    private readonly UnigramEncoder _encoder;
    private readonly Dictionary<string, int> _pieceIds = [];
    private readonly List<(string Text, int Id)> _specials = [];

    /// <summary>Wraps a parsed model.</summary>
    public T5Tokenizer(SentencePieceModel model)
    {
        Model = model;
        _normalizer = new CharsMapNormalizer(model);
        _encoder = new UnigramEncoder(model);
        for (int i = 0; i < model.Pieces.Count; i++) _pieceIds[model.Pieces[i].Text] = i;
        void Special(string text, int id) { if (id >= 0) _specials.Add((text, id)); }
        Special("</s>", model.EosId);
        Special("<pad>", model.PadId);
        Special("<unk>", model.UnkId);
        for (int n = 0; n < ExtraIds; n++) Special($"<extra_id_{n}>", model.Pieces.Count + ExtraIds - 1 - n);
        // Longest first, so <extra_id_10> is not read as <extra_id_1> followed by "0>".
        _specials.Sort((a, b) => b.Text.Length.CompareTo(a.Text.Length));
        if (model.EosId < 0) throw new TokenizerException($"{model.Source}: the model has no </s> piece, which T5 needs");
    }

    /// <summary>Loads <c>spiece.model</c>.</summary>
    public static T5Tokenizer Load(string spieceModelPath) => new(SentencePieceModel.Load(spieceModelPath));

    /// <summary>The SentencePiece model.</summary>
    public SentencePieceModel Model { get; }

    /// <summary>Ids the tokenizer can produce: the pieces plus the sentinels.</summary>
    public int VocabularySize => Model.Pieces.Count + ExtraIds;

    /// <summary>Plain SentencePiece encoding (no special-token splitting, no EOS): what <c>SentencePieceProcessor.encode</c> returns.</summary>
    public (int[] Ids, string[] Pieces) EncodePieces(string text)
    {
        var ids = new List<int>();
        var pieces = new List<string>();
        AppendPieces(text, ids, pieces);
        return ([.. ids], [.. pieces]);
    }

    private void AppendPieces(string text, List<int> ids, List<string> pieces)
    {
        foreach (var seg in _encoder.Encode(_normalizer.Normalize(text)))
        {
            if (seg.Id == Model.UnkId && Model.ByteFallback)
            {
                // Byte fallback: each UTF-8 byte of the unknown run as its <0xNN> piece.
                foreach (byte b in seg.Bytes)
                {
                    var name = $"<0x{b:X2}>";
                    ids.Add(_pieceIds.TryGetValue(name, out int id) ? id : Model.UnkId);
                    pieces.Add(name);
                }
                continue;
            }
            ids.Add(seg.Id);
            pieces.Add(Encoding.UTF8.GetString(seg.Bytes));
        }
    }

    /// <summary>Encodes a prompt the way IF's pipeline feeds T5 (see the class summary).</summary>
    public TokenizedPrompt Encode(string text, int maxLength = 77)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (maxLength < 2) throw new ArgumentOutOfRangeException(nameof(maxLength), "room is needed for at least one token and EOS");
        var ids = new List<int>();
        var pieces = new List<string>();
        int start = 0;
        for (int i = 0; i < text.Length;)
        {
            var special = text[i] == '<' ? _specials.FirstOrDefault(s => string.CompareOrdinal(text, i, s.Text, 0, s.Text.Length) == 0) : default;
            if (special.Text == null)
            {
                i++;
                continue;
            }
            AppendPieces(text[start..i], ids, pieces);
            ids.Add(special.Id);
            pieces.Add(special.Text);
            i += special.Text.Length;
            start = i;
        }
        AppendPieces(text[start..], ids, pieces);

        int keep = Math.Min(ids.Count, maxLength - 1);
        var input = new int[maxLength];
        var mask = new int[maxLength];
        for (int i = 0; i < keep; i++) input[i] = ids[i];
        int n = keep;
        if (n == 0 || input[n - 1] != Model.EosId) input[n++] = Model.EosId;
        for (int i = 0; i < n; i++) mask[i] = 1;
        if (Model.PadId > 0) for (int i = n; i < maxLength; i++) input[i] = Model.PadId;
        return new TokenizedPrompt([.. ids], [.. pieces], input, mask, ids.Count - keep);
    }

    /// <summary>Text of ids as SentencePiece decodes them: control ids vanish, unknowns read " ⁇ ", ▁ is a space, the
    /// dummy-prefix space is dropped; sentinels read as their names.</summary>
    public string Decode(IEnumerable<int> ids)
    {
        var sb = new StringBuilder();
        var bytes = new List<byte>();
        bool atStart = true;
        void Flush()
        {
            if (bytes.Count == 0) return;
            sb.Append(Encoding.UTF8.GetString([.. bytes]));
            bytes.Clear();
        }
        foreach (int id in ids)
        {
            if (id < 0 || id >= VocabularySize) throw new TokenizerException($"id {id} is outside the vocabulary of {VocabularySize}");
            string piece;
            if (id >= Model.Pieces.Count) piece = $"<extra_id_{Model.Pieces.Count + ExtraIds - 1 - id}>";
            else
            {
                var p = Model.Pieces[id];
                if (p.Type == PieceType.Control) continue;
                if (p.Type == PieceType.Byte && p.Text.Length == 6 && p.Text.StartsWith("<0x"))
                {
                    bytes.Add(Convert.ToByte(p.Text[3..5], 16));
                    atStart = false;
                    continue;
                }
                piece = p.Type == PieceType.Unknown ? Model.UnkSurface : p.Text;
                if (atStart && p.Type != PieceType.Unknown && Model.AddDummyPrefix && piece.StartsWith('\u2581')) piece = piece[1..];
            }
            Flush();
            piece = piece.Replace('\u2581', ' ');
            sb.Append(piece);
            if (piece.Length > 0) atStart = false;
        }
        Flush();
        return sb.ToString();
    }
}
