using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Mixer.Lang.Runtime;

/// <summary>
/// Go's <c>regexp.MatchString</c> (RE2 syntax, an unanchored search), on .NET's linear-time
/// engine. The pattern is translated where the two dialects read the same text differently:
/// <c>\d \w \s</c> are ASCII-only in Go; <c>$</c> without the m flag is the end of the text only
/// (.NET also matches before a final newline); <c>[[:alpha:]]</c>, <c>\pL</c>, <c>\Q..\E</c>,
/// <c>\x{...}</c>, octal escapes and <c>(?P&lt;name&gt;</c> are Go spellings; '[' inside a class is
/// a literal in Go (.NET would read class subtraction); repeat counts above 1000 are errors in Go.
/// What RE2 refuses and .NET's engine also refuses (back-references, look-arounds) stays an error.
/// </summary>
internal static class GoRegex
{
    private const string Word = "0-9A-Za-z_";
    private const string Space = "\\t\\n\\f\\r ";

    private static readonly Dictionary<string, string> s_posix = new(StringComparer.Ordinal)
    {
        ["alnum"] = "0-9A-Za-z", ["alpha"] = "A-Za-z", ["ascii"] = "\\x00-\\x7F", ["blank"] = "\\t ",
        ["cntrl"] = "\\x00-\\x1F\\x7F", ["digit"] = "0-9", ["graph"] = "!-~", ["lower"] = "a-z",
        ["print"] = " -~", ["punct"] = "!-/:-@\\[-`{-~", ["space"] = "\\t\\n\\v\\f\\r ", ["upper"] = "A-Z",
        ["word"] = Word, ["xdigit"] = "0-9A-Fa-f",
    };

    public static bool TryCompile(string pattern, out Regex? regex, out string? error)
    {
        regex = null;
        try
        {
            var dotnet = Translate(pattern);
            regex = new Regex(dotnet, RegexOptions.CultureInvariant | RegexOptions.NonBacktracking);
            error = null;
            return true;
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or FormatException)
        {
            error = $"error parsing regexp: {e.Message}: `{pattern}`";
            return false;
        }
    }

    internal static string Translate(string p)
    {
        var multiline = Regex.IsMatch(p, @"\(\?[a-zA-Z]*m", RegexOptions.CultureInvariant);
        var sb = new StringBuilder(p.Length + 16);
        var inClass = false;
        var classStart = 0;
        for (var i = 0; i < p.Length; i++)
        {
            var c = p[i];
            if (c == '\\')
            {
                i = Escape(p, i, inClass, sb);
                continue;
            }

            if (inClass)
            {
                if (c == ']' && i > classStart)
                {
                    inClass = false;
                    sb.Append(']');
                }
                else if (c == '[' && i + 1 < p.Length && p[i + 1] == ':' && PosixClass(p, i, sb) is var end and > 0)
                {
                    i = end;
                }
                else
                {
                    sb.Append(c == '[' ? "\\[" : c.ToString());
                }

                continue;
            }

            switch (c)
            {
                case '[':
                    inClass = true;
                    sb.Append('[');
                    if (i + 1 < p.Length && p[i + 1] == '^')
                    {
                        sb.Append('^');
                        i++;
                    }

                    classStart = i + 1; // a ']' right here is a literal
                    break;
                case '$' when !multiline:
                    sb.Append("\\z");
                    break;
                case '(' when string.CompareOrdinal(p, i, "(?P<", 0, 4) == 0:
                    sb.Append("(?<");
                    i += 3;
                    break;
                case '{':
                    CheckRepeat(p, i);
                    sb.Append(c);
                    break;
                default:
                    sb.Append(c);
                    break;
            }
        }

        return sb.ToString();
    }

    private static int Escape(string p, int i, bool inClass, StringBuilder sb)
    {
        if (i + 1 >= p.Length)
        {
            throw new ArgumentException("trailing backslash at end of expression");
        }

        var e = p[i + 1];
        switch (e)
        {
            case 'd':
                sb.Append(inClass ? "0-9" : "[0-9]");
                return i + 1;
            case 'w':
                sb.Append(inClass ? Word : "[" + Word + "]");
                return i + 1;
            case 's':
                sb.Append(inClass ? Space : "[" + Space + "]");
                return i + 1;
            case 'D' when !inClass:
                sb.Append("[^0-9]");
                return i + 1;
            case 'W' when !inClass:
                sb.Append("[^" + Word + "]");
                return i + 1;
            case 'S' when !inClass:
                sb.Append("[^" + Space + "]");
                return i + 1;
            case 'p' or 'P' when i + 2 < p.Length && p[i + 2] != '{':
                sb.Append('\\').Append(e).Append('{').Append(p[i + 2]).Append('}');
                return i + 2;
            case 'Q':
                {
                    var end = p.IndexOf("\\E", i + 2, StringComparison.Ordinal);
                    var literal = end < 0 ? p[(i + 2)..] : p[(i + 2)..end];
                    foreach (var ch in literal)
                    {
                        AppendLiteral(sb, ch);
                    }

                    return end < 0 ? p.Length - 1 : end + 1;
                }

            case 'x' when i + 2 < p.Length && p[i + 2] == '{':
                {
                    var close = p.IndexOf('}', i + 3);
                    if (close < 0 || !int.TryParse(p.AsSpan(i + 3, close - i - 3), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var cp) || cp > 0x10FFFF)
                    {
                        throw new ArgumentException("invalid escape sequence: \\x{");
                    }

                    foreach (var ch in char.ConvertFromUtf32(cp))
                    {
                        AppendLiteral(sb, ch);
                    }

                    return close;
                }

            case >= '0' and <= '7':
                {
                    // Go: \0 and \1..\7 followed by octal digits are octal codes; a lone \1..\9 is a
                    // back-reference, which RE2 does not have.
                    var j = i + 1;
                    var v = 0;
                    while (j < p.Length && j < i + 4 && p[j] is >= '0' and <= '7')
                    {
                        v = (v * 8) + (p[j] - '0');
                        j++;
                    }

                    if (e != '0' && j == i + 2)
                    {
                        throw new ArgumentException($"invalid escape sequence: \\{e}");
                    }

                    AppendLiteral(sb, (char)v);
                    return j - 1;
                }

            case '8' or '9' or 'Z' or 'C' or 'G' or 'k' or 'K' or 'R' or 'X' or 'e':
                throw new ArgumentException($"invalid escape sequence: \\{e}");
            default:
                sb.Append('\\').Append(e);
                return i + 1;
        }
    }

    private static void AppendLiteral(StringBuilder sb, char c)
    {
        if (char.IsAsciiLetterOrDigit(c))
        {
            sb.Append(c);
        }
        else
        {
            sb.Append("\\u").Append(((int)c).ToString("X4", CultureInfo.InvariantCulture));
        }
    }

    /// <summary>Translates <c>[:name:]</c> (or <c>[:^name:]</c>) inside a class; returns the index of its last ']' or -1.</summary>
    private static int PosixClass(string p, int i, StringBuilder sb)
    {
        var close = p.IndexOf(":]", i + 2, StringComparison.Ordinal);
        if (close < 0)
        {
            return -1;
        }

        var name = p[(i + 2)..close];
        var negated = name.StartsWith('^');
        if (!s_posix.TryGetValue(negated ? name[1..] : name, out var ranges))
        {
            throw new ArgumentException($"invalid character class range: [:{name}:]");
        }

        if (negated)
        {
            throw new ArgumentException($"negated POSIX class [:{name}:] is not supported here");
        }

        sb.Append(ranges);
        return close + 1;
    }

    private static void CheckRepeat(string p, int i)
    {
        var m = Regex.Match(p[i..], @"^\{(\d+)(?:,(\d*))?\}", RegexOptions.CultureInvariant);
        if (!m.Success)
        {
            return;
        }

        foreach (Group g in m.Groups.Values.Skip(1))
        {
            if (g.Success && g.Length > 0 && (g.Length > 4 || int.Parse(g.Value, CultureInfo.InvariantCulture) > 1000))
            {
                throw new ArgumentException($"invalid repeat count: {m.Value}");
            }
        }
    }
}
