using System.Globalization;

namespace Mixer.Sdk;

/// <summary>RFC 3339 timestamps with nanosecond precision, as Istio reads and prints them.</summary>
public static class Rfc3339
{
    /// <summary>Formats seconds and nanos since the Unix epoch as UTC, e.g. <c>2018-07-31T12:00:00.5Z</c>.</summary>
    public static string Format(long seconds, int nanos)
    {
        var t = DateTimeOffset.UnixEpoch.AddSeconds(seconds);
        var s = t.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture);
        if (nanos != 0)
        {
            s += "." + nanos.ToString("D9", CultureInfo.InvariantCulture).TrimEnd('0');
        }

        return s + "Z";
    }

    /// <summary>
    /// Parses <c>YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)</c> into seconds and nanos since the Unix epoch.
    /// </summary>
    public static bool TryParse(string text, out long seconds, out int nanos)
    {
        seconds = 0;
        nanos = 0;
        if (string.IsNullOrEmpty(text) || text.Length < 20)
        {
            return false;
        }

        // Split off the fraction so nanoseconds survive (DateTimeOffset keeps only 100 ns).
        var dot = text.IndexOf('.', 19 > text.Length ? 0 : 19);
        var core = text;
        if (dot == 19)
        {
            var end = dot + 1;
            while (end < text.Length && char.IsAsciiDigit(text[end]))
            {
                end++;
            }

            var digits = text[(dot + 1)..end];
            if (digits.Length is 0 or > 9)
            {
                return false;
            }

            nanos = int.Parse(digits.PadRight(9, '0'), CultureInfo.InvariantCulture);
            core = text[..dot] + text[end..];
        }
        else if (text.Length > 19 && text[19] != 'Z' && text[19] != 'z' && text[19] != '+' && text[19] != '-')
        {
            return false;
        }

        if (!DateTimeOffset.TryParseExact(
                core,
                ["yyyy-MM-dd'T'HH:mm:ssK", "yyyy-MM-dd't'HH:mm:ssK", "yyyy-MM-dd'T'HH:mm:ss'z'"],
                CultureInfo.InvariantCulture,
                DateTimeStyles.AssumeUniversal,
                out var dto))
        {
            return false;
        }

        seconds = dto.ToUnixTimeSeconds();
        return true;
    }
}
