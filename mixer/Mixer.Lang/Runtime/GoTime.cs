namespace Mixer.Lang.Runtime;

/// <summary>Go 1.10's <c>time.Parse(time.RFC3339, s)</c>, which Istio 1.0's timestamp() calls.</summary>
internal static class GoTime
{
    /// <summary>
    /// Layout <c>2006-01-02T15:04:05Z07:00</c> read Go's way: a 4-digit year, 2-digit month, day,
    /// minute and second, but an hour of one or two digits; an optional fraction after the seconds
    /// even though the layout has none; 'T' and 'Z' upper-case only; days checked against the
    /// month; nothing may follow.
    /// </summary>
    public static bool TryParseRfc3339(string s, out long seconds, out int nanos)
    {
        seconds = 0;
        nanos = 0;
        var i = 0;
        if (!Fixed(s, ref i, 4, out var year) || !Literal(s, ref i, '-')
            || !Fixed(s, ref i, 2, out var month) || !Literal(s, ref i, '-')
            || !Fixed(s, ref i, 2, out var day) || !Literal(s, ref i, 'T')
            || !Hour(s, ref i, out var hour) || !Literal(s, ref i, ':')
            || !Fixed(s, ref i, 2, out var minute) || !Literal(s, ref i, ':')
            || !Fixed(s, ref i, 2, out var second))
        {
            return false;
        }

        if (i + 1 < s.Length && s[i] == '.' && char.IsAsciiDigit(s[i + 1]))
        {
            var start = ++i;
            long fraction = 0;
            while (i < s.Length && char.IsAsciiDigit(s[i]))
            {
                fraction = (fraction * 10) + (s[i] - '0');
                if (fraction >= 1_000_000_000_000)
                {
                    return false;
                }

                i++;
            }

            // Go scales by the digits missing up to nine and refuses a value of a second or more.
            for (var d = i - start; d < 9; d++)
            {
                fraction *= 10;
            }

            if (fraction >= 1_000_000_000)
            {
                return false;
            }

            nanos = (int)fraction;
        }

        long offset;
        if (i < s.Length && s[i] == 'Z')
        {
            i++;
            offset = 0;
        }
        else
        {
            if (s.Length - i < 6 || s[i] is not ('+' or '-') || s[i + 3] != ':'
                || !TwoDigits(s, i + 1, out var oh) || !TwoDigits(s, i + 4, out var om))
            {
                return false;
            }

            offset = ((oh * 60) + om) * 60 * (s[i] == '-' ? -1 : 1);
            i += 6;
        }

        if (i != s.Length || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year == 0 ? 2000 : year, month)
            || hour > 23 || minute > 59 || second > 59)
        {
            return false;
        }

        // Year 0 is valid in Go (proleptic Gregorian; a leap year), not in DateTime.
        var days = (long)(new DateTime(year == 0 ? 2000 : year, month, day) - DateTime.UnixEpoch).TotalDays;
        if (year == 0)
        {
            days -= 730485; // days from 0000-01-01 to 2000-01-01
        }

        seconds = (days * 86400) + (hour * 3600) + (minute * 60) + second - offset;
        return true;
    }

    private static bool Literal(string s, ref int i, char c)
    {
        if (i < s.Length && s[i] == c)
        {
            i++;
            return true;
        }

        return false;
    }

    private static bool Fixed(string s, ref int i, int digits, out int value)
    {
        value = 0;
        if (i + digits > s.Length)
        {
            return false;
        }

        for (var k = 0; k < digits; k++)
        {
            if (!char.IsAsciiDigit(s[i + k]))
            {
                return false;
            }

            value = (value * 10) + (s[i + k] - '0');
        }

        i += digits;
        return true;
    }

    private static bool Hour(string s, ref int i, out int hour)
    {
        hour = 0;
        if (i >= s.Length || !char.IsAsciiDigit(s[i]))
        {
            return false;
        }

        hour = s[i++] - '0';
        if (i < s.Length && char.IsAsciiDigit(s[i]))
        {
            hour = (hour * 10) + (s[i++] - '0');
        }

        return true;
    }

    private static bool TwoDigits(string s, int at, out int value)
    {
        var i = at;
        return Fixed(s, ref i, 2, out value);
    }
}
