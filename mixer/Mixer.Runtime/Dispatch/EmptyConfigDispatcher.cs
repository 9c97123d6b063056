using Microsoft.Extensions.Logging;
using Mixer.Sdk;

namespace Mixer.Runtime.Dispatch;

/// <summary>
/// The dispatcher of a config with no rules: every Check is OK with Istio's defaults, every quota
/// is granted in full (Istio 1.0: an unconfigured quota does not apply), every Report succeeds.
/// </summary>
public sealed partial class EmptyConfigDispatcher(ILogger<EmptyConfigDispatcher> logger) : IDispatcher
{
    /// <inheritdoc/>
    public long Generation => 0;

    /// <inheritdoc/>
    public ValueTask<CheckOutcome> CheckAsync(IAttributeBag bag, CancellationToken cancellationToken) =>
        ValueTask.FromResult(CheckOutcome.DefaultOk);

    /// <inheritdoc/>
    public ValueTask<QuotaOutcome> QuotaAsync(IAttributeBag bag, QuotaArgs args, CancellationToken cancellationToken)
    {
        LogQuotaNotConfigured(logger, args.Name);
        return ValueTask.FromResult(new QuotaOutcome(args.Amount, TimeSpan.FromMinutes(1)));
    }

    /// <inheritdoc/>
    public ValueTask<ReportOutcome> ReportAsync(ReportBatch batch, CancellationToken cancellationToken) =>
        ValueTask.FromResult(ReportOutcome.Ok);

    [LoggerMessage(EventId = 1001, Level = LogLevel.Warning, Message = "Requested quota '{Quota}' is not configured: granted in full")]
    private static partial void LogQuotaNotConfigured(ILogger logger, string quota);
}
