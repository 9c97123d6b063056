using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Mixer.Runtime.Snapshot;
using Mixer.Runtime.Templates;
using Mixer.Sdk;
using Mixer.Sdk.Adapters;
using Mixer.Sdk.Templates;
using ValueType = Mixer.Sdk.ValueType;

namespace Mixer.Runtime.Dispatch;

/// <summary>
/// Serves Check, Quota and Report from the current <see cref="ConfigSnapshot"/>: picks the rules
/// that apply (default namespace plus the request's identity namespace), evaluates their match,
/// builds instances and calls handlers concurrently under a deadline, then combines.
/// </summary>
internal sealed partial class Dispatcher : IDispatcher
{
    private static readonly AttributeName s_reporterKind = AttributeName.Of("context.reporter.kind");
    private static readonly AttributeName s_destinationNamespace = AttributeName.Of("destination.namespace");
    private static readonly AttributeName s_sourceNamespace = AttributeName.Of("source.namespace");

    private readonly ILogger _logger;
    private readonly TimeSpan _deadline;
    private ConfigSnapshot _snapshot;

    public Dispatcher(ConfigSnapshot initial, ILogger<Dispatcher> logger, TimeSpan? handlerDeadline = null)
    {
        _snapshot = initial;
        _logger = logger;
        _deadline = handlerDeadline ?? TimeSpan.FromSeconds(2);
    }

    /// <inheritdoc/>
    public long Generation => Volatile.Read(ref _snapshot).Generation;

    /// <summary>The snapshot being served.</summary>
    public ConfigSnapshot Current => Volatile.Read(ref _snapshot);

    /// <summary>
    /// Serves <paramref name="next"/> from now on. Handlers the new snapshot no longer uses are
    /// disposed once the requests still using the old snapshot finish.
    /// </summary>
    public void Swap(ConfigSnapshot next)
    {
        var old = Interlocked.Exchange(ref _snapshot, next);
        var keep = next.Handlers.Values.Select(h => h.Handler).ToHashSet(ReferenceEqualityComparer.Instance);
        var removed = old.Handlers.Values.Where(h => !keep.Contains(h.Handler)).ToList();
        old.Retire(() =>
        {
            foreach (var h in removed)
            {
                _ = DisposeQuietly(h);
            }
        });
    }

    /// <inheritdoc/>
    public async ValueTask<CheckOutcome> CheckAsync(IAttributeBag bag, CancellationToken cancellationToken)
    {
        var snapshot = Acquire();
        try
        {
            var calls = new List<(HandlerEntry Handler, Task<CheckResult> Result)>();
            var requestHeaders = new List<HeaderChange>();
            var responseHeaders = new List<HeaderChange>();
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            cts.CancelAfter(_deadline);

            foreach (var rule in Rules(snapshot, bag))
            {
                if (!Matches(rule, bag))
                {
                    continue;
                }

                foreach (var action in rule.Actions)
                {
                    foreach (var instance in action.Instances)
                    {
                        if (instance.Template.Variety != Variety.Check)
                        {
                            continue;
                        }

                        if (!TryBuild(instance, bag, out var built, out var error))
                        {
                            // Istio fails the whole Check when an instance cannot be built.
                            return new CheckOutcome(StatusCodes.Internal, $"{instance.Name}: {error}", TimeSpan.Zero, 0);
                        }

                        calls.Add((action.Handler, CallCheck(action.Handler, built, cts.Token)));
                    }
                }

                Collect(rule.RequestHeaderOperations, bag, requestHeaders);
                Collect(rule.ResponseHeaderOperations, bag, responseHeaders);
            }

            if (calls.Count == 0)
            {
                return CheckOutcome.DefaultOk with { RequestHeaderChanges = requestHeaders, ResponseHeaderChanges = responseHeaders };
            }

            // Every result, in rule order: the first non-OK status wins, validity is the minimum.
            int? code = null;
            var messages = new List<string>();
            var duration = TimeSpan.MaxValue;
            var uses = int.MaxValue;
            var anyOpinion = false;
            foreach (var (handler, task) in calls)
            {
                var r = await task.ConfigureAwait(false);
                if (!r.IsOk)
                {
                    code ??= r.StatusCode;
                    messages.Add($"{handler.Name}:{r.Message}");
                }

                if (r.ValidDuration != TimeSpan.Zero || r.ValidUseCount != 0)
                {
                    anyOpinion = true;
                    duration = r.ValidDuration < duration ? r.ValidDuration : duration;
                    uses = Math.Min(uses, r.ValidUseCount);
                }
            }

            if (!anyOpinion)
            {
                duration = CheckOutcome.DefaultOk.ValidDuration;
                uses = CheckOutcome.DefaultOk.ValidUseCount;
            }

            return new CheckOutcome(code ?? StatusCodes.Ok, string.Join(", ", messages), duration, uses)
            {
                RequestHeaderChanges = code is null ? requestHeaders : [],
                ResponseHeaderChanges = code is null ? responseHeaders : [],
            };
        }
        finally
        {
            snapshot.Release();
        }
    }

    /// <inheritdoc/>
    public async ValueTask<QuotaOutcome> QuotaAsync(IAttributeBag bag, QuotaArgs args, CancellationToken cancellationToken)
    {
        var snapshot = Acquire();
        try
        {
            var configured = false;
            foreach (var rule in Rules(snapshot, bag))
            {
                foreach (var action in rule.Actions)
                {
                    foreach (var instance in action.Instances)
                    {
                        if (instance.Template.Variety != Variety.Quota || !string.Equals(instance.ShortName, args.Name, StringComparison.OrdinalIgnoreCase))
                        {
                            continue;
                        }

                        configured = true;
                        if (!Matches(rule, bag))
                        {
                            // This rule does not apply to the request; another may.
                            continue;
                        }

                        if (!TryBuild(instance, bag, out var built, out var error) || action.Handler.Handler is not IQuotaHandler qh)
                        {
                            LogQuotaFailed(_logger, args.Name, action.Handler.Name, error ?? "handler does not handle quota");
                            return new QuotaOutcome(0, TimeSpan.Zero);
                        }

                        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                        cts.CancelAfter(_deadline);
                        try
                        {
                            var r = await qh.HandleQuotaAsync((QuotaInstance)built, new QuotaRequest(args.Amount, args.BestEffort, args.DeduplicationId), cts.Token).ConfigureAwait(false);
                            return new QuotaOutcome(r.GrantedAmount, r.ValidDuration);
                        }
                        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                        {
                            LogQuotaFailed(_logger, args.Name, action.Handler.Name, e.Message);
                            return new QuotaOutcome(0, TimeSpan.Zero);
                        }
                    }
                }
            }

            // No matching rule charges this quota: it does not apply (Istio grants it in full).
            if (!configured)
            {
                LogQuotaNotConfigured(_logger, args.Name);
            }

            return new QuotaOutcome(args.Amount, TimeSpan.FromMinutes(1));
        }
        finally
        {
            snapshot.Release();
        }
    }

    /// <inheritdoc/>
    public async ValueTask<ReportOutcome> ReportAsync(ReportBatch batch, CancellationToken cancellationToken)
    {
        var snapshot = Acquire();
        try
        {
            var errors = new List<string>();
            var buffers = new Dictionary<(HandlerEntry, string), List<Instance>>();
            foreach (var bag in batch.Bags())
            {
                foreach (var rule in Rules(snapshot, bag))
                {
                    if (!Matches(rule, bag))
                    {
                        continue;
                    }

                    foreach (var action in rule.Actions)
                    {
                        foreach (var instance in action.Instances)
                        {
                            if (instance.Template.Variety != Variety.Report)
                            {
                                continue;
                            }

                            if (!TryBuild(instance, bag, out var built, out var error))
                            {
                                errors.Add($"{instance.Name}: {error}");
                                continue;
                            }

                            var key = (action.Handler, instance.Template.Name);
                            (buffers.TryGetValue(key, out var list) ? list : buffers[key] = []).Add(built);
                        }
                    }
                }
            }

            using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            cts.CancelAfter(_deadline);
            var calls = buffers.Select(kv => CallReport(kv.Key.Item1, kv.Key.Item2, kv.Value, cts.Token)).ToList();
            foreach (var call in calls)
            {
                if (await call.ConfigureAwait(false) is { } error)
                {
                    errors.Add(error);
                }
            }

            return errors.Count == 0 ? ReportOutcome.Ok : new ReportOutcome(errors);
        }
        finally
        {
            snapshot.Release();
        }
    }

    private ConfigSnapshot Acquire()
    {
        while (true)
        {
            var s = Volatile.Read(ref _snapshot);
            if (s.TryAcquire())
            {
                return s;
            }
        }
    }

    /// <summary>Default-namespace rules, then those of the request's identity namespace (as Istio 1.0).</summary>
    private static IEnumerable<RuleEntry> Rules(ConfigSnapshot snapshot, IAttributeBag bag)
    {
        foreach (var r in snapshot.GlobalRules)
        {
            yield return r;
        }

        if (snapshot.NamespaceRules.Count == 0)
        {
            yield break;
        }

        var outbound = bag.TryGet(s_reporterKind, out var kind) && kind.Type == ValueType.String && kind.AsString == "outbound";
        if (bag.TryGet(outbound ? s_sourceNamespace : s_destinationNamespace, out var ns) && ns.Type.IsStringLike()
            && snapshot.NamespaceRules.TryGetValue(ns.AsString, out var rules))
        {
            foreach (var r in rules)
            {
                yield return r;
            }
        }
    }

    private bool Matches(RuleEntry rule, IAttributeBag bag)
    {
        if (rule.Match is null)
        {
            return true;
        }

        if (rule.Match.TryEvaluateBool(bag, out var v, out var error))
        {
            return v;
        }

        // As Istio: a match that cannot be evaluated does not match.
        LogMatchError(_logger, rule.Key.ToString(), error ?? "unknown error");
        return false;
    }

    private static bool TryBuild(InstanceEntry instance, IAttributeBag bag, out Instance built, out string? error)
    {
        var values = new Dictionary<string, AttributeValue>(StringComparer.Ordinal);
        var maps = new Dictionary<string, IReadOnlyDictionary<string, AttributeValue>>(StringComparer.Ordinal);
        foreach (var field in instance.Fields)
        {
            if (field.Expression is not null)
            {
                if (!field.Expression.TryEvaluate(bag, out var v, out error))
                {
                    built = null!;
                    error = $"field '{field.Path}': {error}";
                    return false;
                }

                values[field.Path] = v;
            }
            else if (field.Map is not null)
            {
                var map = new Dictionary<string, AttributeValue>(field.Map.Count, StringComparer.Ordinal);
                foreach (var (k, e) in field.Map)
                {
                    if (!e.TryEvaluate(bag, out var v, out error))
                    {
                        built = null!;
                        error = $"field '{field.Path}[{k}]': {error}";
                        return false;
                    }

                    map[k] = v;
                }

                maps[field.Path] = map;
            }
        }

        built = instance.Template.Create(instance.Name, new InstanceValues(values, maps));
        error = null;
        return true;
    }

    private static void Collect(IReadOnlyList<HeaderOperationEntry> ops, IAttributeBag bag, List<HeaderChange> into)
    {
        foreach (var op in ops)
        {
            if (op.Values.Count == 0)
            {
                into.Add(new HeaderChange(op.Name, string.Empty, op.Operation));
                continue;
            }

            foreach (var value in op.Values)
            {
                if (value.TryEvaluate(bag, out var v, out _) && v.Type.IsStringLike())
                {
                    into.Add(new HeaderChange(op.Name, v.AsString, op.Operation));
                }
            }
        }
    }

    private async Task<CheckResult> CallCheck(HandlerEntry handler, Instance instance, CancellationToken token)
    {
        var start = Stopwatch.GetTimestamp();
        try
        {
            var task = (handler.Handler, instance) switch
            {
                (ICheckNothingHandler h, CheckNothingInstance i) => h.HandleCheckNothingAsync(i, token),
                (IListEntryHandler h, ListEntryInstance i) => h.HandleListEntryAsync(i, token),
                (IAuthorizationHandler h, AuthorizationInstance i) => h.HandleAuthorizationAsync(i, token),
                (IApiKeyHandler h, ApiKeyInstance i) => h.HandleApiKeyAsync(i, token),
                _ => ValueTask.FromResult(new CheckResult(StatusCodes.Internal, $"handler does not implement the {instance.GetType().Name} template", TimeSpan.Zero, 0)),
            };
            return await task.ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            LogHandlerFailed(_logger, handler.Name, $"no answer within {_deadline.TotalMilliseconds:0} ms");
            return new CheckResult(StatusCodes.Unavailable, $"no answer within {_deadline.TotalMilliseconds:0} ms", TimeSpan.Zero, 0);
        }
        catch (Exception e)
        {
            LogHandlerFailed(_logger, handler.Name, e.Message);
            return new CheckResult(StatusCodes.Internal, $"handler failed: {e.Message}", TimeSpan.Zero, 0);
        }
        finally
        {
            RuntimeMetrics.HandlerCall(handler.Name, Stopwatch.GetElapsedTime(start));
        }
    }

    private async Task<string?> CallReport(HandlerEntry handler, string template, List<Instance> instances, CancellationToken token)
    {
        try
        {
            var task = handler.Handler switch
            {
                IMetricHandler h when template == "metric" => h.HandleMetricAsync(instances.Cast<MetricInstance>().ToList(), token),
                ILogEntryHandler h when template == "logentry" => h.HandleLogEntryAsync(instances.Cast<LogEntryInstance>().ToList(), token),
                ITraceSpanHandler h when template == "tracespan" => h.HandleTraceSpanAsync(instances.Cast<TraceSpanInstance>().ToList(), token),
                IReportNothingHandler h when template == "reportnothing" => h.HandleReportNothingAsync(instances.Cast<ReportNothingInstance>().ToList(), token),
                _ => throw new InvalidOperationException($"handler does not implement the {template} template"),
            };
            await task.ConfigureAwait(false);
            return null;
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            LogHandlerFailed(_logger, handler.Name, "report not handled within the deadline");
            return $"{handler.Name}: no answer within {_deadline.TotalMilliseconds:0} ms";
        }
        catch (Exception e)
        {
            LogHandlerFailed(_logger, handler.Name, e.Message);
            return $"{handler.Name}: {e.Message}";
        }
    }

    private async Task DisposeQuietly(HandlerEntry handler)
    {
        try
        {
            await handler.Handler.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            LogHandlerFailed(_logger, handler.Name, $"closing failed: {e.Message}");
        }
    }

    [LoggerMessage(EventId = 4001, Level = LogLevel.Warning, Message = "Rule {Rule}: match could not be evaluated, treated as not matching: {Error}")]
    private static partial void LogMatchError(ILogger logger, string rule, string error);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Warning, Message = "Handler {Handler} failed: {Error}")]
    private static partial void LogHandlerFailed(ILogger logger, string handler, string error);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Warning, Message = "Requested quota '{Quota}' is not configured: granted in full")]
    private static partial void LogQuotaNotConfigured(ILogger logger, string quota);

    [LoggerMessage(EventId = 4004, Level = LogLevel.Warning, Message = "Quota '{Quota}' on handler {Handler} failed, nothing granted: {Error}")]
    private static partial void LogQuotaFailed(ILogger logger, string quota, string handler, string error);
}
