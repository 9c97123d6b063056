using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Mixer.Sdk;
using ValueType = Mixer.Sdk.ValueType;

namespace Mixer.Lang.Runtime;

/// <summary>
/// The semantics of CEXL's functions and equalities, shared by compiled code and constant folding.
/// Functions that can fail return false with a message; none throws for bad input.
/// </summary>
internal static partial class Builtins
{
    /// <summary>Go's time.RFC3339 layout, which Istio names in its timestamp error.</summary>
    public const string Rfc3339Layout = "2006-01-02T15:04:05Z07:00";

    private static readonly ConcurrentDictionary<string, (Regex? Regex, string? Error)> s_regexCache = new(StringComparer.Ordinal);
    private const int RegexCacheLimit = 512;

    // ---- string functions ----

    /// <summary>Istio's glob: <c>p*</c> is a prefix, <c>*p</c> a suffix, anything else equality.</summary>
    public static bool Match(string str, string pattern)
    {
        if (pattern.EndsWith('*'))
        {
            return str.AsSpan().StartsWith(pattern.AsSpan(0, pattern.Length - 1), StringComparison.Ordinal);
        }

        if (pattern.StartsWith('*'))
        {
            return str.AsSpan().EndsWith(pattern.AsSpan(1), StringComparison.Ordinal);
        }

        return string.Equals(str, pattern, StringComparison.Ordinal);
    }

    public static bool StartsWith(string str, string prefix) => str.StartsWith(prefix, StringComparison.Ordinal);

    public static bool EndsWith(string str, string suffix) => str.EndsWith(suffix, StringComparison.Ordinal);

    public static string ToLower(string s) => s.ToLowerInvariant();

    /// <summary>Go's <c>len(s)</c>: the length in UTF-8 bytes.</summary>
    public static long Size(string s)
    {
        foreach (var c in s)
        {
            if (c >= 0x80)
            {
                return Encoding.UTF8.GetByteCount(s);
            }
        }

        return s.Length;
    }

    public static string Concat(string a, string b) => string.Concat(a, b);

    /// <summary>Orders strings as Go does: by their UTF-8 bytes.</summary>
    public static int CompareStrings(string a, string b)
    {
        var n = Math.Min(a.Length, b.Length);
        for (var i = 0; i < n; i++)
        {
            var x = a[i];
            var y = b[i];
            if (x == y)
            {
                continue;
            }

            // UTF-16 order equals UTF-8 order except that surrogates (code points above U+FFFF)
            // sort after U+E000..U+FFFF in UTF-8.
            var xs = char.IsSurrogate(x);
            var ys = char.IsSurrogate(y);
            if (xs != ys && (xs ? y : x) >= 0xE000)
            {
                return xs ? 1 : -1;
            }

            return x < y ? -1 : 1;
        }

        return a.Length.CompareTo(b.Length);
    }

    public static string Lookup(IStringMap map, string key) => map.TryGetValue(key, out var v) ? v ?? string.Empty : string.Empty;

    public static IStringMap EmptyStringMap() => StringMapValue.Empty;

    // ---- regular expressions ----

    /// <summary>Compiles a Go (RE2) pattern as .NET's linear-time engine, translated (see <see cref="GoRegex"/>); cached.</summary>
    public static bool TryCreateRegex(string pattern, out Regex? regex, out string? error)
    {
        if (s_regexCache.TryGetValue(pattern, out var cached))
        {
            regex = cached.Regex;
            error = cached.Error;
            return regex is not null;
        }

        GoRegex.TryCompile(pattern, out regex, out error);
        if (s_regexCache.Count >= RegexCacheLimit)
        {
            s_regexCache.Clear();
        }

        s_regexCache[pattern] = (regex, error);
        return regex is not null;
    }

    /// <summary><c>pattern.matches(str)</c> with a pattern known only at run time.</summary>
    public static bool Matches(string pattern, string str, out bool result, out string? error)
    {
        if (!TryCreateRegex(pattern, out var regex, out error))
        {
            result = false;
            return false;
        }

        result = regex!.IsMatch(str);
        return true;
    }

    public static bool RegexIsMatch(Regex regex, string str) => regex.IsMatch(str);

    // ---- IP addresses ----

    /// <summary>Istio's ip(): Go's <c>net.ParseIP</c>, failing with Istio's message.</summary>
    public static bool ParseIp(string text, out byte[] address, out string? error)
    {
        if (GoNet.TryParseIP(text, out address))
        {
            error = null;
            return true;
        }

        error = $"could not convert {text} to IP_ADDRESS";
        return false;
    }

    /// <summary>Go's <c>net.IP.Equal</c>: an IPv4 address equals its IPv4-mapped IPv6 form.</summary>
    public static bool IpEqual(byte[] a, byte[] b)
    {
        if (a.Length == b.Length)
        {
            return a.AsSpan().SequenceEqual(b);
        }

        var (v4, v6) = a.Length == 4 ? (a, b) : (b, a);
        if (v4.Length != 4 || v6.Length != 16)
        {
            return false;
        }

        ReadOnlySpan<byte> mappedPrefix = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];
        return v6.AsSpan(0, 12).SequenceEqual(mappedPrefix) && v6.AsSpan(12).SequenceEqual(v4);
    }

    public static bool BytesEqual(byte[] a, byte[] b) => a.AsSpan().SequenceEqual(b);

    // ---- timestamps ----

    /// <summary>Istio's timestamp(): Go's <c>time.Parse(time.RFC3339, s)</c>, failing with Istio's message.</summary>
    public static bool ParseTimestamp(string text, out AttributeValue value, out string? error)
    {
        if (GoTime.TryParseRfc3339(text, out var seconds, out var nanos))
        {
            value = AttributeValue.Timestamp(seconds, nanos);
            error = null;
            return true;
        }

        value = default;
        error = $"could not convert '{text}' to TIMESTAMP. expected format: '{Rfc3339Layout}'";
        return false;
    }

    public static bool TimestampEqual(AttributeValue a, AttributeValue b) =>
        a.TimestampSeconds == b.TimestampSeconds && a.TimestampNanos == b.TimestampNanos;

    public static int CompareTimestamps(AttributeValue a, AttributeValue b)
    {
        var c = a.TimestampSeconds.CompareTo(b.TimestampSeconds);
        return c != 0 ? c : a.TimestampNanos.CompareTo(b.TimestampNanos);
    }

    // ---- attribute resolution (bag values to CLR values) ----

    public static string ConversionError(string kind, AttributeValue value) => $"error converting value to {kind}: '{value}'";

    public static bool AsString(in AttributeValue v, out string s, out string? error)
    {
        if (v.Type.IsStringLike())
        {
            s = v.AsString;
            error = null;
            return true;
        }

        s = string.Empty;
        error = ConversionError("string", v);
        return false;
    }

    /// <summary>
    /// A string-like attribute through any bag: 1 with the string, 0 when absent, -1 with the
    /// error when it has another type. Out of line so each compiled lookup stays small.
    /// </summary>
    public static int ResolveString(IAttributeBag bag, AttributeName name, out string s, out string? error)
    {
        if (!bag.TryGet(name, out var raw))
        {
            s = string.Empty;
            error = null;
            return 0;
        }

        return AsString(in raw, out s, out error) ? 1 : -1;
    }

    public static bool AsInt64(in AttributeValue v, out long l, out string? error)
    {
        // Like Istio's resolve_i: an integer or a duration serves either type.
        switch (v.Type)
        {
            case ValueType.Int64:
                l = v.AsInt64;
                error = null;
                return true;
            case ValueType.Duration:
                l = v.AsDurationNanos;
                error = null;
                return true;
            default:
                l = 0;
                error = ConversionError("integer or duration", v);
                return false;
        }
    }

    public static bool AsDouble(in AttributeValue v, out double d, out string? error)
    {
        if (v.Type == ValueType.Double)
        {
            d = v.AsDouble;
            error = null;
            return true;
        }

        d = 0;
        error = ConversionError("double", v);
        return false;
    }

    public static bool AsBool(in AttributeValue v, out bool b, out string? error)
    {
        if (v.Type == ValueType.Bool)
        {
            b = v.AsBool;
            error = null;
            return true;
        }

        b = false;
        error = ConversionError("bool", v);
        return false;
    }

    public static bool AsIp(in AttributeValue v, out byte[] ip, out string? error)
    {
        if (v.Type is ValueType.IpAddress or ValueType.Bytes)
        {
            ip = v.AsBytes;
            error = null;
            return true;
        }

        ip = [];
        error = ConversionError("IP_ADDRESS", v);
        return false;
    }

    public static bool AsBytes(in AttributeValue v, out byte[] bytes, out string? error) => AsIp(in v, out bytes, out error);

    public static bool AsTimestamp(in AttributeValue v, out AttributeValue ts, out string? error)
    {
        if (v.Type == ValueType.Timestamp)
        {
            ts = v;
            error = null;
            return true;
        }

        ts = default;
        error = ConversionError("timestamp", v);
        return false;
    }

    public static bool AsStringMap(in AttributeValue v, out IStringMap map, out string? error)
    {
        if (v.Type == ValueType.StringMap)
        {
            map = v.AsStringMap;
            error = null;
            return true;
        }

        map = StringMapValue.Empty;
        error = ConversionError("string map", v);
        return false;
    }

    /// <summary>
    /// Whether the bag holds <paramref name="name"/>, without recording a lookup: used only after
    /// <see cref="IAttributeBag.TryGetMapValue"/> said no (and recorded why), to tell a missing map
    /// (an error) from a missing key (the empty string). Enumerates the names: the SDK has no
    /// non-recording presence check yet.
    /// </summary>
    public static bool Contains(IAttributeBag bag, AttributeName name)
    {
        foreach (var n in bag.Names)
        {
            if (string.Equals(n, name.Name, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The value typed as the manifest declares it (wire bytes become an IP, strings a DNS name…).</summary>
    public static AttributeValue Box(ValueType type, AttributeValue v) =>
        v.Type == type ? v
        : type.IsStringLike() && v.Type.IsStringLike() ? v.WithType(type)
        : type is ValueType.IpAddress or ValueType.Bytes && v.Type is ValueType.IpAddress or ValueType.Bytes ? IpValue(type, v.AsBytes)
        : type == ValueType.Duration && v.Type == ValueType.Int64 ? AttributeValue.DurationNanos(v.AsInt64)
        : type == ValueType.Int64 && v.Type == ValueType.Duration ? AttributeValue.Int64(v.AsDurationNanos)
        : v;

    private static AttributeValue IpValue(ValueType type, byte[] bytes) =>
        type == ValueType.IpAddress && bytes.Length is 4 or 16 ? AttributeValue.IpAddress(bytes) : AttributeValue.Bytes(bytes);
}
