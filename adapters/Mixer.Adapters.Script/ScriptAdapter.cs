using System.Text.Json;
using System.Text.RegularExpressions;
using Mixer.Sdk.Adapters;

namespace Mixer.Adapters.Script;

/// <summary>
/// The <c>script</c> adapter: a handler whose params hold C# for check logic (<c>checknothing</c>,
/// <c>listentry</c>, <c>authorization</c>, <c>apikey</c>: the script returns a
/// <see cref="CheckResult"/>) and report logic (<c>metric</c>, <c>logentry</c>, <c>tracespan</c>,
/// <c>reportnothing</c>: the script runs once per instance) over the typed instance, for rules too
/// small to deserve an adapter. Params: one script per template (field named after the template),
/// <c>timeout</c> (per call, default 100ms), <c>validDuration</c> / <c>validUseCount</c> (what
/// <c>Ok()</c> and <c>Deny(...)</c> answer with; 5s, 1000) and <c>counters</c> (name, help) that
/// scripts add to with <c>Count("name")</c>. Scripts are compiled when the config is validated,
/// once per distinct text (cached by hash across config generations), into collectible load
/// contexts; compile errors are config errors naming the template field and the script line.
/// See adapters/README.md for what scripts see and may use.
/// </summary>
public sealed partial class ScriptAdapter : IAdapter
{
    private static readonly TimeSpan MaxTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Names of the series a script handler exports itself (counters may not take them).</summary>
    private static readonly IReadOnlySet<string> OwnMetrics = new HashSet<string>(StringComparer.Ordinal)
    {
        "mixer_script_timeouts_total", "mixer_script_errors_total", "mixer_script_compilations", "mixer_script_loaded",
    };

    /// <summary>An adapter with its own script cache.</summary>
    public ScriptAdapter()
        : this(new ScriptCache())
    {
    }

    internal ScriptAdapter(ScriptCache cache) => Cache = cache;

    internal ScriptCache Cache { get; }

    /// <inheritdoc/>
    public AdapterInfo Info { get; } = new(
        "script",
        "Runs C# check and report scripts given in the handler's params",
        [.. ScriptTemplate.All.Select(t => t.Name)]);

    /// <inheritdoc/>
    public IReadOnlyList<ConfigProblem> Validate(JsonElement parameters)
    {
        var problems = new List<ConfigProblem>();
        var p = AdapterParams.TryRead<ScriptParams>(parameters, problems);
        if (p is null)
        {
            return problems;
        }

        if (p.Timeout <= TimeSpan.Zero || p.Timeout > MaxTimeout)
        {
            problems.Add(new ConfigProblem("timeout", $"must be more than 0 and at most 10s (default 100ms), not {Mixer.Sdk.GoDuration.Format(p.Timeout)}"));
        }

        if (p.ValidDuration < TimeSpan.Zero)
        {
            problems.Add(new ConfigProblem("validDuration", "must be >= 0"));
        }

        if (p.ValidUseCount < 0)
        {
            problems.Add(new ConfigProblem("validUseCount", "must be >= 0"));
        }

        var declared = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < (p.Counters?.Count ?? 0); i++)
        {
            var name = p.Counters![i].Name;
            if (!MetricName().IsMatch(name))
            {
                problems.Add(new ConfigProblem($"counters[{i}].name", $"'{name}' is not a Prometheus metric name (letters, digits, '_' and ':', not starting with a digit; e.g. mixer_script_denied_total)"));
            }
            else if (OwnMetrics.Contains(name))
            {
                problems.Add(new ConfigProblem($"counters[{i}].name", $"'{name}' is a series the script handler exports itself; pick another name"));
            }
            else if (!declared.Add(name))
            {
                problems.Add(new ConfigProblem($"counters[{i}].name", $"'{name}' is declared twice"));
            }
        }

        var scripts = p.Scripts().ToList();
        if (scripts.Count == 0)
        {
            problems.Add(new ConfigProblem(string.Empty, "no script: give C# for at least one template (" + string.Join(", ", ScriptTemplate.All.Select(t => t.Name)) + ")"));
        }

        foreach (var (template, source) in scripts)
        {
            var compiled = Cache.Get(template, source);
            foreach (var d in compiled.Problems)
            {
                problems.Add(new ConfigProblem(template.Name, Reason(d)) { TextLine = d.Line > 0 ? d.Line : null });
            }

            foreach (var (name, line) in compiled.Counters)
            {
                if (!declared.Contains(name))
                {
                    var known = declared.Count == 0 ? "none is declared" : "declared: " + string.Join(", ", declared.Order(StringComparer.Ordinal));
                    problems.Add(new ConfigProblem(template.Name, $"script line {line}: Count(\"{name}\") names no counter of the params' counters ({known})") { TextLine = line });
                }
            }
        }

        return problems;
    }

    /// <inheritdoc/>
    public ValueTask<IHandler> BuildAsync(HandlerContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var p = AdapterParams.Read<ScriptParams>(context.Params);
        var given = p.Scripts().ToDictionary(s => s.Template.Name, s => s, StringComparer.Ordinal);
        var missing = context.Instances.Where(kv => !given.ContainsKey(kv.Value)).Select(kv => $"{kv.Key} ({kv.Value})").ToList();
        if (missing.Count > 0)
        {
            throw new InvalidOperationException($"instances routed to this handler have no script for their template: {string.Join(", ", missing)}; add a script field named after the template");
        }

        var owned = new List<IDisposable>();
        try
        {
            var leases = new Dictionary<string, ScriptCache.Lease>(StringComparer.Ordinal);
            foreach (var (name, (template, source)) in given)
            {
                var lease = Cache.Acquire(template, source);
                owned.Add(lease);
                if (!lease.Script.Succeeded)
                {
                    throw new InvalidOperationException($"the {name} script does not compile: {string.Join("; ", lease.Script.Problems.Select(Reason))}");
                }

                leases[name] = lease;
            }

            var counters = (p.Counters ?? []).ToDictionary(
                c => c.Name,
                c => context.Metrics.Counter(c.Name, string.IsNullOrWhiteSpace(c.Help) ? $"Counted by the scripts of a script handler" : c.Help),
                StringComparer.Ordinal);
            owned.Add(context.Metrics.Gauge("mixer_script_compilations", "Scripts compiled by mixs's script adapter since it started (all script handlers)", () => Cache.Compilations));
            owned.Add(context.Metrics.Gauge("mixer_script_loaded", "Compiled scripts mixs's script adapter holds now (all script handlers)", () => Cache.Count));
            var handler = new ScriptHandler(context, p, leases, counters, owned);
            // Compiled when first validated, maybe in an earlier generation: the log says which text and what it cost.
            var scripts = string.Join(", ", leases.Select(kv => $"{kv.Key} (script {kv.Value.Script.Hash}, compiled in {kv.Value.Script.CompileTime.TotalMilliseconds:0} ms)"));
            ScriptLog.Built(context.Logger, context.HandlerName, scripts);
            return ValueTask.FromResult<IHandler>(handler);
        }
        catch
        {
            foreach (var o in owned)
            {
                o.Dispose();
            }

            throw;
        }
    }

    private static string Reason(ScriptDiagnostic d) =>
        d.Line > 0 ? $"script line {d.Line}, column {d.Column}: {d.Message}" : d.Message;


    [GeneratedRegex("^[a-zA-Z_:][a-zA-Z0-9_:]*$")]
    private static partial Regex MetricName();
}
