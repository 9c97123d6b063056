using Mixer.Runtime.Config;
using Mixer.Runtime.Templates;
using Mixer.Sdk.Adapters;

namespace Mixer.Runtime.Snapshot;

/// <summary>A built handler, shared across snapshots while its signature is unchanged.</summary>
internal sealed class HandlerEntry(string name, string adapter, string signature, IHandler handler, ConfigResource source, Dispatch.IHandlerMetrics metrics)
{
    public Dispatch.IHandlerMetrics Metrics { get; } = metrics;

    public string Name { get; } = name;

    public string Adapter { get; } = adapter;

    public string Signature { get; } = signature;

    public IHandler Handler { get; } = handler;

    public ConfigResource Source { get; } = source;
}

/// <summary>One field of an instance: an expression, a map of expressions, or nested fields.</summary>
internal sealed record CompiledField(string Path, TemplateField Field, ICompiledExpression? Expression, IReadOnlyList<KeyValuePair<string, ICompiledExpression>>? Map)
{
    /// <summary>The keys of a map field, shared by every instance built from this config.</summary>
    public string[]? MapKeys { get; } = Map?.Select(kv => kv.Key).ToArray();
}

/// <summary>An instance: its template and compiled fields.</summary>
internal sealed record InstanceEntry(string Name, TemplateInfo Template, IReadOnlyList<CompiledField> Fields, ConfigResource Source)
{
    public string ShortName { get; } = Names.ShortName(Name);

    /// <summary>Field path to its position in <see cref="Fields"/>.</summary>
    public IReadOnlyDictionary<string, int> FieldIndex { get; } = Fields.Select((f, i) => (f.Path, i)).ToDictionary(x => x.Path, x => x.i, StringComparer.Ordinal);

    /// <summary>Whether any field is a map of expressions.</summary>
    public bool HasMaps { get; } = Fields.Any(f => f.Map is not null);
}

/// <summary>One action of a rule: a handler and the instances sent to it.</summary>
internal sealed record ActionEntry(HandlerEntry Handler, IReadOnlyList<InstanceEntry> Instances, ExpressionSlots Slots)
{
    /// <summary>
    /// For a handler that takes metric batches: per instance (the positions of <see cref="Instances"/>),
    /// how its fields become a row, or null for an instance that is not a metric. Null when the
    /// handler takes instances only one by one.
    /// </summary>
    public MetricRoute?[]? MetricRoutes { get; } = MetricRoute.For(Handler.Handler, Instances, Slots);
}

/// <summary>
/// Numbers the distinct expression texts of one snapshot. Istio-style configs repeat the same
/// dimension expressions in every metric (<c>destination.service.host | "unknown"</c> in all ten
/// of the load config's): a report set evaluates each number once, however many fields share it.
/// </summary>
internal sealed class ExpressionSlots
{
    private readonly Dictionary<string, int> _slots = new(StringComparer.Ordinal);

    public int Of(ICompiledExpression expression)
    {
        lock (_slots)
        {
            if (!_slots.TryGetValue(expression.Text, out var slot))
            {
                _slots[expression.Text] = slot = _slots.Count;
            }

            return slot;
        }
    }
}

/// <summary>
/// Where a metric instance's fields go in a <see cref="MetricBatch"/> row of one handler: which
/// field is the value, and for each entry of its dimensions map the position in the handler's
/// layout (-1: the handler does not read it). Worked out once per snapshot.
/// </summary>
internal sealed class MetricRoute
{
    private MetricRoute(int id, int dimensionCount, int valueField, int dimensionsField, int[] targets, int[][] slots)
    {
        Slots = slots;
        Id = id;
        DimensionCount = dimensionCount;
        ValueField = valueField;
        DimensionsField = dimensionsField;
        Targets = targets;
    }

    /// <summary>The layout's id, or -1 when the handler gave none.</summary>
    public int Id { get; }

    /// <summary>How many dimensions a row carries.</summary>
    public int DimensionCount { get; }

    /// <summary>Index of the <c>value</c> field in the instance's fields, or -1.</summary>
    public int ValueField { get; }

    /// <summary>Index of the <c>dimensions</c> field, or -1.</summary>
    public int DimensionsField { get; }

    /// <summary>Per entry of the dimensions map (config order), its position in the row, or -1.</summary>
    public int[] Targets { get; }

    /// <summary>Per field, the <see cref="ExpressionSlots"/> number of its expression, or of each entry of its map.</summary>
    public int[][] Slots { get; }

    public static MetricRoute?[]? For(IHandler handler, IReadOnlyList<InstanceEntry> instances, ExpressionSlots numbers)
    {
        if (handler is not IMetricBatchHandler batched || !instances.Any(i => i.Template.Name == "metric"))
        {
            return null;
        }

        var routes = new MetricRoute?[instances.Count];
        for (var i = 0; i < instances.Count; i++)
        {
            var instance = instances[i];
            if (instance.Template.Name != "metric")
            {
                continue;
            }

            MetricLayout? layout;
            try
            {
                layout = batched.GetLayout(instance.Name);
            }
            catch (Exception)
            {
                // A handler that cannot say gets its instances one by one, as before.
                return null;
            }

            var valueField = -1;
            var dimensionsField = -1;
            for (var f = 0; f < instance.Fields.Count; f++)
            {
                switch (instance.Fields[f].Path)
                {
                    case "value":
                        valueField = f;
                        break;
                    case "dimensions":
                        dimensionsField = f;
                        break;
                }
            }

            var keys = dimensionsField >= 0 ? instance.Fields[dimensionsField].MapKeys ?? [] : [];
            var targets = new int[keys.Length];
            for (var k = 0; k < keys.Length; k++)
            {
                targets[k] = -1;
                for (var d = 0; layout is not null && d < layout.Dimensions.Count; d++)
                {
                    if (string.Equals(layout.Dimensions[d], keys[k], StringComparison.Ordinal))
                    {
                        targets[k] = d;
                        break;
                    }
                }
            }

            var slots = instance.Fields
                .Select(f => f.Expression is { } e ? [numbers.Of(e)] : f.Map?.Select(kv => numbers.Of(kv.Value)).ToArray() ?? [])
                .ToArray();
            routes[i] = layout is null
                ? new MetricRoute(-1, 0, valueField, dimensionsField, targets, slots)
                : new MetricRoute(layout.Id, layout.Dimensions.Count, valueField, dimensionsField, targets, slots);
        }

        return routes;
    }
}

/// <summary>A header operation of a rule (Istio 1.1's requestHeaderOperations / responseHeaderOperations).</summary>
internal sealed record HeaderOperationEntry(string Name, IReadOnlyList<ICompiledExpression> Values, int Operation);

/// <summary>A rule: where it applies, when it matches, what it does.</summary>
internal sealed record RuleEntry(
    ResourceKey Key,
    ICompiledExpression? Match,
    IReadOnlyList<ActionEntry> Actions,
    IReadOnlyList<HeaderOperationEntry> RequestHeaderOperations,
    IReadOnlyList<HeaderOperationEntry> ResponseHeaderOperations)
{
    /// <summary>
    /// Whether Check has anything to do with this rule (a check instance or header operations).
    /// As in Istio's routing table by variety, a rule is matched only by the calls it serves: a
    /// report-only rule's match is not evaluated on Check (nor read into its referenced attributes).
    /// </summary>
    public bool ForCheck { get; } = RequestHeaderOperations.Count > 0 || ResponseHeaderOperations.Count > 0 || Has(Actions, Templates.Variety.Check);

    /// <summary>When a failing match was last logged (Environment.TickCount64), so a rule that fails on every request logs once a minute, not per request.</summary>
    public long LastMatchErrorLogged;

    /// <summary>Whether Report has anything to do with this rule.</summary>
    public bool ForReport { get; } = Has(Actions, Templates.Variety.Report);

    private static bool Has(IReadOnlyList<ActionEntry> actions, Templates.Variety variety) =>
        actions.Any(a => a.Instances.Any(i => i.Template.Variety == variety));
}

/// <summary>
/// One immutable generation of config: everything compiled and built, ready to serve. Readers
/// never lock; a new config builds a new snapshot and swaps a reference.
/// </summary>
internal sealed class ConfigSnapshot
{
    private int _users;
    private int _retired;
    private Action? _onDrained;

    public required long Generation { get; init; }

    public required string DefaultNamespace { get; init; }

    public required IReadOnlyDictionary<string, Sdk.ValueType> Manifest { get; init; }

    public required IReadOnlyDictionary<string, HandlerEntry> Handlers { get; init; }

    public required IReadOnlyDictionary<string, InstanceEntry> Instances { get; init; }

    /// <summary>Rules of the default namespace: they apply to every request.</summary>
    public required IReadOnlyList<RuleEntry> GlobalRules { get; init; }

    /// <summary>Rules by namespace: they apply where the request's identity namespace matches.</summary>
    public required IReadOnlyDictionary<string, IReadOnlyList<RuleEntry>> NamespaceRules { get; init; }

    /// <summary>
    /// Whether any rule, of any namespace, acts on Report. When none does, a report's sets are
    /// checked and nothing else: no rule would read them.
    /// </summary>
    public required bool HasReportRules { get; init; }

    /// <summary>The resources this snapshot was built from (the last good version of each).</summary>
    public required IReadOnlyDictionary<ResourceKey, ConfigResource> Resources { get; init; }

    /// <summary>The errors of the change that produced this snapshot.</summary>
    public required IReadOnlyList<ConfigError> Errors { get; init; }

    /// <summary>Marks one request as using this snapshot; false when it has been retired (take the current one).</summary>
    public bool TryAcquire()
    {
        Interlocked.Increment(ref _users);
        if (Volatile.Read(ref _retired) == 0)
        {
            return true;
        }

        Release();
        return false;
    }

    /// <summary>Ends one request's use.</summary>
    public void Release()
    {
        if (Interlocked.Decrement(ref _users) == 0 && Volatile.Read(ref _retired) == 1)
        {
            Interlocked.Exchange(ref _onDrained, null)?.Invoke();
        }
    }

    /// <summary>Retires the snapshot: <paramref name="onDrained"/> runs once no request uses it.</summary>
    public void Retire(Action onDrained)
    {
        _onDrained = onDrained;
        Volatile.Write(ref _retired, 1);
        if (Volatile.Read(ref _users) == 0)
        {
            Interlocked.Exchange(ref _onDrained, null)?.Invoke();
        }
    }
}
