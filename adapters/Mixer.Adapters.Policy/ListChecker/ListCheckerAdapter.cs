using System.Text.RegularExpressions;
using Mixer.Sdk;
using Mixer.Sdk.Adapters;
using Microsoft.Extensions.Logging;

namespace Mixer.Adapters.Policy;

/// <summary>
/// The <c>listchecker</c> adapter (Istio 1.0 <c>adapter.list.config.Params</c>): checks a
/// <c>listentry</c> value against a list made of <c>overrides</c> plus, when <c>providerUrl</c> is
/// set, the lines of the document at that URL, fetched when the handler is built and every
/// <c>refreshInterval</c> after. When the provider fails the last good list stays in use until
/// <c>ttl</c> has passed since the last successful fetch; then the list is dropped and checks fail
/// with INTERNAL. Entries are compared per <c>entryType</c>: STRINGS, CASE_INSENSITIVE_STRINGS,
/// IP_ADDRESSES (addresses or CIDR ranges, v4 and v6) or REGEX (unanchored). As a whitelist a miss
/// is NOT_FOUND; as a <c>blacklist</c> a hit is PERMISSION_DENIED. Answers are valid for
/// <c>cachingInterval</c> and <c>cachingUseCount</c> uses.
/// </summary>
public sealed class ListCheckerAdapter : Adapter<ListCheckerParams>
{
    private readonly HttpMessageHandler? _httpHandler;

    /// <summary>An adapter that fetches lists with its own HTTP client.</summary>
    public ListCheckerAdapter()
    {
    }

    // Tests and hosts with special networking may supply the HTTP stack.
    internal ListCheckerAdapter(HttpMessageHandler httpHandler) => _httpHandler = httpHandler;

    /// <inheritdoc/>
    public override AdapterInfo Info { get; } = new("listchecker", "Checks whether an entry is present in a list", ["listentry"]);

    /// <inheritdoc/>
    protected override void Validate(ListCheckerParams p, ICollection<ConfigProblem> problems)
    {
        if (!string.IsNullOrEmpty(p.ProviderUrl))
        {
            if (!Uri.TryCreate(p.ProviderUrl, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || string.IsNullOrEmpty(uri.Host))
            {
                problems.Add(new ConfigProblem("providerUrl", $"'{p.ProviderUrl}' is not an http(s) URL with a host (e.g. http://lists.example.com/whitelist.txt)"));
            }

            if (p.RefreshInterval < TimeSpan.FromSeconds(1))
            {
                problems.Add(new ConfigProblem("refreshInterval", $"refresh interval must be at least 1 second, it is {GoDuration.Format(p.RefreshInterval)}"));
            }

            if (p.Ttl < p.RefreshInterval)
            {
                problems.Add(new ConfigProblem("ttl", $"ttl must be >= refreshInterval, ttl is {GoDuration.Format(p.Ttl)} and refreshInterval is {GoDuration.Format(p.RefreshInterval)}"));
            }
        }

        if (p.CachingInterval < TimeSpan.Zero)
        {
            problems.Add(new ConfigProblem("cachingInterval", $"caching interval must be >= 0, it is {GoDuration.Format(p.CachingInterval)}"));
        }

        if (p.CachingUseCount < 0)
        {
            problems.Add(new ConfigProblem("cachingUseCount", $"caching use count must be >= 0, it is {p.CachingUseCount}"));
        }

        for (var i = 0; i < p.Overrides.Count; i++)
        {
            if (EntryList.CheckEntry(p.EntryType, p.Overrides[i]) is { } why)
            {
                problems.Add(new ConfigProblem($"overrides[{i}]", why));
            }
        }
    }

    /// <inheritdoc/>
    protected override async ValueTask<IHandler> BuildAsync(ListCheckerParams p, HandlerContext context, CancellationToken cancellationToken)
    {
        var http = _httpHandler is null ? new HttpClient() : new HttpClient(_httpHandler, disposeHandler: false);
        http.Timeout = TimeSpan.FromSeconds(30);
        var handler = new ListCheckerHandler(p, http, context.Time, context.Logger, context.HandlerName);
        await handler.StartAsync(cancellationToken).ConfigureAwait(false);
        return handler;
    }

}

/// <summary>How list entries are compared (Istio's ListEntryType).</summary>
public enum ListEntryType
{
    Strings = 0,
    CaseInsensitiveStrings = 1,
    IpAddresses = 2,
    Regex = 3,
}

public sealed class ListCheckerParams
{
    public string ProviderUrl { get; set; } = string.Empty;

    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromSeconds(60);

    public TimeSpan Ttl { get; set; } = TimeSpan.FromSeconds(300);

    public TimeSpan CachingInterval { get; set; } = TimeSpan.FromSeconds(300);

    public int CachingUseCount { get; set; } = 10000;

    public List<string> Overrides { get; set; } = [];

    public ListEntryType EntryType { get; set; } = ListEntryType.Strings;

    public bool Blacklist { get; set; }
}

internal static partial class ListCheckerLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "{Handler}: installed list with {Count} entries")]
    public static partial void Installed(ILogger logger, string handler, int count);

    [LoggerMessage(EventId = 2, Level = LogLevel.Error, Message = "{Handler}: could not fetch list from {Url}: {Reason}; keeping the last good list")]
    public static partial void FetchFailed(ILogger logger, string handler, string url, string reason);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "{Handler}: purging list, it was not refreshed within the ttl of {Ttl}")]
    public static partial void Purged(ILogger logger, string handler, TimeSpan ttl);
}

internal static class RegexOptionsForLists
{
    public const RegexOptions Options = RegexOptions.CultureInvariant | RegexOptions.Compiled;
    public static readonly TimeSpan MatchTimeout = TimeSpan.FromMilliseconds(100);
}
