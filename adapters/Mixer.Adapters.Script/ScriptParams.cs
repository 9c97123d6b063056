namespace Mixer.Adapters.Script;

/// <summary>
/// The script handler's params: one C# script per template the handler serves, the per-call
/// budget, the default cache validity of check answers, and the counters scripts may count into.
/// </summary>
internal sealed class ScriptParams
{
    /// <summary>How long one script call may run before it is stopped (default 100ms, at most 10s).</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>How long an answer of <c>Ok()</c> / <c>Deny(...)</c> may be reused by the caller.</summary>
    public TimeSpan ValidDuration { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How many requests an answer of <c>Ok()</c> / <c>Deny(...)</c> may cover.</summary>
    public int ValidUseCount { get; set; } = 1000;

    /// <summary>Counters scripts may add to with <c>Count("name")</c>, exported on mixs's monitoring endpoint.</summary>
    public List<CounterParams>? Counters { get; set; }

    public string? Checknothing { get; set; }

    public string? Listentry { get; set; }

    public string? Authorization { get; set; }

    public string? Apikey { get; set; }

    public string? Metric { get; set; }

    public string? Logentry { get; set; }

    public string? Tracespan { get; set; }

    public string? Reportnothing { get; set; }

    /// <summary>The scripts given, by template name, in a fixed order.</summary>
    public IEnumerable<(ScriptTemplate Template, string Source)> Scripts()
    {
        foreach (var template in ScriptTemplate.All)
        {
            var source = template.Name switch
            {
                "checknothing" => Checknothing,
                "listentry" => Listentry,
                "authorization" => Authorization,
                "apikey" => Apikey,
                "metric" => Metric,
                "logentry" => Logentry,
                "tracespan" => Tracespan,
                "reportnothing" => Reportnothing,
                _ => null,
            };
            if (!string.IsNullOrWhiteSpace(source))
            {
                yield return (template, source);
            }
        }
    }
}

/// <summary>A counter a script may add to.</summary>
internal sealed class CounterParams
{
    /// <summary>The Prometheus metric name, e.g. <c>mixer_script_denied_total</c>.</summary>
    public string Name { get; set; } = string.Empty;

    /// <summary>One line saying what is counted.</summary>
    public string? Help { get; set; }
}
