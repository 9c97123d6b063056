using Mixer.Sdk.Templates;

namespace Mixer.Adapters.Script;

/// <summary>A template a script can serve: its name (the params field), its instance type, and whether it is a check.</summary>
internal sealed record ScriptTemplate(string Name, Type InstanceType, bool IsCheck)
{
    public static readonly ScriptTemplate CheckNothing = new("checknothing", typeof(CheckNothingInstance), true);
    public static readonly ScriptTemplate ListEntry = new("listentry", typeof(ListEntryInstance), true);
    public static readonly ScriptTemplate Authorization = new("authorization", typeof(AuthorizationInstance), true);
    public static readonly ScriptTemplate ApiKey = new("apikey", typeof(ApiKeyInstance), true);
    public static readonly ScriptTemplate Metric = new("metric", typeof(MetricInstance), false);
    public static readonly ScriptTemplate LogEntry = new("logentry", typeof(LogEntryInstance), false);
    public static readonly ScriptTemplate TraceSpan = new("tracespan", typeof(TraceSpanInstance), false);
    public static readonly ScriptTemplate ReportNothing = new("reportnothing", typeof(ReportNothingInstance), false);

    public static readonly IReadOnlyList<ScriptTemplate> All =
        [CheckNothing, ListEntry, Authorization, ApiKey, Metric, LogEntry, TraceSpan, ReportNothing];
}
