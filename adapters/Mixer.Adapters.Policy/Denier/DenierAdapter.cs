using System.Text.Json;
using Mixer.Sdk.Adapters;
using Mixer.Sdk.Templates;
using Microsoft.Extensions.Logging;

namespace Mixer.Adapters.Policy;

/// <summary>
/// The <c>denier</c> adapter (Istio 1.0 <c>adapter.denier.config.Params</c>): answers every check
/// with one configured status and grants no quota. Params: <c>status {code, message}</c> (default
/// FAILED_PRECONDITION), <c>validDuration</c> (5s) and <c>validUseCount</c> (1000), how long and
/// how often a caller may reuse the answer.
/// </summary>
public sealed class DenierAdapter : Adapter<DenierParams>
{
    /// <inheritdoc/>
    public override AdapterInfo Info { get; } = new(
        "denier",
        "Rejects any check and quota request with a configurable status",
        ["checknothing", "listentry", "quota"]);

    /// <inheritdoc/>
    protected override void Validate(DenierParams p, ICollection<ConfigProblem> problems)
    {
        if (p.Status is { Code: < 0 or > 16 })
        {
            problems.Add(new ConfigProblem("status.code", $"{p.Status.Code} is not a google.rpc code (0..16; e.g. 7 PERMISSION_DENIED, 9 FAILED_PRECONDITION)"));
        }

        if (p.ValidDuration < TimeSpan.Zero)
        {
            problems.Add(new ConfigProblem("validDuration", "must be >= 0"));
        }

        if (p.ValidUseCount < 0)
        {
            problems.Add(new ConfigProblem("validUseCount", "must be >= 0"));
        }
    }

    /// <inheritdoc/>
    protected override ValueTask<IHandler> BuildAsync(DenierParams p, HandlerContext context, CancellationToken cancellationToken)
    {
        var status = p.Status ?? new RpcStatus { Code = StatusCodes.FailedPrecondition };
        var result = new CheckResult(status.Code, status.Message ?? string.Empty, p.ValidDuration, p.ValidUseCount);
        DenierLog.Built(context.Logger, context.HandlerName, result.StatusCode);
        return ValueTask.FromResult<IHandler>(new DenierHandler(result));
    }
}

public sealed class DenierParams
{
    public RpcStatus? Status { get; set; }

    public TimeSpan ValidDuration { get; set; } = TimeSpan.FromSeconds(5);

    public int ValidUseCount { get; set; } = 1000;
}

/// <summary>google.rpc.Status as it appears in params; details are accepted and not used.</summary>
public sealed class RpcStatus
{
    public int Code { get; set; }

    public string? Message { get; set; }

    public List<JsonElement>? Details { get; set; }
}

internal sealed class DenierHandler(CheckResult result) : ICheckNothingHandler, IListEntryHandler, IQuotaHandler
{
    public ValueTask<CheckResult> HandleCheckNothingAsync(CheckNothingInstance instance, CancellationToken cancellationToken) =>
        ValueTask.FromResult(result);

    public ValueTask<CheckResult> HandleListEntryAsync(ListEntryInstance instance, CancellationToken cancellationToken) =>
        ValueTask.FromResult(result);

    // As Istio's denier: an empty quota result, i.e. nothing granted with an OK status.
    public ValueTask<QuotaResult> HandleQuotaAsync(QuotaInstance instance, QuotaRequest request, CancellationToken cancellationToken) =>
        ValueTask.FromResult(new QuotaResult(0, TimeSpan.Zero));

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

internal static partial class DenierLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Debug, Message = "denier handler {Handler} built, answering with code {Code}")]
    public static partial void Built(ILogger logger, string handler, int code);
}
