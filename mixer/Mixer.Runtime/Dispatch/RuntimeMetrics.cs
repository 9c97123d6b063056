using System.Diagnostics.Metrics;

namespace Mixer.Runtime.Dispatch;

/// <summary>The runtime's own metrics (System.Diagnostics.Metrics; the server exports them).</summary>
internal static class RuntimeMetrics
{
    public const string MeterName = "Mixer.Runtime";

    private static readonly Meter s_meter = new(MeterName);
    private static readonly Histogram<double> s_handlerCalls = s_meter.CreateHistogram<double>("mixer_runtime_handler_call_seconds", "s", "Time of a handler call, by handler.");

    public static void HandlerCall(string handler, TimeSpan elapsed) =>
        s_handlerCalls.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>("handler", handler));
}
