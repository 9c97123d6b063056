using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace Mixer.Adapters.Policy;

/// <summary>An immutable list of entries of one type, ready to be checked against.</summary>
internal abstract class EntryList
{
    public abstract int Count { get; }

    /// <summary>Whether <paramref name="value"/> is in the list; null when it cannot be, with why.</summary>
    public abstract bool Contains(string value, out string? invalid);

    /// <summary>Builds a list; throws <see cref="FormatException"/> naming the first bad entry.</summary>
    public static EntryList Create(ListEntryType type, IEnumerable<string> entries) => type switch
    {
        ListEntryType.Strings => new StringList(entries, StringComparer.Ordinal),
        ListEntryType.CaseInsensitiveStrings => new StringList(entries, StringComparer.OrdinalIgnoreCase),
        ListEntryType.IpAddresses => new IpList(entries),
        ListEntryType.Regex => new RegexList(entries),
        _ => throw new FormatException($"unknown entry type {type}"),
    };

    /// <summary>Null when <paramref name="entry"/> is valid for <paramref name="type"/>, else why not.</summary>
    public static string? CheckEntry(ListEntryType type, string entry)
    {
        try
        {
            _ = Create(type, [entry]);
            return null;
        }
        catch (FormatException ex)
        {
            return ex.Message;
        }
    }

    /// <summary>The entries of a provider document: one per line, blank lines skipped.</summary>
    public static IEnumerable<string> Lines(string document) =>
        document.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0);

    private sealed class StringList(IEnumerable<string> entries, StringComparer comparer) : EntryList
    {
        private readonly HashSet<string> _set = new(entries, comparer);

        public override int Count => _set.Count;

        public override bool Contains(string value, out string? invalid)
        {
            invalid = null;
            return _set.Contains(value);
        }
    }

    private sealed class RegexList : EntryList
    {
        private readonly Regex[] _patterns;

        public RegexList(IEnumerable<string> entries) => _patterns = entries.Select(Compile).ToArray();

        public override int Count => _patterns.Length;

        public override bool Contains(string value, out string? invalid)
        {
            invalid = null;
            foreach (var p in _patterns)
            {
                try
                {
                    if (p.IsMatch(value))
                    {
                        return true;
                    }
                }
                catch (RegexMatchTimeoutException)
                {
                    invalid = $"{value} took too long to match {p}";
                    return false;
                }
            }

            return false;
        }

        private static Regex Compile(string pattern)
        {
            try
            {
                return new Regex(pattern, RegexOptionsForLists.Options, RegexOptionsForLists.MatchTimeout);
            }
            catch (ArgumentException ex)
            {
                throw new FormatException($"could not parse regular expression {pattern}: {ex.Message}", ex);
            }
        }
    }

    private sealed class IpList : EntryList
    {
        private readonly (byte[] Network, int PrefixBits)[] _ranges;

        public IpList(IEnumerable<string> entries) => _ranges = entries.Select(ParseRange).ToArray();

        public override int Count => _ranges.Length;

        public override bool Contains(string value, out string? invalid)
        {
            if (!TryParseAddress(value, out var address))
            {
                invalid = $"{value} is not a valid IP address";
                return false;
            }

            invalid = null;
            foreach (var (network, bits) in _ranges)
            {
                if (network.Length == address.Length && PrefixEquals(network, address, bits))
                {
                    return true;
                }
            }

            return false;
        }

        // Go's ParseCIDR accepts host bits in the address (10.1.2.3/8) and masks them; so do we.
        private static (byte[] Network, int PrefixBits) ParseRange(string entry)
        {
            var slash = entry.IndexOf('/', StringComparison.Ordinal);
            var addressText = slash < 0 ? entry : entry[..slash];
            if (!TryParseAddress(addressText, out var address))
            {
                throw new FormatException($"could not parse {entry}: not an IP address or CIDR range (e.g. 10.0.0.1, 10.0.0.0/8, 2001:db8::/32)");
            }

            var maxBits = address.Length * 8;
            var bits = maxBits;
            if (slash >= 0 && (!int.TryParse(entry.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out bits) || bits > maxBits))
            {
                throw new FormatException($"could not parse {entry}: the prefix length must be 0..{maxBits}");
            }

            return (address, bits);
        }

        private static bool TryParseAddress(string text, out byte[] bytes)
        {
            bytes = [];
            if (text.Length == 0 || !IPAddress.TryParse(text, out var ip))
            {
                return false;
            }

            // IPv4 written inside IPv6 (::ffff:10.0.0.1) is the IPv4 address.
            if (ip.AddressFamily == AddressFamily.InterNetworkV6 && ip.IsIPv4MappedToIPv6)
            {
                ip = ip.MapToIPv4();
            }

            // A zone (fe80::1%eth0) is not part of the address.
            if (ip.AddressFamily == AddressFamily.InterNetworkV6 && ip.ScopeId != 0)
            {
                ip = new IPAddress(ip.GetAddressBytes());
            }

            bytes = ip.GetAddressBytes();
            return true;
        }

        private static bool PrefixEquals(byte[] a, byte[] b, int bits)
        {
            var full = bits / 8;
            for (var i = 0; i < full; i++)
            {
                if (a[i] != b[i])
                {
                    return false;
                }
            }

            var rest = bits % 8;
            if (rest == 0)
            {
                return true;
            }

            var mask = (byte)(0xFF << (8 - rest));
            return (a[full] & mask) == (b[full] & mask);
        }
    }
}
