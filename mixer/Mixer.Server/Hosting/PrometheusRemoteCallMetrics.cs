using Mixer.Runtime.Dispatch;
using Prometheus;

namespace Mixer.Server.Hosting;

/// <summary>
/// The health of calls to out-of-process adapters: <c>mixer_remote_adapter_calls_total</c> by
/// handler, adapter, template and gRPC outcome code, <c>mixer_remote_adapter_call_duration_seconds</c>
/// (retries included) and <c>mixer_remote_adapter_retries_total</c>. Label children are resolved
/// once per handler, template and code.
/// </summary>
internal sealed class PrometheusRemoteCallMetrics : IRemoteCallMetrics
{
    private static readonly Counter s_calls = Metrics.CreateCounter(
        "mixer_remote_adapter_calls_total", "Calls to out-of-process adapters, by handler, adapter, template and gRPC outcome code.",
        "handler", "adapter", "template", "code");

    private static readonly Histogram s_duration = Metrics.CreateHistogram(
        "mixer_remote_adapter_call_duration_seconds", "Time of a call to an out-of-process adapter, retries included.",
        new HistogramConfiguration
        {
            LabelNames = ["handler", "adapter", "template"],
            Buckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        });

    private static readonly Counter s_retries = Metrics.CreateCounter(
        "mixer_remote_adapter_retries_total", "Attempts to an out-of-process adapter retried after UNAVAILABLE.",
        "handler", "adapter", "template");

    public IRemoteTemplateMetrics For(string handler, string adapter, string template) => new TemplateMetrics(handler, adapter, template);

    private sealed class TemplateMetrics(string handler, string adapter, string template) : IRemoteTemplateMetrics
    {
        private readonly Counter.Child _ok = s_calls.WithLabels(handler, adapter, template, "OK");
        private readonly Histogram.Child _duration = s_duration.WithLabels(handler, adapter, template);
        private readonly Counter.Child _retries = s_retries.WithLabels(handler, adapter, template);

        public void Record(string code, TimeSpan elapsed)
        {
            (code == "OK" ? _ok : s_calls.WithLabels(handler, adapter, template, code)).Inc();
            _duration.Observe(elapsed.TotalSeconds);
        }

        public void Retried() => _retries.Inc();
    }
}
