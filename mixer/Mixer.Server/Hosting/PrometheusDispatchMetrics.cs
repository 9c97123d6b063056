using Mixer.Runtime.Dispatch;
using Prometheus;

namespace Mixer.Server.Hosting;

/// <summary>
/// Handler calls as Prometheus metrics, with Istio 1.0's names: <c>mixer_runtime_dispatch_count</c>
/// and <c>mixer_runtime_dispatch_duration_seconds</c>, labelled by handler, adapter and whether the
/// call failed. Label children are resolved once per handler, not per call.
/// </summary>
internal sealed class PrometheusDispatchMetrics : IDispatchMetrics
{
    private static readonly Counter s_count = Metrics.CreateCounter(
        "mixer_runtime_dispatch_count", "Handler calls, by handler, adapter and error.", "handler", "adapter", "error");

    private static readonly Histogram s_duration = Metrics.CreateHistogram(
        "mixer_runtime_dispatch_duration_seconds", "Time of a handler call.",
        new HistogramConfiguration
        {
            LabelNames = ["handler", "adapter", "error"],
            Buckets = [0.00001, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        });

    public IHandlerMetrics ForHandler(string handler, string adapter) => new HandlerMetrics(handler, adapter);

    private sealed class HandlerMetrics(string handler, string adapter) : IHandlerMetrics
    {
        private readonly Counter.Child _ok = s_count.WithLabels(handler, adapter, "false");
        private readonly Counter.Child _failed = s_count.WithLabels(handler, adapter, "true");
        private readonly Histogram.Child _okTime = s_duration.WithLabels(handler, adapter, "false");
        private readonly Histogram.Child _failedTime = s_duration.WithLabels(handler, adapter, "true");

        public void Record(TimeSpan elapsed, bool failed)
        {
            (failed ? _failed : _ok).Inc();
            (failed ? _failedTime : _okTime).Observe(elapsed.TotalSeconds);
        }
    }
}
