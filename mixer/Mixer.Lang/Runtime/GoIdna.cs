using System.Globalization;
using System.Text;

namespace Mixer.Lang.Runtime;

/// <summary>
/// The two golang.org/x/net/idna profiles Istio 1.0 uses (as vendored in mid-2018).
/// </summary>
/// <remarks>
/// dnsName() validates with StrictDomainName, ValidateLabels, VerifyDNSLength and BidiRule but no
/// mapping, and in that version STD3 rules only apply to punycode labels: a plain label is checked
/// for hyphens ("--" in positions 3-4, a leading or trailing '-') and a leading combining mark, and
/// may be empty only as the last label. So "a_b.example.com" is a DNS name to Istio, and so is a
/// 70-character label (lengths are checked only when converting to ASCII).
/// dnsName_equal maps for lookup (case folded, STD3: only letters, digits, '-' and '.') before
/// comparing. Non-ASCII text goes through .NET's IDNA for the mapping; the bidi rule is not checked.
/// </remarks>
internal static class GoIdna
{
    private static readonly IdnMapping s_lookup = new() { UseStd3AsciiRules = true, AllowUnassigned = true };
    private static readonly IdnMapping s_strict = new() { UseStd3AsciiRules = true, AllowUnassigned = false };

    /// <summary>The dnsName() profile's ToUnicode: the name (punycode labels decoded) or why it is invalid.</summary>
    public static bool ValidateForDnsName(string text, out string result, out string? error)
    {
        result = text;
        if (!Normalize(text, out var s, out error))
        {
            return false;
        }

        if (s.Length == 0)
        {
            error = LabelError(s);
            return false;
        }

        string[]? decoded = null;
        var index = 0;
        foreach (var (start, length) in Labels(s))
        {
            var label = s.Substring(start, length);
            if (label.Length == 0)
            {
                error = LabelError(s);
                return false;
            }

            if (label.StartsWith("xn--", StringComparison.Ordinal))
            {
                if (!Punycode(s_strict, ref label, out error))
                {
                    return false;
                }

                decoded ??= s.Split('.');
                decoded[index] = label;
            }

            if (!ValidLabel(label))
            {
                error = LabelError(label);
                return false;
            }

            index++;
        }

        result = decoded is null ? s : string.Join('.', decoded);
        error = null;
        return true;
    }

    /// <summary>The dnsName_equal profile (MapForLookup): the case-folded form, or why it cannot be mapped.</summary>
    public static bool MapForLookup(string text, out string result, out string? error)
    {
        result = text;
        if (!Normalize(text, out var s, out error))
        {
            return false;
        }

        var ascii = true;
        var sb = new StringBuilder(s.Length);
        foreach (var c in s)
        {
            if (c >= 0x80)
            {
                ascii = false;
                break;
            }

            var lower = char.ToLowerInvariant(c);
            if (!(char.IsAsciiLetterLower(lower) || char.IsAsciiDigit(lower) || lower is '-' or '.'))
            {
                error = $"idna: disallowed rune U+{(int)c:X4}";
                return false;
            }

            sb.Append(lower);
        }

        var mapped = ascii ? sb.ToString() : MapNonAscii(s, out error);
        if (mapped is null)
        {
            return false;
        }

        foreach (var (start, length) in Labels(mapped))
        {
            var label = mapped.Substring(start, length);
            if (label.StartsWith("xn--", StringComparison.Ordinal) && !Punycode(s_lookup, ref label, out error))
            {
                return false;
            }

            if (label.Length > 0 && !ValidLabel(label))
            {
                error = LabelError(label);
                return false;
            }
        }

        result = mapped;
        error = null;
        return true;
    }

    /// <summary>Decodes (and validates) an "xn--" label.</summary>
    private static bool Punycode(IdnMapping profile, ref string label, out string? error)
    {
        try
        {
            label = profile.GetUnicode(label);
            error = null;
            return true;
        }
        catch (ArgumentException)
        {
            error = LabelError(label);
            return false;
        }
    }

    private static string? MapNonAscii(string s, out string? error)
    {
        error = null;
        var labels = s.Split('.');
        for (var i = 0; i < labels.Length; i++)
        {
            if (labels[i].Length == 0)
            {
                continue;
            }

            try
            {
                labels[i] = s_lookup.GetAscii(labels[i]);
            }
            catch (ArgumentException)
            {
                error = LabelError(labels[i]);
                return null;
            }
        }

        return string.Join('.', labels).ToLowerInvariant();
    }

    private static bool Normalize(string text, out string normalized, out string? error)
    {
        try
        {
            normalized = text.IsNormalized(NormalizationForm.FormC) ? text : text.Normalize(NormalizationForm.FormC);
            error = null;
            return true;
        }
        catch (ArgumentException)
        {
            normalized = text;
            error = "idna: invalid UTF-8";
            return false;
        }
    }

    /// <summary>x/net/idna's label rules V2, V3, V5 and the joiner rule (approximated: no ZWJ/ZWNJ).</summary>
    private static bool ValidLabel(string label)
    {
        if (label.Length == 0)
        {
            return false;
        }

        // Positions are UTF-8 bytes in Go.
        var bytes = label.Length == Encoding.UTF8.GetByteCount(label) ? null : Encoding.UTF8.GetBytes(label);
        var n = bytes?.Length ?? label.Length;
        char At(int i) => bytes is null ? label[i] : (char)bytes[i];
        if (n > 4 && At(2) == '-' && At(3) == '-')
        {
            return false;
        }

        if (At(0) == '-' || At(n - 1) == '-')
        {
            return false;
        }

        var first = CharUnicodeInfo.GetUnicodeCategory(label, 0);
        if (first is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark)
        {
            return false;
        }

        return !label.Contains('\u200C', StringComparison.Ordinal) && !label.Contains('\u200D', StringComparison.Ordinal);
    }

    /// <summary>x/net/idna's label iterator: a final empty label (a trailing dot) is not visited, nor one before it.</summary>
    private static IEnumerable<(int Start, int Length)> Labels(string s)
    {
        var start = 0;
        while (start < s.Length)
        {
            var dot = s.IndexOf('.', start);
            var end = dot < 0 ? s.Length : dot;
            yield return (start, end - start);
            start = end + 1;
            if (start == s.Length - 1 && s[start] == '.')
            {
                start = s.Length;
            }
        }
    }

    private static string LabelError(string label) => $"idna: invalid label \"{label}\"";
}
