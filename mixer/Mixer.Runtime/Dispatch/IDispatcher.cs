using Mixer.Sdk;

namespace Mixer.Runtime.Dispatch;

/// <summary>
/// Answers Check, Quota and Report for attribute bags from the live config snapshot. The gRPC layer
/// decodes the wire and encodes answers; everything between is the dispatcher's.
/// </summary>
public interface IDispatcher
{
    /// <summary>The generation of the config the dispatcher serves (0 before any config).</summary>
    long Generation { get; }

    /// <summary>Runs the matching CHECK actions for <paramref name="bag"/>.</summary>
    ValueTask<CheckOutcome> CheckAsync(IAttributeBag bag, CancellationToken cancellationToken);

    /// <summary>Allocates one quota for <paramref name="bag"/>.</summary>
    ValueTask<QuotaOutcome> QuotaAsync(IAttributeBag bag, QuotaArgs args, CancellationToken cancellationToken);

    /// <summary>
    /// Whether the config being served has a rule that acts on Report. When it has none, a server
    /// need only check a report's sets, not decode them; it may change at any time (a new config),
    /// so <see cref="ReportAsync"/> serves whatever batch it is given.
    /// </summary>
    bool HasReportRules { get; }

    /// <summary>Runs the matching REPORT actions for every attribute set of a report.</summary>
    ValueTask<ReportOutcome> ReportAsync(ReportBatch batch, CancellationToken cancellationToken);
}

/// <summary>The combined answer of the CHECK actions.</summary>
/// <param name="StatusCode">A google.rpc.Code; 0 is OK.</param>
/// <param name="StatusMessage">Why the request is denied (empty when OK).</param>
/// <param name="ValidDuration">How long a client may reuse this answer.</param>
/// <param name="ValidUseCount">How many times a client may reuse this answer.</param>
public readonly record struct CheckOutcome(int StatusCode, string StatusMessage, TimeSpan ValidDuration, int ValidUseCount)
{
    /// <summary>Header changes for the request, from matching rules (applied by the proxy when OK).</summary>
    public IReadOnlyList<HeaderChange> RequestHeaderChanges { get; init; } = [];

    /// <summary>Header changes for the response, from matching rules.</summary>
    public IReadOnlyList<HeaderChange> ResponseHeaderChanges { get; init; } = [];

    /// <summary>Istio's answer when no check handler says otherwise: OK for 1 minute or 10,000 uses.</summary>
    public static CheckOutcome DefaultOk { get; } = new(0, string.Empty, TimeSpan.FromMinutes(1), 10_000);
}

/// <summary>One quota request.</summary>
/// <param name="Name">The quota name as the client sent it (a quota instance's short name).</param>
/// <param name="Amount">How much to allocate.</param>
/// <param name="BestEffort">Whether less than <paramref name="Amount"/> may be granted.</param>
/// <param name="DeduplicationId">The request's deduplication id followed by the quota name.</param>
public readonly record struct QuotaArgs(string Name, long Amount, bool BestEffort, string DeduplicationId);

/// <summary>The answer to one quota request.</summary>
/// <param name="GrantedAmount">How much was granted.</param>
/// <param name="ValidDuration">How long the grant holds.</param>
public readonly record struct QuotaOutcome(long GrantedAmount, TimeSpan ValidDuration);

/// <summary>The outcome of a report.</summary>
/// <param name="Errors">Errors of the actions that failed, empty when all succeeded.</param>
public readonly record struct ReportOutcome(IReadOnlyList<string> Errors)
{
    /// <summary>Every action succeeded.</summary>
    public static ReportOutcome Ok { get; } = new([]);
}
