using System.Net;
using System.Net.Sockets;

namespace Mixer.Lang.Runtime;

/// <summary>Go 1.10's <c>net.ParseIP</c>, which Istio 1.0's ip() calls.</summary>
internal static class GoNet
{
    private static readonly System.Buffers.SearchValues<char> s_notInGoIPv6 = System.Buffers.SearchValues.Create("%[]/ \t");

    /// <summary>
    /// The first '.' or ':' decides the family, as in Go. IPv4 parts are decimal with any number of
    /// digits (Go 1.10 still took leading zeros: 010.0.0.1 is 10.0.0.1); IPv6 takes no zone and no
    /// brackets. An IPv4 address, and an IPv4-mapped IPv6 one, yield 4 bytes: Go's net.IP prints
    /// and compares both forms the same.
    /// </summary>
    public static bool TryParseIP(string text, out byte[] address)
    {
        address = [];
        foreach (var c in text)
        {
            if (c == '.')
            {
                return TryParseIPv4(text, out address);
            }

            if (c == ':')
            {
                return TryParseIPv6(text, out address);
            }
        }

        return false;
    }

    private static bool TryParseIPv4(string s, out byte[] address)
    {
        address = [];
        var bytes = new byte[4];
        var i = 0;
        for (var part = 0; part < 4; part++)
        {
            if (part > 0)
            {
                if (i >= s.Length || s[i] != '.')
                {
                    return false;
                }

                i++;
            }

            var start = i;
            var n = 0;
            while (i < s.Length && char.IsAsciiDigit(s[i]))
            {
                n = (n * 10) + (s[i] - '0');
                if (n > 0xFFFFFF)
                {
                    return false;
                }

                i++;
            }

            if (i == start || n > 255)
            {
                return false;
            }

            bytes[part] = (byte)n;
        }

        if (i != s.Length)
        {
            return false;
        }

        address = bytes;
        return true;
    }

    private static bool TryParseIPv6(string s, out byte[] address)
    {
        address = [];

        // .NET also reads zones, brackets, prefixes and ports, which Go's ParseIP refuses.
        if (s.AsSpan().IndexOfAny(s_notInGoIPv6) >= 0 || !IPAddress.TryParse(s, out var ip) || ip.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return false;
        }

        var bytes = ip.GetAddressBytes();
        address = IsV4Mapped(bytes) ? bytes[12..] : bytes;
        return true;
    }

    /// <summary>True for ::ffff:a.b.c.d.</summary>
    public static bool IsV4Mapped(ReadOnlySpan<byte> ip) =>
        ip.Length == 16 && ip[..10].IndexOfAnyExcept((byte)0) < 0 && ip[10] == 0xff && ip[11] == 0xff;

    /// <summary>Go's <c>net.IP.String()</c>: dotted for IPv4 and IPv4-mapped addresses.</summary>
    public static string Format(byte[] ip) =>
        ip.Length is 4 or 16 ? new IPAddress(IsV4Mapped(ip) ? ip[12..] : ip).ToString() : "?" + Convert.ToHexString(ip);
}
