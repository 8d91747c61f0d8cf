using System.Globalization;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;

namespace FastIF.Text;

/// <summary>
/// IF's prompt preprocessing (diffusers <c>IFPipeline._text_preprocessing</c>) with Python's string semantics, since the
/// tokenizer sees what Python produced: <c>str.lower()</c> is the full Unicode mapping (İ → i + U+0307, a final Σ → ς),
/// and <c>str.strip()</c> removes Python's whitespace set (U+001C–U+001F included, U+200B and U+FEFF not).
/// </summary>
public static partial class PromptText
{
    /// <summary>
    /// <c>text.lower().strip()</c> (IF's default), or with <paramref name="cleanCaption"/> diffusers' <c>_clean_caption</c>
    /// applied twice. The cleaning follows the Python regexes one by one, with two stand-ins for libraries the reference
    /// imports: BeautifulSoup's text extraction is a tag-stripping regex plus HTML entity decoding, and
    /// <c>ftfy.fix_text</c> (mojibake repair) is not applied. Prompts with HTML or mis-decoded text may therefore differ.
    /// </summary>
    public static string IFPreprocess(string text, bool cleanCaption = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        return cleanCaption ? CleanCaption(CleanCaption(text)) : PythonStrip(PythonLower(text));
    }

    /// <summary>Python's <c>str.lower()</c>: full case mapping per code point, with the final-sigma rule.</summary>
    public static string PythonLower(string s)
    {
        var sb = new StringBuilder(s.Length);
        var runes = s.EnumerateRunes().ToArray();
        for (int i = 0; i < runes.Length; i++)
        {
            var r = runes[i];
            if (r.Value == 0x130) sb.Append("i\u0307"); // SpecialCasing: the one unconditional multi-character lowercase
            else if (r.Value == 0x3A3) sb.Append(FinalSigma(runes, i) ? '\u03C2' : '\u03C3');
            else sb.Append(Rune.ToLowerInvariant(r).ToString());
        }
        return sb.ToString();
    }

    // Final_Sigma: preceded by a cased letter (skipping case-ignorables) and not followed by one.
    private static bool FinalSigma(Rune[] s, int i)
    {
        int j = i - 1;
        while (j >= 0 && CaseIgnorable(s[j])) j--;
        if (j < 0 || !Cased(s[j])) return false;
        j = i + 1;
        while (j < s.Length && CaseIgnorable(s[j])) j++;
        return j == s.Length || !Cased(s[j]);
    }

    private static bool Cased(Rune r) => Rune.GetUnicodeCategory(r) is UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter
        or UnicodeCategory.TitlecaseLetter;

    private static bool CaseIgnorable(Rune r) =>
        Rune.GetUnicodeCategory(r) is UnicodeCategory.NonSpacingMark or UnicodeCategory.EnclosingMark or UnicodeCategory.Format
            or UnicodeCategory.ModifierLetter or UnicodeCategory.ModifierSymbol
        || r.Value is 0x27 or 0x2E or 0x3A or 0xB7 or 0x387 or 0x5F4 or 0x2018 or 0x2019 or 0x2024 or 0x2027 or 0xFE13 or 0xFE52 or 0xFE55 or 0xFF07 or 0xFF0E or 0xFF1A;

    /// <summary>Python's <c>str.isspace()</c> set.</summary>
    public static bool PythonIsSpace(char c) =>
        c is ' ' or '\t' or '\n' or '\v' or '\f' or '\r' or '\x1C' or '\x1D' or '\x1E' or '\x1F' or '\x85' or '\xA0' or '\u1680'
            or '\u2028' or '\u2029' or '\u202F' or '\u205F' or '\u3000' || c is >= '\u2000' and <= '\u200A';

    /// <summary>Python's <c>str.strip()</c>.</summary>
    public static string PythonStrip(string s)
    {
        int a = 0, b = s.Length;
        while (a < b && PythonIsSpace(s[a])) a++;
        while (b > a && PythonIsSpace(s[b - 1])) b--;
        return s[a..b];
    }

    private static string Sub(string s, Regex r, string replacement) => r.Replace(s, replacement);

    /// <summary>One pass of diffusers' <c>_clean_caption</c> (see <see cref="IFPreprocess"/> for the two stand-ins).</summary>
    public static string CleanCaption(string caption)
    {
        var c = UnquotePlus(caption);
        c = PythonLower(PythonStrip(c));
        c = c.Replace("<person>", "person");
        c = Sub(c, Url1(), "");
        c = Sub(c, Url2(), "");
        c = WebUtility.HtmlDecode(Sub(c, HtmlTag(), "")); // stands in for BeautifulSoup(...).text
        c = Sub(c, Nick(), "");
        c = Sub(c, Cjk(), "");
        c = Sub(c, Dashes(), "-");
        c = Sub(c, DoubleQuotes(), "\"");
        c = Sub(c, SingleQuotes(), "'");
        c = Sub(c, Quot(), "");
        c = c.Replace("&amp", "");
        c = Sub(c, Ip(), " ");
        c = Sub(c, ArticleId(), "");
        c = c.Replace("\\n", " ");
        c = Sub(c, Hash3(), "");
        c = Sub(c, Hash5(), "");
        c = Sub(c, Digits6(), "");
        c = Sub(c, FileName(), "");
        c = Sub(c, RepeatedQuotes(), "\"");
        c = Sub(c, Dots(), " ");
        c = Sub(c, BadPunct(), " ");
        c = Sub(c, LoneDot(), " ");
        if (DashOrUnderscore().Count(c) > 3) c = Sub(c, DashOrUnderscore(), " ");
        c = WebUtility.HtmlDecode(WebUtility.HtmlDecode(c));
        c = Sub(c, Code1(), "");
        c = Sub(c, Code2(), "");
        c = Sub(c, Code3(), "");
        c = Sub(c, Shipping(), "");
        c = Sub(c, Download(), "");
        c = Sub(c, ClickFor(), "");
        c = Sub(c, ImageWords(), "");
        c = Sub(c, PageN(), "");
        c = Sub(c, Code4(), " ");
        c = Sub(c, Dimensions(), "");
        c = Sub(c, Colon(), ": ");
        c = Sub(c, PunctSpace(), "$1 ");
        c = Sub(c, Spaces(), " ");
        c = Sub(c, EdgeQuotes(), "$1");
        c = Sub(c, LeadingPunct(), "");
        c = Sub(c, TrailingPunct(), "");
        c = Sub(c, DotWord(), "");
        return PythonStrip(c);
    }

    /// <summary>Python's <c>urllib.parse.unquote_plus</c>: '+' is a space, %XX sequences are UTF-8 (invalid ones replaced).</summary>
    private static string UnquotePlus(string s)
    {
        s = s.Replace('+', ' ');
        if (!s.Contains('%')) return s;
        var bytes = new List<byte>();
        var sb = new StringBuilder();
        void Flush()
        {
            if (bytes.Count == 0) return;
            sb.Append(Encoding.UTF8.GetString([.. bytes]));
            bytes.Clear();
        }
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == '%' && i + 2 < s.Length && Uri.IsHexDigit(s[i + 1]) && Uri.IsHexDigit(s[i + 2]))
            {
                bytes.Add(Convert.ToByte(s.Substring(i + 1, 2), 16));
                i += 2;
                continue;
            }
            Flush();
            sb.Append(s[i]);
        }
        Flush();
        return sb.ToString();
    }

    [GeneratedRegex(@"\b((?:https?:(?:\/{1,3}|[a-zA-Z0-9%])|[a-zA-Z0-9.\-]+[.](?:com|co|ru|net|org|edu|gov|it)[\w/-]*\b\/?(?!@)))")] private static partial Regex Url1();
    [GeneratedRegex(@"\b((?:www:(?:\/{1,3}|[a-zA-Z0-9%])|[a-zA-Z0-9.\-]+[.](?:com|co|ru|net|org|edu|gov|it)[\w/-]*\b\/?(?!@)))")] private static partial Regex Url2();
    [GeneratedRegex(@"</?[a-zA-Z][^<>]*>")] private static partial Regex HtmlTag();
    [GeneratedRegex(@"@[\w\d]+\b")] private static partial Regex Nick();
    [GeneratedRegex(@"[\u31c0-\u31ef\u31f0-\u31ff\u3200-\u32ff\u3300-\u33ff\u3400-\u4dbf\u4dc0-\u4dff\u4e00-\u9fff]+")] private static partial Regex Cjk();
    [GeneratedRegex(@"[\u002D\u058A\u05BE\u1400\u1806\u2010-\u2015\u2E17\u2E1A\u2E3A\u2E3B\u2E40\u301C\u3030\u30A0\uFE31\uFE32\uFE58\uFE63\uFF0D]+")] private static partial Regex Dashes();
    [GeneratedRegex("[`´«»“”¨]")] private static partial Regex DoubleQuotes();
    [GeneratedRegex("[‘’]")] private static partial Regex SingleQuotes();
    [GeneratedRegex("&quot;?")] private static partial Regex Quot();
    [GeneratedRegex(@"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}")] private static partial Regex Ip();
    [GeneratedRegex(@"\d:\d\d\s+$")] private static partial Regex ArticleId();
    [GeneratedRegex(@"#\d{1,3}\b")] private static partial Regex Hash3();
    [GeneratedRegex(@"#\d{5,}\b")] private static partial Regex Hash5();
    [GeneratedRegex(@"\b\d{6,}\b")] private static partial Regex Digits6();
    [GeneratedRegex(@"[\S]+\.(?:png|jpg|jpeg|bmp|webp|eps|pdf|apk|mp4)")] private static partial Regex FileName();
    [GeneratedRegex("[\"']{2,}")] private static partial Regex RepeatedQuotes();
    [GeneratedRegex(@"[\.]{2,}")] private static partial Regex Dots();
    [GeneratedRegex(@"[#®•©™&@·º½¾¿¡§~\)\(\]\[\}\{\|\\/\*]{1,}")] private static partial Regex BadPunct();
    [GeneratedRegex(@"\s+\.\s+")] private static partial Regex LoneDot();
    [GeneratedRegex(@"(?:\-|_)")] private static partial Regex DashOrUnderscore();
    [GeneratedRegex(@"\b[a-zA-Z]{1,3}\d{3,15}\b")] private static partial Regex Code1();
    [GeneratedRegex(@"\b[a-zA-Z]+\d+[a-zA-Z]+\b")] private static partial Regex Code2();
    [GeneratedRegex(@"\b\d+[a-zA-Z]+\d+\b")] private static partial Regex Code3();
    [GeneratedRegex(@"(worldwide\s+)?(free\s+)?shipping")] private static partial Regex Shipping();
    [GeneratedRegex(@"(free\s)?download(\sfree)?")] private static partial Regex Download();
    [GeneratedRegex(@"\bclick\b\s(?:for|on)\s\w+")] private static partial Regex ClickFor();
    [GeneratedRegex(@"\b(?:png|jpg|jpeg|bmp|webp|eps|pdf|apk|mp4)(\simage[s]?)?")] private static partial Regex ImageWords();
    [GeneratedRegex(@"\bpage\s+\d+\b")] private static partial Regex PageN();
    [GeneratedRegex(@"\b\d*[a-zA-Z]+\d+[a-zA-Z]+\d+[a-zA-Z\d]*\b")] private static partial Regex Code4();
    [GeneratedRegex(@"\b\d+\.?\d*[xх×]\d+\.?\d*\b")] private static partial Regex Dimensions();
    [GeneratedRegex(@"\b\s+\:\s+")] private static partial Regex Colon();
    [GeneratedRegex(@"(\D[,\./])\b")] private static partial Regex PunctSpace();
    [GeneratedRegex(@"\s+")] private static partial Regex Spaces();
    [GeneratedRegex(@"^[""']([\w\W]+)[""']$")] private static partial Regex EdgeQuotes();
    [GeneratedRegex(@"^['_,\-\:;]")] private static partial Regex LeadingPunct();
    [GeneratedRegex(@"['_,\-\:\-\+]$")] private static partial Regex TrailingPunct();
    [GeneratedRegex(@"^\.\S+$")] private static partial Regex DotWord();
}
