namespace FastIF.Text;

/// <summary>The kind of a SentencePiece vocabulary entry (sentencepiece_model.proto, <c>SentencePiece.Type</c>).</summary>
public enum PieceType
{
    /// <summary>An ordinary piece, matched by the segmenter.</summary>
    Normal = 1,
    /// <summary>The unknown piece.</summary>
    Unknown = 2,
    /// <summary>A control symbol (&lt;pad&gt;, &lt;/s&gt;): never produced from text.</summary>
    Control = 3,
    /// <summary>A user-defined symbol: always taken when it matches.</summary>
    UserDefined = 4,
    /// <summary>Reserved and never produced.</summary>
    Unused = 5,
    /// <summary>A byte-fallback piece &lt;0xNN&gt;.</summary>
    Byte = 6,
}

/// <summary>One vocabulary entry.</summary>
public readonly record struct Piece(string Text, float Score, PieceType Type);

/// <summary>
/// A SentencePiece <c>.model</c> file (a serialized ModelProto), parsed with FastIF's own protobuf reader: the pieces, the
/// trainer settings the encoder needs (model type, special ids, byte fallback) and the normalizer (its precompiled
/// character map and whitespace rules). Only unigram models are accepted.
/// </summary>
public sealed class SentencePieceModel
{
    private SentencePieceModel() { }

    /// <summary>Where it was read from (for messages).</summary>
    public string Source { get; private init; } = "";
    /// <summary>The vocabulary, by id.</summary>
    public IReadOnlyList<Piece> Pieces { get; private init; } = [];
    /// <summary>Id of the unknown piece.</summary>
    public int UnkId { get; private init; }
    /// <summary>Id of &lt;/s&gt; (−1 when absent).</summary>
    public int EosId { get; private init; }
    /// <summary>Id of &lt;pad&gt; (−1 when absent).</summary>
    public int PadId { get; private init; }
    /// <summary>Id of &lt;s&gt; (−1 when absent).</summary>
    public int BosId { get; private init; }
    /// <summary>Whether unknown characters become their UTF-8 bytes as &lt;0xNN&gt; pieces.</summary>
    public bool ByteFallback { get; private init; }
    /// <summary>What an unknown piece decodes to (default " ⁇ ").</summary>
    public string UnkSurface { get; private init; } = " \u2047 ";
    /// <summary>The normalizer's name (nmt_nfkc, identity, ...).</summary>
    public string NormalizerName { get; private init; } = "";
    /// <summary>The normalizer's compiled rules (a double-array trie and replacement strings); empty for identity.</summary>
    public byte[] PrecompiledCharsMap { get; private init; } = [];
    /// <summary>Prefix the text with a space (so the first word looks like every other).</summary>
    public bool AddDummyPrefix { get; private init; } = true;
    /// <summary>Drop leading and trailing spaces and collapse runs.</summary>
    public bool RemoveExtraWhitespaces { get; private init; } = true;
    /// <summary>Replace spaces with U+2581 (▁).</summary>
    public bool EscapeWhitespaces { get; private init; } = true;

    /// <summary>Reads a model file; errors name the file and the problem.</summary>
    public static SentencePieceModel Load(string path)
    {
        byte[] data;
        try { data = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new TokenizerException($"{path}: cannot read the tokenizer model ({e.Message})"); }
        return Parse(data, path);
    }

    /// <summary>Parses the bytes of a model file.</summary>
    public static SentencePieceModel Parse(ReadOnlySpan<byte> data, string source = "spiece.model")
    {
        if (data.Length == 0) throw new TokenizerException($"{source}: empty file, not a SentencePiece model");
        var pieces = new List<Piece>();
        int modelType = 1, unk = 0, bos = 1, eos = 2, pad = -1;
        bool byteFallback = false, sawTrainer = false;
        string unkSurface = " \u2047 ", name = "";
        byte[] charsMap = [];
        bool addDummy = true, removeExtra = true, escape = true;
        var r = new ProtoReader(data, source);
        while (r.Next(out int field, out int wire))
        {
            if (field == 1 && wire == ProtoReader.LengthDelimited) pieces.Add(ReadPiece(r.ReadBytes(), source));
            else if (field == 2 && wire == ProtoReader.LengthDelimited)
            {
                sawTrainer = true;
                var t = new ProtoReader(r.ReadBytes(), source);
                while (t.Next(out int f, out int w))
                {
                    switch (f, w)
                    {
                        case (3, ProtoReader.Varint): modelType = t.ReadInt32(); break;
                        case (35, ProtoReader.Varint): byteFallback = t.ReadVarint() != 0; break;
                        case (40, ProtoReader.Varint): unk = t.ReadInt32(); break;
                        case (41, ProtoReader.Varint): bos = t.ReadInt32(); break;
                        case (42, ProtoReader.Varint): eos = t.ReadInt32(); break;
                        case (43, ProtoReader.Varint): pad = t.ReadInt32(); break;
                        case (44, ProtoReader.LengthDelimited): unkSurface = t.ReadString(); break;
                        default: t.Skip(w); break;
                    }
                }
            }
            else if (field == 3 && wire == ProtoReader.LengthDelimited)
            {
                var n = new ProtoReader(r.ReadBytes(), source);
                while (n.Next(out int f, out int w))
                {
                    switch (f, w)
                    {
                        case (1, ProtoReader.LengthDelimited): name = n.ReadString(); break;
                        case (2, ProtoReader.LengthDelimited): charsMap = n.ReadBytes().ToArray(); break;
                        case (3, ProtoReader.Varint): addDummy = n.ReadVarint() != 0; break;
                        case (4, ProtoReader.Varint): removeExtra = n.ReadVarint() != 0; break;
                        case (5, ProtoReader.Varint): escape = n.ReadVarint() != 0; break;
                        default: n.Skip(w); break;
                    }
                }
            }
            else r.Skip(wire);
        }
        if (pieces.Count == 0) throw new TokenizerException($"{source}: not a SentencePiece model: no vocabulary pieces");
        if (!sawTrainer) throw new TokenizerException($"{source}: not a SentencePiece model: no trainer settings");
        if (modelType != 1)
        {
            string kind = modelType switch { 2 => "BPE", 3 => "word", 4 => "char", _ => $"type {modelType}" };
            throw new TokenizerException($"{source}: a {kind} SentencePiece model; FastIF implements unigram models (T5's kind) only");
        }
        if (unk < 0 || unk >= pieces.Count || pieces[unk].Type != PieceType.Unknown)
            throw new TokenizerException($"{source}: unk_id {unk} does not name the model's unknown piece");
        int Check(int id, string what) => id < -1 || id >= pieces.Count
            ? throw new TokenizerException($"{source}: {what} {id} is outside the vocabulary of {pieces.Count}") : id;
        var seen = new HashSet<string>();
        foreach (var p in pieces)
            if (!seen.Add(p.Text)) throw new TokenizerException($"{source}: piece \"{p.Text}\" appears twice");
        if (charsMap.Length > 0) CharsMapNormalizer.Validate(charsMap, source);
        return new SentencePieceModel
        {
            Source = source, Pieces = pieces, UnkId = unk, BosId = Check(bos, "bos_id"), EosId = Check(eos, "eos_id"), PadId = Check(pad, "pad_id"),
            ByteFallback = byteFallback, UnkSurface = unkSurface, NormalizerName = name, PrecompiledCharsMap = charsMap,
            AddDummyPrefix = addDummy, RemoveExtraWhitespaces = removeExtra, EscapeWhitespaces = escape,
        };
    }

    private static Piece ReadPiece(ReadOnlySpan<byte> data, string source)
    {
        var r = new ProtoReader(data, source);
        string? text = null;
        float score = 0;
        int type = 1;
        while (r.Next(out int f, out int w))
        {
            switch (f, w)
            {
                case (1, ProtoReader.LengthDelimited): text = r.ReadString(); break;
                case (2, ProtoReader.Fixed32): score = r.ReadFloat(); break;
                case (3, ProtoReader.Varint): type = r.ReadInt32(); break;
                default: r.Skip(w); break;
            }
        }
        if (string.IsNullOrEmpty(text)) throw r.Fail("a vocabulary piece has no text");
        if (type is < 1 or > 6) throw r.Fail($"piece \"{text}\" has unknown type {type}");
        if (!float.IsFinite(score)) throw r.Fail($"piece \"{text}\" has score {score}");
        return new Piece(text, score, (PieceType)type);
    }
}
