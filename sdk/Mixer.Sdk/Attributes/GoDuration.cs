using System.Globalization;
using System.Text;

namespace Mixer.Sdk;

/// <summary>
/// Go's duration text (<c>300ms</c>, <c>1.5h</c>, <c>2h45m</c>, <c>-1us</c>), as Istio reads and
/// prints durations in config, in mixc flags and in its expression language.
/// </summary>
public static class GoDuration
{
    private const long Nanosecond = 1;
    private const long Microsecond = 1000 * Nanosecond;
    private const long Millisecond = 1000 * Microsecond;
    private const long Second = 1000 * Millisecond;
    private const long Minute = 60 * Second;
    private const long Hour = 60 * Minute;

    /// <summary>
    /// Parses like Go's <c>time.ParseDuration</c>: a sign, then one or more decimal numbers each
    /// with a unit (ns, us, µs, ms, s, m, h); the bare <c>0</c> is allowed. False when malformed or out of range.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<char> text, out long nanoseconds)
    {
        nanoseconds = 0;
        var s = text;
        var negative = false;
        if (s.Length > 0 && (s[0] == '-' || s[0] == '+'))
        {
            negative = s[0] == '-';
            s = s[1..];
        }

        if (s.SequenceEqual("0"))
        {
            return true;
        }

        if (s.IsEmpty)
        {
            return false;
        }

        ulong total = 0;
        while (!s.IsEmpty)
        {
            // The number: digits, optionally a fraction.
            if (!(s[0] == '.' || char.IsAsciiDigit(s[0])))
            {
                return false;
            }

            ulong whole = 0;
            var i = 0;
            var sawDigits = false;
            while (i < s.Length && char.IsAsciiDigit(s[i]))
            {
                if (whole > (ulong.MaxValue - 9) / 10)
                {
                    return false;
                }

                whole = (whole * 10) + (ulong)(s[i] - '0');
                i++;
                sawDigits = true;
            }

            ulong fraction = 0;
            double scale = 1;
            if (i < s.Length && s[i] == '.')
            {
                i++;
                while (i < s.Length && char.IsAsciiDigit(s[i]))
                {
                    if (fraction <= (ulong.MaxValue - 9) / 10)
                    {
                        fraction = (fraction * 10) + (ulong)(s[i] - '0');
                        scale *= 10;
                    }

                    i++;
                    sawDigits = true;
                }
            }

            if (!sawDigits)
            {
                return false;
            }

            s = s[i..];

            // The unit.
            var u = 0;
            while (u < s.Length && s[u] != '.' && !char.IsAsciiDigit(s[u]))
            {
                u++;
            }

            if (u == 0)
            {
                return false;
            }

            long unit = s[..u] switch
            {
                "ns" => Nanosecond,
                "us" or "µs" or "μs" => Microsecond,
                "ms" => Millisecond,
                "s" => Second,
                "m" => Minute,
                "h" => Hour,
                _ => 0,
            };
            if (unit == 0)
            {
                return false;
            }

            s = s[u..];
            if (whole > (ulong)(long.MaxValue / unit))
            {
                return false;
            }

            var v = whole * (ulong)unit;
            if (fraction > 0)
            {
                v += (ulong)(fraction * ((double)unit / scale));
            }

            total += v;
            if (total > (ulong)long.MaxValue + (negative ? 1UL : 0UL))
            {
                return false;
            }
        }

        nanoseconds = negative ? (long)(0 - total) : (long)total;
        return true;
    }

    /// <summary>Parses or throws <see cref="FormatException"/> naming the text.</summary>
    public static long Parse(string text) =>
        TryParse(text, out var ns) ? ns : throw new FormatException($"'{text}' is not a duration (examples: 10ms, 1.5s, 2h45m)");

    /// <summary>Formats <paramref name="duration"/> like Go's <c>Duration.String()</c> (see <see cref="Format(long)"/>).</summary>
    public static string Format(TimeSpan duration) => Format(duration.Ticks * 100);

    /// <summary>Formats like Go's <c>Duration.String()</c>: <c>1h2m3.5s</c>, <c>1.5ms</c>, <c>0s</c>.</summary>
    public static string Format(long nanoseconds)
    {
        if (nanoseconds == 0)
        {
            return "0s";
        }

        var negative = nanoseconds < 0;
        var u = negative ? (ulong)(0 - nanoseconds) : (ulong)nanoseconds;
        var sb = new StringBuilder();
        if (negative)
        {
            sb.Append('-');
        }

        if (u < (ulong)Second)
        {
            // Sub-second: the largest unit that keeps a non-zero integer part.
            (string unit, ulong size) = u < (ulong)Microsecond ? ("ns", 1UL)
                : u < (ulong)Millisecond ? ("µs", (ulong)Microsecond)
                : ("ms", (ulong)Millisecond);
            AppendFraction(sb, u, size);
            sb.Append(unit);
            return sb.ToString();
        }

        var hours = u / (ulong)Hour;
        u -= hours * (ulong)Hour;
        var minutes = u / (ulong)Minute;
        u -= minutes * (ulong)Minute;
        if (hours > 0)
        {
            sb.Append(hours.ToString(CultureInfo.InvariantCulture)).Append('h');
        }

        if (hours > 0 || minutes > 0)
        {
            sb.Append(minutes.ToString(CultureInfo.InvariantCulture)).Append('m');
        }

        AppendFraction(sb, u, (ulong)Second);
        sb.Append('s');
        return sb.ToString();
    }

    private static void AppendFraction(StringBuilder sb, ulong value, ulong size)
    {
        var whole = value / size;
        var rest = value % size;
        sb.Append(whole.ToString(CultureInfo.InvariantCulture));
        if (rest == 0)
        {
            return;
        }

        var digits = size.ToString(CultureInfo.InvariantCulture).Length - 1;
        var frac = rest.ToString(CultureInfo.InvariantCulture).PadLeft(digits, '0').TrimEnd('0');
        sb.Append('.').Append(frac);
    }
}
