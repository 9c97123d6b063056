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
internal static class Builtins
{
    /// <summary>Go's time.RFC3339 layout, which Istio names in its timestamp error.</summary>
    public const string Rfc3339Layout = "2006-01-02T15:04:05Z07:00";

    private static readonly IdnMapping s_strictIdn = new() { UseStd3AsciiRules = true, AllowUnassigned = false };
    private static readonly IdnMapping s_lookupIdn = new() { UseStd3AsciiRules = false, AllowUnassigned = true };
    private static readonly ConcurrentDictionary<string, (Regex? Regex, string? Error)> s_regexCache = new(StringComparer.Ordinal);
    private const int RegexCacheLimit = 512;
    private static readonly System.Buffers.SearchValues<char> s_schemeChars =
        System.Buffers.SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.");

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

    /// <summary>Builds a regex with RE2's guarantees (no backtracking), translating Go-only syntax.</summary>
    public static bool TryCreateRegex(string pattern, out Regex? regex, out string? error)
    {
        if (s_regexCache.TryGetValue(pattern, out var cached))
        {
            regex = cached.Regex;
            error = cached.Error;
            return regex is not null;
        }

        try
        {
            var dotnet = pattern.Replace("(?P<", "(?<", StringComparison.Ordinal);
            regex = new Regex(dotnet, RegexOptions.CultureInvariant | RegexOptions.NonBacktracking);
            error = null;
        }
        catch (ArgumentException e)
        {
            regex = null;
            error = $"error parsing regexp '{pattern}': {e.Message}";
        }
        catch (NotSupportedException e)
        {
            regex = null;
            error = $"error parsing regexp '{pattern}': {e.Message}";
        }

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

    /// <summary>Go's <c>net.ParseIP</c>: dotted IPv4 (4 bytes) or IPv6 (16 bytes), nothing looser.</summary>
    public static bool ParseIp(string text, out byte[] address, out string? error)
    {
        if (TryParseIPv4(text, out address) || TryParseIPv6(text, out address))
        {
            error = null;
            return true;
        }

        address = [];
        error = $"could not convert {text} to IP_ADDRESS";
        return false;
    }

    private static bool TryParseIPv4(string text, out byte[] address)
    {
        address = [];
        var bytes = new byte[4];
        var part = 0;
        var i = 0;
        while (true)
        {
            var start = i;
            var v = 0;
            while (i < text.Length && char.IsAsciiDigit(text[i]) && i - start < 3)
            {
                v = (v * 10) + (text[i] - '0');
                i++;
            }

            if (i == start || v > 255)
            {
                return false;
            }

            bytes[part++] = (byte)v;
            if (part == 4)
            {
                if (i != text.Length)
                {
                    return false;
                }

                address = bytes;
                return true;
            }

            if (i >= text.Length || text[i] != '.')
            {
                return false;
            }

            i++;
        }
    }

    private static bool TryParseIPv6(string text, out byte[] address)
    {
        address = [];
        if (!text.Contains(':', StringComparison.Ordinal) || text.AsSpan().IndexOfAny("%[]/ ") >= 0)
        {
            return false;
        }

        if (!IPAddress.TryParse(text, out var ip) || ip.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return false;
        }

        address = ip.GetAddressBytes();
        return true;
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

    public static bool ParseTimestamp(string text, out AttributeValue value, out string? error)
    {
        if (Rfc3339.TryParse(text, out var seconds, out var nanos))
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

    // ---- DNS names, e-mail addresses, URIs ----

    /// <summary>Validates a DNS name strictly (IDNA, STD3 letters-digits-hyphen, DNS lengths); yields its Unicode form.</summary>
    public static bool DnsName(string text, out string value, out string? error)
    {
        if (!ValidateDnsName(text, out value, out var reason))
        {
            error = $"error converting '{text}' to dns name: '{reason}'";
            return false;
        }

        error = null;
        return true;
    }

    private static bool ValidateDnsName(string text, out string unicode, out string? reason)
    {
        unicode = string.Empty;
        var name = text.EndsWith('.') ? text[..^1] : text;
        if (name.Length == 0)
        {
            reason = "empty name";
            return false;
        }

        if (name.Length > 253)
        {
            reason = "name longer than 253 characters";
            return false;
        }

        try
        {
            var ascii = s_strictIdn.GetAscii(name);
            foreach (var label in ascii.Split('.'))
            {
                if (label.Length is 0 or > 63)
                {
                    reason = $"label '{label}' must have 1 to 63 characters";
                    return false;
                }
            }

            unicode = s_strictIdn.GetUnicode(ascii) + (text.EndsWith('.') ? "." : string.Empty);
            reason = null;
            return true;
        }
        catch (ArgumentException e)
        {
            reason = e.Message;
            return false;
        }
    }

    /// <summary>Istio's dnsName_equal: compared in lookup form (case-folded), ignoring one trailing dot.</summary>
    public static bool DnsNameEqual(string a, string b, out bool equal, out string? error)
    {
        equal = false;
        if (!LookupForm(a, out var x, out error) || !LookupForm(b, out var y, out error))
        {
            return false;
        }

        equal = string.Equals(x, y, StringComparison.Ordinal);
        return true;
    }

    private static bool LookupForm(string name, out string form, out string? error)
    {
        error = null;
        var trimmed = name.EndsWith('.') ? name[..^1] : name;
        if (trimmed.Length == 0)
        {
            form = string.Empty;
            return true;
        }

        try
        {
            form = s_lookupIdn.GetAscii(trimmed.ToLowerInvariant()).ToLowerInvariant();
            return true;
        }
        catch (ArgumentException e)
        {
            form = string.Empty;
            error = $"error comparing dns name '{name}': {e.Message}";
            return false;
        }
    }

    /// <summary>An RFC 5322 address without a display name, whose domain is a valid DNS name.</summary>
    public static bool Email(string text, out string value, out string? error)
    {
        value = text;
        if (!ParseEmail(text, out _, out var domain, out var reason))
        {
            error = $"error converting '{text}' to e-mail: '{reason}'";
            return false;
        }

        if (!ValidateDnsName(domain, out _, out reason))
        {
            error = $"error converting '{text}' to e-mail: '{reason}'";
            return false;
        }

        error = null;
        return true;
    }

    /// <summary>Istio's email_equal: local parts equal and domains DNS-equal.</summary>
    public static bool EmailEqual(string a, string b, out bool equal, out string? error)
    {
        equal = false;
        if (!ParseEmail(a, out var localA, out var domainA, out var reason) || !ParseEmail(b, out var localB, out var domainB, out reason))
        {
            error = $"error comparing e-mails '{a}' and '{b}': {reason}";
            return false;
        }

        if (!DnsNameEqual(domainA, domainB, out var domainsEqual, out error))
        {
            return false;
        }

        equal = domainsEqual && string.Equals(localA, localB, StringComparison.Ordinal);
        return true;
    }

    private static bool ParseEmail(string text, out string local, out string domain, out string? reason)
    {
        local = domain = string.Empty;
        var s = text.Trim();
        var lt = s.IndexOf('<', StringComparison.Ordinal);
        if (lt >= 0)
        {
            if (lt > 0)
            {
                reason = "display names are not allowed";
                return false;
            }

            if (!s.EndsWith('>'))
            {
                reason = "mail: unclosed angle-addr";
                return false;
            }

            s = s[1..^1];
        }

        var at = s.LastIndexOf('@');
        if (at <= 0 || at == s.Length - 1)
        {
            reason = at < 0 ? "mail: missing @ in addr-spec" : "mail: no local part or domain";
            return false;
        }

        var localPart = s[..at];
        domain = s[(at + 1)..];
        if (localPart.Length >= 2 && localPart[0] == '"' && localPart[^1] == '"')
        {
            local = localPart[1..^1].Replace("\\\"", "\"", StringComparison.Ordinal).Replace("\\\\", "\\", StringComparison.Ordinal);
        }
        else if (IsDotAtom(localPart))
        {
            local = localPart;
        }
        else
        {
            reason = "mail: invalid local part";
            return false;
        }

        if (!IsDotAtom(domain))
        {
            reason = "mail: invalid domain";
            return false;
        }

        reason = null;
        return true;
    }

    private static bool IsDotAtom(string s)
    {
        if (s.Length == 0 || s[0] == '.' || s[^1] == '.' || s.Contains("..", StringComparison.Ordinal))
        {
            return false;
        }

        foreach (var c in s)
        {
            var ok = c == '.' || char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-/=?^_`{|}~".Contains(c, StringComparison.Ordinal) || c >= 0x80;
            if (!ok)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>A non-empty string that parses as a URL (Go's url.Parse rules, approximated).</summary>
    public static bool Uri(string text, out string value, out string? error)
    {
        value = text;
        if (text.Length == 0)
        {
            error = "error converting string to uri: empty string";
            return false;
        }

        if (!ParseUri(text, out _, out var reason))
        {
            error = $"error converting string to uri '{text}': '{reason}'";
            return false;
        }

        error = null;
        return true;
    }

    /// <summary>Istio's uri_equal: schemes case-insensitive; for http(s), hosts DNS-equal and ports equal.</summary>
    public static bool UriEqual(string a, string b, out bool equal, out string? error)
    {
        equal = false;
        if (!ParseUri(a, out var x, out var reason))
        {
            error = $"error converting string to uri '{a}': '{reason}'";
            return false;
        }

        if (!ParseUri(b, out var y, out reason))
        {
            error = $"error converting string to uri '{b}': '{reason}'";
            return false;
        }

        error = null;
        if (!string.Equals(x.Scheme, y.Scheme, StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        if (x.Scheme.Equals("http", StringComparison.OrdinalIgnoreCase) || x.Scheme.Equals("https", StringComparison.OrdinalIgnoreCase))
        {
            if (!DnsNameEqual(x.Host, y.Host, out var hostsEqual, out error))
            {
                return false;
            }

            equal = hostsEqual && x.Port == y.Port && x.UserInfo == y.UserInfo && x.Rest == y.Rest && x.HasAuthority == y.HasAuthority;
            return true;
        }

        equal = x.HasAuthority == y.HasAuthority && x.UserInfo == y.UserInfo && x.Host == y.Host && x.Port == y.Port && x.Rest == y.Rest;
        return true;
    }

    private readonly record struct UriParts(string Scheme, bool HasAuthority, string UserInfo, string Host, string Port, string Rest);

    private static bool ParseUri(string text, out UriParts parts, out string? reason)
    {
        parts = default;
        foreach (var c in text)
        {
            if (c < 0x20 || c == 0x7F)
            {
                reason = "net/url: invalid control character in URL";
                return false;
            }
        }

        var scheme = string.Empty;
        var rest = text;
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        if (colon == 0)
        {
            reason = "missing protocol scheme";
            return false;
        }

        if (colon > 0 && char.IsAsciiLetter(text[0]) && text.AsSpan(0, colon).IndexOfAnyExcept(s_schemeChars) < 0)
        {
            scheme = text[..colon];
            rest = text[(colon + 1)..];
        }
        else if (colon > 0 && text.AsSpan(0, colon).IndexOfAny("/?#") < 0)
        {
            reason = "first path segment in URL cannot contain colon";
            return false;
        }

        for (var i = 0; i < rest.Length; i++)
        {
            if (rest[i] == '%' && (i + 2 >= rest.Length || !char.IsAsciiHexDigit(rest[i + 1]) || !char.IsAsciiHexDigit(rest[i + 2])))
            {
                var bad = rest.Substring(i, Math.Min(3, rest.Length - i));
                reason = $"invalid URL escape \"{bad}\"";
                return false;
            }
        }

        var hasAuthority = false;
        string userInfo = string.Empty, host = string.Empty, port = string.Empty;
        if (rest.StartsWith("//", StringComparison.Ordinal))
        {
            hasAuthority = true;
            var end = rest.AsSpan(2).IndexOfAny("/?#");
            var authority = end < 0 ? rest[2..] : rest.Substring(2, end);
            rest = end < 0 ? string.Empty : rest[(2 + end)..];
            var atSign = authority.LastIndexOf('@');
            if (atSign >= 0)
            {
                userInfo = authority[..atSign];
                authority = authority[(atSign + 1)..];
            }

            if (authority.StartsWith('['))
            {
                var close = authority.IndexOf(']', StringComparison.Ordinal);
                if (close < 0)
                {
                    reason = "missing ']' in host";
                    return false;
                }

                host = authority[..(close + 1)];
                var after = authority[(close + 1)..];
                if (after.Length > 0 && after[0] != ':')
                {
                    reason = $"invalid port \"{after}\" after host";
                    return false;
                }

                port = after.Length > 0 ? after[1..] : string.Empty;
            }
            else
            {
                var pc = authority.LastIndexOf(':');
                host = pc >= 0 ? authority[..pc] : authority;
                port = pc >= 0 ? authority[(pc + 1)..] : string.Empty;
            }

            if (port.Length > 0 && !port.All(char.IsAsciiDigit))
            {
                reason = $"invalid port \":{port}\" after host";
                return false;
            }
        }

        parts = new UriParts(scheme, hasAuthority, userInfo, host, port, rest);
        reason = null;
        return true;
    }

    // ---- attribute resolution (bag values to CLR values) ----

    public static string ConversionError(string kind, AttributeValue value) => $"error converting value to {kind}: '{value}'";

    public static bool AsString(AttributeValue v, out string s, out string? error)
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

    public static bool AsInt64(AttributeValue v, out long l, out string? error)
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

    public static bool AsDouble(AttributeValue v, out double d, out string? error)
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

    public static bool AsBool(AttributeValue v, out bool b, out string? error)
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

    public static bool AsIp(AttributeValue v, out byte[] ip, out string? error)
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

    public static bool AsBytes(AttributeValue v, out byte[] bytes, out string? error) => AsIp(v, out bytes, out error);

    public static bool AsTimestamp(AttributeValue v, out AttributeValue ts, out string? error)
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

    public static bool AsStringMap(AttributeValue v, out IStringMap map, out string? error)
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
