namespace Mixer.Lang.Runtime;

/// <summary>Istio 1.0's dnsName, email and uri externs and their equalities (mixer/pkg/lang/externs.go).</summary>
internal static partial class Builtins
{
    public static bool DnsName(string text, out string value, out string? error)
    {
        if (!GoIdna.ValidateForDnsName(text, out value, out var reason))
        {
            error = $"error converting '{text}' to dns name: '{reason}'";
            return false;
        }

        error = null;
        return true;
    }

    /// <summary>Istio's dnsName_equal: both mapped for lookup; one trailing dot is ignored when only one side has it.</summary>
    public static bool DnsNameEqual(string a, string b, out bool equal, out string? error)
    {
        equal = false;
        if (!GoIdna.MapForLookup(a, out var x, out error) || !GoIdna.MapForLookup(b, out var y, out error))
        {
            return false;
        }

        if (x.Length == 0 || y.Length == 0)
        {
            // Istio indexes the last character and would panic here.
            error = $"error comparing dns names '{a}' and '{b}': empty name";
            return false;
        }

        if (x[^1] == '.' && y[^1] != '.')
        {
            x = x[..^1];
        }

        if (y[^1] == '.' && x[^1] != '.')
        {
            y = y[..^1];
        }

        equal = string.Equals(x, y, StringComparison.Ordinal);
        return true;
    }

    /// <summary>An address without a display name whose domain is a dnsName(); the text itself is the value.</summary>
    public static bool Email(string text, out string value, out string? error)
    {
        value = text;
        if (!GoMail.TryParseAddress(text, out var name, out var address, out var reason))
        {
            error = $"error converting '{text}' to e-mail: '{reason}'";
            return false;
        }

        if (name.Length > 0)
        {
            error = $"error converting '{text}' to e-mail: display names are not allowed";
            return false;
        }

        if (!DnsName(EmailParts(address).Domain, out _, out var dnsError))
        {
            error = $"error converting '{text}' to e-mail: '{dnsError}'";
            return false;
        }

        error = null;
        return true;
    }

    /// <summary>Istio's email_equal: local parts (unquoted) equal and domains DNS-equal.</summary>
    public static bool EmailEqual(string a, string b, out bool equal, out string? error)
    {
        equal = false;
        if (!GoMail.TryParseAddress(a, out _, out var x, out error) || !GoMail.TryParseAddress(b, out _, out var y, out error))
        {
            return false;
        }

        var (localA, domainA) = EmailParts(x);
        var (localB, domainB) = EmailParts(y);
        if (!DnsNameEqual(domainA, domainB, out var domainsEqual, out var dnsError))
        {
            error = $"error comparing e-mails '{a}' and '{b}': {dnsError}";
            return false;
        }

        equal = domainsEqual && string.Equals(localA, localB, StringComparison.Ordinal);
        return true;
    }

    /// <summary>Istio's getEmailParts: split at the first '@'.</summary>
    private static (string Local, string Domain) EmailParts(string address)
    {
        var at = address.IndexOf('@', StringComparison.Ordinal);
        return at < 0 ? (address, string.Empty) : (address[..at], address[(at + 1)..]);
    }

    public static bool Uri(string text, out string value, out string? error)
    {
        value = text;
        if (text.Length == 0)
        {
            error = "error converting string to uri: empty string";
            return false;
        }

        if (!GoUrl.TryParse(text, out _, out var reason))
        {
            error = $"error converting string to uri '{text}': 'parse {text}: {reason}'";
            return false;
        }

        error = null;
        return true;
    }

    /// <summary>
    /// Istio's uri_equal: schemes compared case-insensitively; for http(s), host names DNS-equal and
    /// ports equal; then the rest of the URL as Go would print it (escapes decoded, query raw).
    /// </summary>
    public static bool UriEqual(string a, string b, out bool equal, out string? error)
    {
        equal = false;
        if (!GoUrl.TryParse(a, out var x, out var reason))
        {
            error = $"error converting string to uri '{a}': 'parse {a}: {reason}'";
            return false;
        }

        if (!GoUrl.TryParse(b, out var y, out reason))
        {
            error = $"error converting string to uri '{b}': 'parse {b}: {reason}'";
            return false;
        }

        error = null;
        if (!string.Equals(x.Scheme, y.Scheme, StringComparison.Ordinal))
        {
            return true;
        }

        if (x.Scheme is "http" or "https")
        {
            if (!DnsNameEqual(x.Hostname, y.Hostname, out var hostsEqual, out error))
            {
                return false;
            }

            if (!hostsEqual || x.Port != y.Port)
            {
                return true;
            }

            x = x with { Host = y.Host };
        }

        equal = x == y;
        return true;
    }
}
