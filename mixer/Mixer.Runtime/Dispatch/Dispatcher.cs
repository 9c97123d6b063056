using System.Collections.Concurrent;
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
    private readonly DeadlineTokens _deadlines;
    private ConfigSnapshot _snapshot;

    public Dispatcher(ConfigSnapshot initial, ILogger<Dispatcher> logger, TimeSpan? handlerDeadline = null)
    {
        _snapshot = initial;
        _logger = logger;
        _deadlines = new DeadlineTokens(handlerDeadline ?? TimeSpan.FromSeconds(2));
    }

    /// <inheritdoc/>
    public long Generation => Volatile.Read(ref _snapshot).Generation;

    /// <inheritdoc/>
    public bool HasReportRules => Volatile.Read(ref _snapshot).HasReportRules;

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
    public ValueTask<CheckOutcome> CheckAsync(IAttributeBag bag, CancellationToken cancellationToken)
    {
        // The common case runs without an await: every built-in check handler answers
        // synchronously, so nothing is scheduled, and only a handler that goes asynchronous
        // sends the call down the slow path. Handlers still run concurrently: each is started
        // before any is awaited.
        var snapshot = Acquire();
        var release = true;
        try
        {
            var token = _deadlines.Next();
            PendingCheck[]? pending = null;
            var count = 0;
            var fold = new CheckFold();
            List<HeaderChange>? requestHeaders = null;
            List<HeaderChange>? responseHeaders = null;

            var rules = snapshot.GlobalRules;
            for (var pass = 0; pass < 2; pass++)
            {
                for (var r = 0; r < rules.Count; r++)
                {
                    var rule = rules[r];
                    if (!rule.ForCheck || !Matches(rule, bag))
                    {
                        continue;
                    }

                    var actions = rule.Actions;
                    for (var a = 0; a < actions.Count; a++)
                    {
                        var action = actions[a];
                        var instances = action.Instances;
                        for (var i = 0; i < instances.Count; i++)
                        {
                            var instance = instances[i];
                            if (instance.Template.Variety != Variety.Check)
                            {
                                continue;
                            }

                            if (!TryBuild(instance, bag, out var built, out var error))
                            {
                                // Istio fails the whole Check when an instance cannot be built.
                                return ValueTask.FromResult(new CheckOutcome(StatusCodes.Internal, $"{instance.Name}: {error}", TimeSpan.Zero, 0));
                            }

                            var start = Stopwatch.GetTimestamp();
                            var call = StartCheck(action.Handler, built, token);
                            if (pending is null && call.IsCompleted)
                            {
                                fold.Add(action.Handler, Finish(action.Handler, call, start, out var failed), failed);
                            }
                            else
                            {
                                // Keep rule order: once one call is pending, later ones queue behind it.
                                pending ??= new PendingCheck[4];
                                if (count == pending.Length)
                                {
                                    Array.Resize(ref pending, count * 2);
                                }

                                pending[count++] = new PendingCheck(action.Handler, call.AsTask(), start);
                            }
                        }
                    }

                    if (rule.RequestHeaderOperations.Count > 0)
                    {
                        Collect(rule.RequestHeaderOperations, bag, requestHeaders ??= []);
                    }

                    if (rule.ResponseHeaderOperations.Count > 0)
                    {
                        Collect(rule.ResponseHeaderOperations, bag, responseHeaders ??= []);
                    }
                }

                if (pass == 0)
                {
                    if (ScopedRules(snapshot, bag) is not { } scoped)
                    {
                        break;
                    }

                    rules = scoped;
                }
            }

            if (pending is null)
            {
                return ValueTask.FromResult(fold.Outcome(requestHeaders, responseHeaders));
            }

            release = false;
            return FinishCheckAsync(snapshot, fold, pending, count, requestHeaders, responseHeaders);
        }
        finally
        {
            if (release)
            {
                snapshot.Release();
            }
        }
    }

    private async ValueTask<CheckOutcome> FinishCheckAsync(ConfigSnapshot snapshot, CheckFold fold, PendingCheck[] pending, int count, List<HeaderChange>? requestHeaders, List<HeaderChange>? responseHeaders)
    {
        try
        {
            for (var i = 0; i < count; i++)
            {
                var (handler, call, start) = pending[i];
                if (!call.IsCompleted)
                {
                    try
                    {
                        await call.ConfigureAwait(false);
                    }
                    catch (Exception)
                    {
                        // Observed and turned into a status by Finish.
                    }
                }

                fold.Add(handler, Finish(handler, new ValueTask<CheckResult>(call), start, out var failed), failed);
            }

            return fold.Outcome(requestHeaders, responseHeaders);
        }
        finally
        {
            snapshot.Release();
        }
    }

    /// <summary>
    /// Combines check results in rule order: the first non-OK status wins, every failure is named
    /// in the message, validity is the minimum over the results that gave one.
    /// </summary>
    private struct CheckFold
    {
        private int? _code;
        private string? _message;
        private TimeSpan _duration;
        private int _uses;
        private bool _opinion;
        private bool _failureWins;

        public void Add(HandlerEntry handler, CheckResult r, bool failed)
        {
            if (!r.IsOk)
            {
                if (_code is null)
                {
                    // A handler that failed (threw, timed out, its adapter is down) decides the
                    // answer: no client may cache it, so the request is asked again once it recovers.
                    _failureWins = failed;
                }

                _code ??= r.StatusCode;
                var part = $"{handler.Name}:{r.Message}";
                _message = _message is null ? part : _message + ", " + part;
            }

            if (r.ValidDuration != TimeSpan.Zero || r.ValidUseCount != 0)
            {
                _duration = !_opinion || r.ValidDuration < _duration ? r.ValidDuration : _duration;
                _uses = !_opinion ? r.ValidUseCount : Math.Min(_uses, r.ValidUseCount);
                _opinion = true;
            }
        }

        public readonly CheckOutcome Outcome(List<HeaderChange>? requestHeaders, List<HeaderChange>? responseHeaders)
        {
            // Istio: no handler with an opinion on caching gives the default 1 minute / 10,000 uses.
            if (_failureWins)
            {
                return new CheckOutcome(_code ?? StatusCodes.Internal, _message ?? string.Empty, TimeSpan.Zero, 0);
            }

            var outcome = _opinion
                ? new CheckOutcome(_code ?? StatusCodes.Ok, _message ?? string.Empty, _duration, _uses)
                : CheckOutcome.DefaultOk with { StatusCode = _code ?? StatusCodes.Ok, StatusMessage = _message ?? string.Empty };
            if (_code is null && (requestHeaders is not null || responseHeaders is not null))
            {
                outcome = outcome with { RequestHeaderChanges = requestHeaders ?? [], ResponseHeaderChanges = responseHeaders ?? [] };
            }

            return outcome;
        }
    }

    private readonly record struct PendingCheck(HandlerEntry Handler, Task<CheckResult> Call, long Start);

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

                        var start = Stopwatch.GetTimestamp();
                        try
                        {
                            var r = await qh.HandleQuotaAsync((QuotaInstance)built, new QuotaRequest(args.Amount, args.BestEffort, args.DeduplicationId), _deadlines.Next()).ConfigureAwait(false);
                            action.Handler.Metrics.Record(Stopwatch.GetElapsedTime(start), failed: false);
                            return new QuotaOutcome(r.GrantedAmount, r.ValidDuration);
                        }
                        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                        {
                            action.Handler.Metrics.Record(Stopwatch.GetElapsedTime(start), failed: true);
                            LogQuotaFailed(_logger, args.Name, action.Handler.Name, e is OperationCanceledException ? $"no answer within {_deadlines.Deadline.TotalMilliseconds:0} ms" : e.Message);
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
        if (!snapshot.HasReportRules)
        {
            // No rule would match, build or read anything: the sets need not even be decoded.
            snapshot.Release();
            return ReportOutcome.Ok;
        }

        var scratch = t_spareReport ?? new ReportScratch();
        t_spareReport = null;
        try
        {
            List<string>? errors = null;
            foreach (var bag in batch.Bags())
            {
                scratch.NextSet();
                var rules = snapshot.GlobalRules;
                for (var pass = 0; pass < 2; pass++)
                {
                    for (var r = 0; r < rules.Count; r++)
                    {
                        var rule = rules[r];
                        if (rule.ForReport && Matches(rule, bag))
                        {
                            BuildReport(rule, bag, scratch, ref errors);
                        }
                    }

                    if (pass == 0)
                    {
                        if (ScopedRules(snapshot, bag) is not { } scoped)
                        {
                            break;
                        }

                        rules = scoped;
                    }
                }
            }

            if (scratch.Batches.Count == 0 && scratch.Buffers is null)
            {
                return errors is null ? ReportOutcome.Ok : new ReportOutcome(errors);
            }

            var token = _deadlines.Next();
            // Every handler is started before any is awaited; a completed call costs no allocation.
            var calls = new List<Task<string?>>(scratch.Batches.Count + (scratch.Buffers?.Count ?? 0));
            foreach (var (handler, metrics) in scratch.Batches)
            {
                calls.Add(CallReport(handler, "metric", instances: null, metrics, token));
            }

            if (scratch.Buffers is { } buffers)
            {
                foreach (var (key, instances) in buffers)
                {
                    calls.Add(CallReport(key.Item1, key.Item2.Name, instances, batch: null, token));
                }
            }

            foreach (var call in calls)
            {
                if (await call.ConfigureAwait(false) is { } error)
                {
                    (errors ??= []).Add(error);
                }
            }

            return errors is null ? ReportOutcome.Ok : new ReportOutcome(errors);
        }
        finally
        {
            snapshot.Release();
            scratch.Reset();
            t_spareReport = scratch;
        }
    }

    /// <summary>Builds the report instances of one matching rule into the per-handler batches.</summary>
    private static void BuildReport(RuleEntry rule, IAttributeBag bag, ReportScratch scratch, ref List<string>? errors)
    {
        var actions = rule.Actions;
        for (var a = 0; a < actions.Count; a++)
        {
            var action = actions[a];
            var routes = action.MetricRoutes;
            var instances = action.Instances;
            for (var i = 0; i < instances.Count; i++)
            {
                var instance = instances[i];
                if (instance.Template.Variety != Variety.Report)
                {
                    continue;
                }

                string? error;
                if (routes?[i] is { } route)
                {
                    if (!TryBuildRow(instance, route, bag, scratch, scratch.BatchFor(action.Handler), out error))
                    {
                        (errors ??= []).Add($"{instance.Name}: {error}");
                    }

                    continue;
                }

                if (!TryBuild(instance, bag, out var built, out error))
                {
                    (errors ??= []).Add($"{instance.Name}: {error}");
                    continue;
                }

                // Keyed by reference (handler entry, template info): no string hashing per instance.
                var buffers = scratch.Buffers ??= [];
                var key = (action.Handler, instance.Template);
                (buffers.TryGetValue(key, out var list) ? list : buffers[key] = []).Add(built);
            }
        }
    }

    /// <summary>
    /// A metric instance straight into its handler's batch: every field evaluated as <see cref="TryBuild"/>
    /// would (an instance that cannot be built is an error either way), the dimensions the handler
    /// reads put in its order, nothing allocated.
    /// </summary>
    private static bool TryBuildRow(InstanceEntry instance, MetricRoute route, IAttributeBag bag, ReportScratch scratch, MetricBatch into, out string? error)
    {
        var dimensions = scratch.Dimensions(route.DimensionCount);
        var value = default(AttributeValue);
        var fields = instance.Fields;
        var slots = route.Slots;
        for (var f = 0; f < fields.Count; f++)
        {
            var field = fields[f];
            if (field.Expression is not null)
            {
                if (!scratch.Evaluate(slots[f][0], field.Expression, bag, out var v, out error))
                {
                    error = $"field '{field.Path}': {error}";
                    return false;
                }

                if (f == route.ValueField)
                {
                    value = v;
                }
            }
            else if (field.Map is { } entries)
            {
                var targets = f == route.DimensionsField ? route.Targets : null;
                var mapSlots = slots[f];
                for (var m = 0; m < entries.Count; m++)
                {
                    if (!scratch.Evaluate(mapSlots[m], entries[m].Value, bag, out var v, out error))
                    {
                        error = $"field '{field.Path}[{entries[m].Key}]': {error}";
                        return false;
                    }

                    if (targets is not null && targets[m] >= 0)
                    {
                        dimensions[targets[m]] = v;
                    }
                }
            }
        }

        into.Add(route.Id, instance.Name, value, dimensions);
        error = null;
        return true;
    }

    [ThreadStatic]
    private static ReportScratch? t_spareReport;

    /// <summary>What one Report call builds, reused by the next call on the thread.</summary>
    private sealed class ReportScratch
    {
        private static readonly ConcurrentBag<MetricBatch> s_batches = [];

        private AttributeValue[] _dimensions = new AttributeValue[8];

        // Values of this set's expressions by ExpressionSlots number, valid where the stamp is the set's.
        private long _set;
        private long[] _stamps = new long[32];
        private AttributeValue[] _values = new AttributeValue[32];
        private string?[] _errors = new string?[32];

        /// <summary>Metric rows by handler, for handlers that take batches (few: a list beats a dictionary).</summary>
        public List<(HandlerEntry Handler, MetricBatch Batch)> Batches { get; } = [];

        /// <summary>Instances by handler and template, for the others.</summary>
        public Dictionary<(HandlerEntry, TemplateInfo), List<Instance>>? Buffers { get; set; }

        public MetricBatch BatchFor(HandlerEntry handler)
        {
            var batches = Batches;
            for (var i = 0; i < batches.Count; i++)
            {
                if (ReferenceEquals(batches[i].Handler, handler))
                {
                    return batches[i].Batch;
                }
            }

            var batch = s_batches.TryTake(out var spare) ? spare : new MetricBatch();
            batches.Add((handler, batch));
            return batch;
        }

        /// <summary>Moves on to the next attribute set: values of the one before no longer hold.</summary>
        public void NextSet() => _set++;

        /// <summary>The expression numbered <paramref name="slot"/> on this set's bag: evaluated once per set.</summary>
        public bool Evaluate(int slot, ICompiledExpression expression, IAttributeBag bag, out AttributeValue value, out string? error)
        {
            if (slot >= _stamps.Length)
            {
                var size = Math.Max(slot + 1, _stamps.Length * 2);
                Array.Resize(ref _stamps, size);
                Array.Resize(ref _values, size);
                Array.Resize(ref _errors, size);
            }

            if (_stamps[slot] == _set)
            {
                value = _values[slot];
                error = _errors[slot];
                return error is null;
            }

            var ok = expression.TryEvaluate(bag, out value, out error);
            if (!ok)
            {
                error ??= "evaluation failed";
            }

            _stamps[slot] = _set;
            _values[slot] = value;
            _errors[slot] = ok ? null : error;
            return ok;
        }

        /// <summary>A cleared span of <paramref name="count"/> values for one row's dimensions.</summary>
        public Span<AttributeValue> Dimensions(int count)
        {
            if (_dimensions.Length < count)
            {
                _dimensions = new AttributeValue[count];
            }

            var span = _dimensions.AsSpan(0, count);
            span.Clear();
            return span;
        }

        public void Reset()
        {
            // Batches go back only once their handler calls completed (ReportAsync awaited them).
            foreach (var (_, batch) in Batches)
            {
                batch.Clear();
                if (s_batches.Count < 64)
                {
                    s_batches.Add(batch);
                }
            }

            Batches.Clear();
            Buffers = null;

            // Drop references to this report's values (strings, maps) so a parked scratch keeps nothing alive.
            _set++;
            Array.Clear(_values);
            Array.Clear(_errors);
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

        if (ScopedRules(snapshot, bag) is { } rules)
        {
            foreach (var r in rules)
            {
                yield return r;
            }
        }
    }

    /// <summary>The rules of the request's identity namespace, or null when there are none.</summary>
    private static IReadOnlyList<RuleEntry>? ScopedRules(ConfigSnapshot snapshot, IAttributeBag bag) =>
        snapshot.NamespaceRules.Count > 0 && IdentityNamespace(bag) is { } ns && snapshot.NamespaceRules.TryGetValue(ns, out var rules) ? rules : null;

    /// <summary>The namespace whose rules apply: the destination's for inbound reports (the default), the source's for outbound.</summary>
    private static string? IdentityNamespace(IAttributeBag bag)
    {
        var outbound = bag.TryGet(s_reporterKind, out var kind) && kind.Type == ValueType.String && kind.AsString == "outbound";
        return bag.TryGet(outbound ? s_sourceNamespace : s_destinationNamespace, out var ns) && ns.Type.IsStringLike() ? ns.AsString : null;
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

        // As Istio: a match that cannot be evaluated does not match. Said once a minute per rule:
        // a rule that reads an attribute some requests lack would otherwise log on each of them.
        var now = Environment.TickCount64;
        var last = Volatile.Read(ref rule.LastMatchErrorLogged);
        if ((last == 0 || now - last > 60_000) && Interlocked.CompareExchange(ref rule.LastMatchErrorLogged, now, last) == last)
        {
            LogMatchError(_logger, rule.Key.ToString(), error ?? "unknown error");
        }

        return false;
    }

    private static readonly AttributeValue[] s_noValues = [];

    private static bool TryBuild(InstanceEntry instance, IAttributeBag bag, out Instance built, out string? error)
    {
        var fields = instance.Fields;
        var values = fields.Count == 0 ? s_noValues : new AttributeValue[fields.Count];
        var maps = instance.HasMaps ? new IReadOnlyDictionary<string, AttributeValue>?[fields.Count] : null;
        for (var f = 0; f < fields.Count; f++)
        {
            var field = fields[f];
            if (field.Expression is not null)
            {
                if (!field.Expression.TryEvaluate(bag, out values[f], out error))
                {
                    built = null!;
                    error = $"field '{field.Path}': {error}";
                    return false;
                }
            }
            else if (field.Map is not null)
            {
                var entries = field.Map;
                var mapValues = new AttributeValue[entries.Count];
                for (var m = 0; m < entries.Count; m++)
                {
                    if (!entries[m].Value.TryEvaluate(bag, out mapValues[m], out error))
                    {
                        built = null!;
                        error = $"field '{field.Path}[{entries[m].Key}]': {error}";
                        return false;
                    }
                }

                maps![f] = new FieldMap(field.MapKeys!, mapValues);
            }
        }

        built = instance.Template.Create(instance.Name, new InstanceValues(instance.FieldIndex, values, maps));
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

    /// <summary>Starts a check handler; a handler that throws synchronously becomes a faulted call.</summary>
    private static ValueTask<CheckResult> StartCheck(HandlerEntry handler, Instance instance, CancellationToken token)
    {
        try
        {
            return (handler.Handler, instance) switch
            {
                (ICheckNothingHandler h, CheckNothingInstance i) => h.HandleCheckNothingAsync(i, token),
                (IListEntryHandler h, ListEntryInstance i) => h.HandleListEntryAsync(i, token),
                (IAuthorizationHandler h, AuthorizationInstance i) => h.HandleAuthorizationAsync(i, token),
                (IApiKeyHandler h, ApiKeyInstance i) => h.HandleApiKeyAsync(i, token),
                _ => ValueTask.FromResult(new CheckResult(StatusCodes.Internal, $"handler does not implement the {instance.GetType().Name} template", TimeSpan.Zero, 0)),
            };
        }
        catch (Exception e)
        {
            return ValueTask.FromException<CheckResult>(e);
        }
    }

    /// <summary>The result of a completed call (read once); a fault or a timeout becomes a status.</summary>
    private CheckResult Finish(HandlerEntry handler, ValueTask<CheckResult> call, long start, out bool failed)
    {
        failed = !call.IsCompletedSuccessfully;
        CheckResult result;
        if (call.IsCompletedSuccessfully)
        {
            result = call.Result;
        }
        else
        {
            var e = call.AsTask().Exception?.InnerException;
            if (e is HandlerCallException known)
            {
                // An out-of-process adapter that is down, slow or failing: its own status and message.
                LogHandlerFailed(_logger, handler.Name, known.Message);
                result = new CheckResult(known.StatusCode, known.Message, TimeSpan.Zero, 0);
            }
            else if (call.IsCanceled || e is OperationCanceledException)
            {
                var reason = $"no answer within {_deadlines.Deadline.TotalMilliseconds:0} ms";
                LogHandlerFailed(_logger, handler.Name, reason);
                result = new CheckResult(StatusCodes.Unavailable, reason, TimeSpan.Zero, 0);
            }
            else
            {
                LogHandlerFailed(_logger, handler.Name, e?.Message ?? "unknown error");
                result = new CheckResult(StatusCodes.Internal, $"handler failed: {e?.Message}", TimeSpan.Zero, 0);
            }
        }

        handler.Metrics.Record(Stopwatch.GetElapsedTime(start), failed);
        return result;
    }

    // What a report action that threw (or ran past the deadline) contributes to ReportOutcome.Errors.
    private string ReportFailed(HandlerEntry handler, Exception e, CancellationToken token)
    {
        if (e is OperationCanceledException && token.IsCancellationRequested)
        {
            LogHandlerFailed(_logger, handler.Name, "report not handled within the deadline");
            return $"{handler.Name}: no answer within {_deadlines.Deadline.TotalMilliseconds:0} ms";
        }

        LogHandlerFailed(_logger, handler.Name, e.Message);
        return $"{handler.Name}: {e.Message}";
    }

    // One report action: a metric batch to a handler that takes them, else the template's instances.
    private async Task<string?> CallReport(HandlerEntry handler, string template, List<Instance>? instances, MetricBatch? batch, CancellationToken token)
    {
        var start = Stopwatch.GetTimestamp();
        var failed = true;
        try
        {
            var task = batch is not null ? ((IMetricBatchHandler)handler.Handler).HandleMetricBatchAsync(batch, token) : handler.Handler switch
            {
                IMetricHandler h when template == "metric" => h.HandleMetricAsync(new InstanceList<MetricInstance>(instances!), token),
                ILogEntryHandler h when template == "logentry" => h.HandleLogEntryAsync(new InstanceList<LogEntryInstance>(instances!), token),
                ITraceSpanHandler h when template == "tracespan" => h.HandleTraceSpanAsync(new InstanceList<TraceSpanInstance>(instances!), token),
                IReportNothingHandler h when template == "reportnothing" => h.HandleReportNothingAsync(new InstanceList<ReportNothingInstance>(instances!), token),
                _ => throw new InvalidOperationException($"handler does not implement the {template} template"),
            };
            await task.ConfigureAwait(false);
            failed = false;
            return null;
        }
        catch (Exception e)
        {
            return ReportFailed(handler, e, token);
        }
        finally
        {
            handler.Metrics.Record(Stopwatch.GetElapsedTime(start), failed);
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

    [LoggerMessage(EventId = 4001, Level = LogLevel.Warning, Message = "Rule {Rule}: match could not be evaluated, treated as not matching (said at most once a minute): {Error}")]
    private static partial void LogMatchError(ILogger logger, string rule, string error);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Warning, Message = "Handler {Handler} failed: {Error}")]
    private static partial void LogHandlerFailed(ILogger logger, string handler, string error);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Warning, Message = "Requested quota '{Quota}' is not configured: granted in full")]
    private static partial void LogQuotaNotConfigured(ILogger logger, string quota);

    [LoggerMessage(EventId = 4004, Level = LogLevel.Warning, Message = "Quota '{Quota}' on handler {Handler} failed, nothing granted: {Error}")]
    private static partial void LogQuotaFailed(ILogger logger, string quota, string handler, string error);
}

/// <summary>A batch of one template's instances seen as that template's type, without copying.</summary>
internal sealed class InstanceList<T>(List<Instance> items) : IReadOnlyList<T>
    where T : Instance
{
    public int Count => items.Count;

    public T this[int index] => (T)items[index];

    public IEnumerator<T> GetEnumerator()
    {
        foreach (var item in items)
        {
            yield return (T)item;
        }
    }

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
