using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Mixer.Sdk.Adapters;
using Mixer.Sdk.Templates;

namespace Mixer.Sdk.OutOfProcess.Tests;

/// <summary>
/// A test adapter serving every template: records what it is given, denies listed values, grants
/// a configured quota, and throws when an instance carries <c>failOn</c>.
/// </summary>
internal sealed class RecorderAdapter(params string[] templates) : IAdapter
{
    public static readonly string[] AllTemplates =
        ["metric", "logentry", "tracespan", "reportnothing", "listentry", "checknothing", "authorization", "apikey", "quota"];

    public AdapterInfo Info { get; } = new("recorder", "records what it is given", templates.Length > 0 ? templates : AllTemplates);

    public ConcurrentQueue<RecorderHandler> Built { get; } = new();

    public ConcurrentQueue<JsonElement> ParamsSeen { get; } = new();

    public int DisposedCount => Built.Count(h => h.Disposed);

    public IReadOnlyList<ConfigProblem> Validate(JsonElement parameters)
    {
        var problems = new List<ConfigProblem>();
        var p = AdapterParams.TryRead<RecorderParams>(parameters, problems);
        if (p is null)
        {
            return problems;
        }

        if (p.Grant < 0)
        {
            problems.Add(new ConfigProblem("grant", $"must not be negative, it is {p.Grant}"));
        }

        if (p.ValidUseCount < 0)
        {
            problems.Add(new ConfigProblem("validUseCount", $"must not be negative, it is {p.ValidUseCount}"));
        }

        return problems;
    }

    public ValueTask<IHandler> BuildAsync(HandlerContext context, CancellationToken cancellationToken)
    {
        ParamsSeen.Enqueue(context.Params);
        var p = AdapterParams.Read<RecorderParams>(context.Params);
        if (p.FailBuild)
        {
            throw new InvalidOperationException("backend unreachable");
        }

        var handler = new RecorderHandler(p, context);
        Built.Enqueue(handler);
        return ValueTask.FromResult<IHandler>(handler);
    }
}

internal sealed class RecorderParams
{
    public List<string> DenyValues { get; set; } = [];

    public long Grant { get; set; }

    public TimeSpan ValidDuration { get; set; } = TimeSpan.FromSeconds(1);

    public int ValidUseCount { get; set; } = 1;

    public Dictionary<string, string> Labels { get; set; } = [];

    public string FailOn { get; set; } = string.Empty;

    public bool FailBuild { get; set; }

    public TimeSpan Delay { get; set; }
}

internal sealed class RecorderHandler(RecorderParams p, HandlerContext context) :
    IMetricHandler, ILogEntryHandler, ITraceSpanHandler, IReportNothingHandler,
    IListEntryHandler, ICheckNothingHandler, IAuthorizationHandler, IApiKeyHandler, IQuotaHandler
{
    public RecorderParams Params { get; } = p;

    public HandlerContext Context { get; } = context;

    public ConcurrentQueue<object> Calls { get; } = new();

    public bool Disposed { get; private set; }

    /// <summary>Check calls that have reached the handler (before its delay).</summary>
    public int Entered => Volatile.Read(ref _entered);

    private int _entered;

    public ValueTask HandleMetricAsync(IReadOnlyList<MetricInstance> instances, CancellationToken cancellationToken) => Report(instances);

    public ValueTask HandleLogEntryAsync(IReadOnlyList<LogEntryInstance> instances, CancellationToken cancellationToken) => Report(instances);

    public ValueTask HandleTraceSpanAsync(IReadOnlyList<TraceSpanInstance> instances, CancellationToken cancellationToken) => Report(instances);

    public ValueTask HandleReportNothingAsync(IReadOnlyList<ReportNothingInstance> instances, CancellationToken cancellationToken) => Report(instances);

    public ValueTask<CheckResult> HandleListEntryAsync(ListEntryInstance instance, CancellationToken cancellationToken) => Check(instance, instance.Value);

    public ValueTask<CheckResult> HandleCheckNothingAsync(CheckNothingInstance instance, CancellationToken cancellationToken) => Check(instance, instance.Name);

    public ValueTask<CheckResult> HandleAuthorizationAsync(AuthorizationInstance instance, CancellationToken cancellationToken) => Check(instance, instance.Subject.User);

    public ValueTask<CheckResult> HandleApiKeyAsync(ApiKeyInstance instance, CancellationToken cancellationToken) => Check(instance, instance.ApiKey);

    public async ValueTask<QuotaResult> HandleQuotaAsync(QuotaInstance instance, QuotaRequest request, CancellationToken cancellationToken)
    {
        Calls.Enqueue((instance, request));
        if (instance.Name.StartsWith("slow", StringComparison.Ordinal))
        {
            await Task.Delay(Params.Delay, cancellationToken);
        }

        return new QuotaResult(Math.Min(Params.Grant, request.Amount), Params.ValidDuration);
    }

    public ValueTask DisposeAsync()
    {
        Disposed = true;
        return ValueTask.CompletedTask;
    }

    private async ValueTask Report<T>(IReadOnlyList<T> instances)
        where T : Instance
    {
        await Task.Delay(Params.Delay);
        foreach (var i in instances)
        {
            if (Params.FailOn.Length > 0 && i.Name.Contains(Params.FailOn, StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"cannot record {i.Name}");
            }

            Calls.Enqueue(i);
        }
    }

    private async ValueTask<CheckResult> Check(Instance instance, string value)
    {
        Interlocked.Increment(ref _entered);
        Context.Metrics.Counter("recorder_checks_total", "Checks the recorder answered").Add(1);
        await Task.Delay(Params.Delay);
        if (Params.FailOn.Length > 0 && value == Params.FailOn)
        {
            throw new InvalidOperationException($"lookup of {value} failed");
        }

        Calls.Enqueue(instance);
        return Params.DenyValues.Contains(value)
            ? CheckResult.Deny(StatusCodes.PermissionDenied, $"{value} is denied", Params.ValidDuration, Params.ValidUseCount)
            : CheckResult.Ok(Params.ValidDuration, Params.ValidUseCount);
    }
}
