namespace Mixer.Lang.Runtime;

/// <summary>The parts of a URL as Go's net/url keeps them (escapes decoded, query raw).</summary>
internal readonly record struct GoUrlParts(
    string Scheme, string Opaque, bool HasAuthority, string? User, string Host, string Path, bool ForceQuery, string? RawQuery, string? Fragment)
{
    /// <summary>Go's <c>URL.Hostname()</c>.</summary>
    public string Hostname
    {
        get
        {
            var colon = Host.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0)
            {
                return Host;
            }

            var bracket = Host.IndexOf(']', StringComparison.Ordinal);
            return bracket >= 0 ? Host[..bracket].TrimStart('[') : Host[..colon];
        }
    }

    /// <summary>Go's <c>URL.Port()</c>.</summary>
    public string Port
    {
        get
        {
            var colon = Host.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0)
            {
                return string.Empty;
            }

            var close = Host.IndexOf("]:", StringComparison.Ordinal);
            if (close >= 0)
            {
                return Host[(close + 2)..];
            }

            return Host.Contains(']', StringComparison.Ordinal) ? string.Empty : Host[(colon + 1)..];
        }
    }
}

/// <summary>Go 1.10's <c>net/url.Parse</c>, which Istio 1.0's uri() and uri_equal call.</summary>
internal static class GoUrl
{
    private enum Mode
    {
        Path,
        Host,
        UserPassword,
        Fragment,
    }

    /// <summary>
    /// Parses as Go 1.10 did: the fragment after the first '#', a scheme of letters then letters,
    /// digits, '+', '-' or '.', an opaque part when no '/' follows the scheme, an authority after
    /// "//" (user info checked, host characters checked, ports not), '%' escapes checked in the
    /// path, host, user info and fragment but not in the query. Control characters pass (Go 1.12
    /// began refusing them).
    /// </summary>
    public static bool TryParse(string raw, out GoUrlParts url, out string? error)
    {
        url = default;
        var hash = raw.IndexOf('#', StringComparison.Ordinal);
        var rest = hash < 0 ? raw : raw[..hash];
        string? fragment = null;
        if (hash >= 0 && !Unescape(raw[(hash + 1)..], Mode.Fragment, out fragment, out error))
        {
            return false;
        }

        if (rest == "*")
        {
            url = new GoUrlParts(string.Empty, string.Empty, false, null, string.Empty, "*", false, null, fragment);
            error = null;
            return true;
        }

        if (!Scheme(rest, out var scheme, out rest, out error))
        {
            return false;
        }

        var forceQuery = false;
        string? query = null;
        var q = rest.IndexOf('?', StringComparison.Ordinal);
        if (rest.EndsWith('?') && q == rest.Length - 1)
        {
            forceQuery = true;
            rest = rest[..^1];
        }
        else if (q >= 0)
        {
            query = rest[(q + 1)..];
            rest = rest[..q];
        }

        if (!rest.StartsWith('/'))
        {
            if (scheme.Length > 0)
            {
                url = new GoUrlParts(scheme.ToLowerInvariant(), rest, false, null, string.Empty, string.Empty, forceQuery, query, fragment);
                error = null;
                return true;
            }

            var colon = rest.IndexOf(':', StringComparison.Ordinal);
            var slash = rest.IndexOf('/', StringComparison.Ordinal);
            if (colon >= 0 && (slash < 0 || colon < slash))
            {
                error = "first path segment in URL cannot contain colon";
                return false;
            }
        }

        string? user = null;
        var host = string.Empty;
        var hasAuthority = false;
        if ((scheme.Length > 0 || !rest.StartsWith("///", StringComparison.Ordinal)) && rest.StartsWith("//", StringComparison.Ordinal))
        {
            hasAuthority = true;
            var slash = rest.IndexOf('/', 2);
            var authority = slash < 0 ? rest[2..] : rest[2..slash];
            rest = slash < 0 ? string.Empty : rest[slash..];
            if (!Authority(authority, out user, out host, out error))
            {
                return false;
            }
        }

        if (!Unescape(rest, Mode.Path, out var path, out error))
        {
            return false;
        }

        url = new GoUrlParts(scheme.ToLowerInvariant(), string.Empty, hasAuthority, user, host, path!, forceQuery, query, fragment);
        return true;
    }

    private static bool Scheme(string raw, out string scheme, out string rest, out string? error)
    {
        scheme = string.Empty;
        rest = raw;
        error = null;
        for (var i = 0; i < raw.Length; i++)
        {
            var c = raw[i];
            if (char.IsAsciiLetter(c))
            {
                continue;
            }

            if (char.IsAsciiDigit(c) || c is '+' or '-' or '.')
            {
                if (i == 0)
                {
                    return true;
                }

                continue;
            }

            if (c == ':')
            {
                if (i == 0)
                {
                    error = "missing protocol scheme";
                    return false;
                }

                scheme = raw[..i];
                rest = raw[(i + 1)..];
            }

            return true;
        }

        return true;
    }

    private static bool Authority(string authority, out string? user, out string host, out string? error)
    {
        user = null;
        var at = authority.LastIndexOf('@');
        if (!Host(at < 0 ? authority : authority[(at + 1)..], out host, out error))
        {
            return false;
        }

        if (at < 0)
        {
            return true;
        }

        var info = authority[..at];
        foreach (var c in info)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || "-._:~!$&'()*+,;=%@".Contains(c, StringComparison.Ordinal)))
            {
                error = "net/url: invalid userinfo";
                return false;
            }
        }

        return Unescape(info, Mode.UserPassword, out user, out error);
    }

    private static bool Host(string host, out string result, out string? error)
    {
        result = host;
        if (host.StartsWith('['))
        {
            var close = host.LastIndexOf(']');
            if (close < 0)
            {
                error = "missing ']' in host";
                return false;
            }

            var colonPort = host[(close + 1)..];
            if (colonPort.Length > 0 && (colonPort[0] != ':' || colonPort.AsSpan(1).ContainsAnyExceptInRange('0', '9')))
            {
                error = $"invalid port \"{colonPort}\" after host";
                return false;
            }
        }

        return Unescape(host, Mode.Host, out result!, out error);
    }

    private static bool Unescape(string s, Mode mode, out string? result, out string? error)
    {
        result = s;
        error = null;
        var sb = new System.Text.StringBuilder(s.Length);
        var pending = new List<byte>();
        for (var i = 0; i < s.Length; i++)
        {
            var c = s[i];
            if (c == '%')
            {
                if (i + 2 >= s.Length || !char.IsAsciiHexDigit(s[i + 1]) || !char.IsAsciiHexDigit(s[i + 2]))
                {
                    error = $"invalid URL escape \"{s.Substring(i, Math.Min(3, s.Length - i))}\"";
                    return false;
                }

                var b = Convert.ToByte(s.Substring(i + 1, 2), 16);
                if (mode == Mode.Host && b < 0x80 && s.Substring(i, 3) != "%25")
                {
                    error = $"invalid URL escape \"{s.Substring(i, 3)}\"";
                    return false;
                }

                pending.Add(b);
                i += 2;
                continue;
            }

            if (mode == Mode.Host && c < 0x80 && !HostChar(c))
            {
                error = $"invalid character \"{c}\" in host name";
                return false;
            }

            Flush(sb, pending);
            sb.Append(c);
        }

        Flush(sb, pending);
        result = sb.ToString();
        return true;
    }

    private static void Flush(System.Text.StringBuilder sb, List<byte> bytes)
    {
        if (bytes.Count > 0)
        {
            sb.Append(System.Text.Encoding.UTF8.GetString(bytes.ToArray()));
            bytes.Clear();
        }
    }

    private static bool HostChar(char c) => char.IsAsciiLetterOrDigit(c) || "-_.~!$&'()*+,;=:[]<>\"".Contains(c, StringComparison.Ordinal);
}
