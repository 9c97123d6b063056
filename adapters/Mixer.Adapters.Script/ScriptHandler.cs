using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Mixer.Sdk.Adapters;
using Mixer.Sdk.Templates;

namespace Mixer.Adapters.Script;

/// <summary>
/// A configured script handler: one compiled delegate per template it has a script for, run on the
/// caller's thread under a per-call time budget. Whatever a script does, a call ends as a result:
/// a timeout becomes DEADLINE_EXCEEDED naming the handler, an exception INTERNAL with its type
/// and message; on report, failures are counted and the batch reports them to the dispatcher.
/// </summary>
internal sealed class ScriptHandler :
    ICheckNothingHandler, IListEntryHandler, IAuthorizationHandler, IApiKeyHandler,
    IMetricHandler, ILogEntryHandler, ITraceSpanHandler, IReportNothingHandler
{
    /// <summary>google.rpc DEADLINE_EXCEEDED.</summary>
    public const int DeadlineExceeded = 4;

    private readonly string _name;
    private readonly TimeSpan _timeout;
    private readonly ILogger _logger;
    private readonly IAdapterCounter _timeouts;
    private readonly IAdapterCounter _errors;
    private readonly List<IDisposable> _owned;
    private readonly Func<CheckNothingInstance, CheckResult>? _checkNothing;
    private readonly Func<ListEntryInstance, CheckResult>? _listEntry;
    private readonly Func<AuthorizationInstance, CheckResult>? _authorization;
    private readonly Func<ApiKeyInstance, CheckResult>? _apiKey;
    private readonly Action<MetricInstance>? _metric;
    private readonly Action<LogEntryInstance>? _logEntry;
    private readonly Action<TraceSpanInstance>? _traceSpan;
    private readonly Action<ReportNothingInstance>? _reportNothing;

    public ScriptHandler(HandlerContext context, ScriptParams p, IReadOnlyDictionary<string, ScriptCache.Lease> scripts, IReadOnlyDictionary<string, IAdapterCounter> counters, List<IDisposable> owned)
    {
        _name = context.HandlerName;
        _timeout = p.Timeout;
        _logger = context.Logger;
        _owned = owned;
        _timeouts = context.Metrics.Counter("mixer_script_timeouts_total", "Script calls stopped because they ran out of their time budget");
        _errors = context.Metrics.Counter("mixer_script_errors_total", "Script calls that ended with an exception");
        var frozen = System.Collections.Frozen.FrozenDictionary.ToFrozenDictionary(counters, StringComparer.Ordinal);

        TDelegate? Bind<TDelegate>(ScriptTemplate template)
            where TDelegate : Delegate
        {
            if (!scripts.TryGetValue(template.Name, out var lease))
            {
                return null;
            }

            var script = lease.Script;
            var target = script.CreateInstance();
            target.Attach(new ScriptRuntime(_name, template.Name, context.Logger, context.Time, p.Timeout, p.ValidDuration, p.ValidUseCount, frozen));
            return script.RunMethod.CreateDelegate<TDelegate>(target);
        }

        _checkNothing = Bind<Func<CheckNothingInstance, CheckResult>>(ScriptTemplate.CheckNothing);
        _listEntry = Bind<Func<ListEntryInstance, CheckResult>>(ScriptTemplate.ListEntry);
        _authorization = Bind<Func<AuthorizationInstance, CheckResult>>(ScriptTemplate.Authorization);
        _apiKey = Bind<Func<ApiKeyInstance, CheckResult>>(ScriptTemplate.ApiKey);
        _metric = Bind<Action<MetricInstance>>(ScriptTemplate.Metric);
        _logEntry = Bind<Action<LogEntryInstance>>(ScriptTemplate.LogEntry);
        _traceSpan = Bind<Action<TraceSpanInstance>>(ScriptTemplate.TraceSpan);
        _reportNothing = Bind<Action<ReportNothingInstance>>(ScriptTemplate.ReportNothing);
    }

    public ValueTask<CheckResult> HandleCheckNothingAsync(CheckNothingInstance instance, CancellationToken cancellationToken) =>
        ValueTask.FromResult(RunCheck(_checkNothing, instance, "checknothing", cancellationToken));

    public ValueTask<CheckResult> HandleListEntryAsync(ListEntryInstance instance, CancellationToken cancellationToken) =>
        ValueTask.FromResult(RunCheck(_listEntry, instance, "listentry", cancellationToken));

    public ValueTask<CheckResult> HandleAuthorizationAsync(AuthorizationInstance instance, CancellationToken cancellationToken) =>
        ValueTask.FromResult(RunCheck(_authorization, instance, "authorization", cancellationToken));

    public ValueTask<CheckResult> HandleApiKeyAsync(ApiKeyInstance instance, CancellationToken cancellationToken) =>
        ValueTask.FromResult(RunCheck(_apiKey, instance, "apikey", cancellationToken));

    public ValueTask HandleMetricAsync(IReadOnlyList<MetricInstance> instances, CancellationToken cancellationToken) =>
        RunReport(_metric, instances, "metric", cancellationToken);

    public ValueTask HandleLogEntryAsync(IReadOnlyList<LogEntryInstance> instances, CancellationToken cancellationToken) =>
        RunReport(_logEntry, instances, "logentry", cancellationToken);

    public ValueTask HandleTraceSpanAsync(IReadOnlyList<TraceSpanInstance> instances, CancellationToken cancellationToken) =>
        RunReport(_traceSpan, instances, "tracespan", cancellationToken);

    public ValueTask HandleReportNothingAsync(IReadOnlyList<ReportNothingInstance> instances, CancellationToken cancellationToken) =>
        RunReport(_reportNothing, instances, "reportnothing", cancellationToken);

    public ValueTask DisposeAsync()
    {
        foreach (var owned in _owned)
        {
            owned.Dispose();
        }

        _owned.Clear();
        return ValueTask.CompletedTask;
    }

    private CheckResult RunCheck<T>(Func<T, CheckResult>? run, T instance, string template, CancellationToken cancellationToken)
    {
        if (run is null)
        {
            return new CheckResult(StatusCodes.Internal, $"script handler {_name} has no {template} script", TimeSpan.Zero, 0);
        }

        ScriptBudget.Begin(_timeout, cancellationToken);
        try
        {
            return run(instance);
        }
        catch (Exception e)
        {
            var (code, message) = Failure(e, template, cancellationToken);
            return new CheckResult(code, message, TimeSpan.Zero, 0);
        }
        finally
        {
            ScriptBudget.End();
        }
    }

    private ValueTask RunReport<T>(Action<T>? run, IReadOnlyList<T> instances, string template, CancellationToken cancellationToken)
    {
        if (run is null)
        {
            return ValueTask.FromException(new InvalidOperationException($"script handler {_name} has no {template} script"));
        }

        // The budget is per call, here a batch: a batch that runs out stops, and what it did not reach is counted as failed.
        var failed = 0;
        string? first = null;
        ScriptBudget.Begin(_timeout, cancellationToken);
        try
        {
            for (var i = 0; i < instances.Count; i++)
            {
                try
                {
                    run(instances[i]);
                }
                catch (Exception e)
                {
                    var (code, message) = Failure(e, template, cancellationToken);
                    first ??= message;
                    if (code == DeadlineExceeded)
                    {
                        failed += instances.Count - i;
                        break;
                    }

                    failed++;
                }
            }
        }
        finally
        {
            ScriptBudget.End();
        }

        if (failed == 0)
        {
            return ValueTask.CompletedTask;
        }

        ScriptLog.ReportFailed(_logger, _name, template, failed, instances.Count, first!);
        return ValueTask.FromException(new ScriptReportException($"{template} script failed on {failed} of {instances.Count} instances; first: {first}"));
    }

    /// <summary>The status and message for a call that threw, counted as a timeout or an error.</summary>
    private (int Code, string Message) Failure(Exception e, string template, CancellationToken cancellationToken)
    {
        if (e is ScriptTimeoutException or RegexMatchTimeoutException)
        {
            _timeouts.Add(1);
            var why = cancellationToken.IsCancellationRequested ? "before the call's deadline" : $"within its {_timeout.TotalMilliseconds:0}ms budget";
            return (DeadlineExceeded, $"script handler {_name}: the {template} script did not finish {why}");
        }

        // No line: scripts run optimised, and the JIT's map from machine code back to lines is too
        // coarse there to name the right one; the exception's type and message say what happened.
        _errors.Add(1);
        var what = e switch
        {
            ScriptStackException => $"recursion too deep (more than {ScriptBudget.MaxStackBytes / 1024} KiB of stack)",
            ScriptMemoryException => $"it allocated more than {ScriptBudget.MaxAllocatedBytes / (1024 * 1024)} MiB",
            _ => $"{e.GetType().Name}: {e.Message}",
        };
        return (StatusCodes.Internal, $"script handler {_name}: the {template} script failed: {what}");
    }
}

/// <summary>A report batch in which some instances' scripts failed; the message says how many and the first reason.</summary>
internal sealed class ScriptReportException(string message) : Exception(message);
