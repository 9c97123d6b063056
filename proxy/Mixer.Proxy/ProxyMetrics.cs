using System.Globalization;
using System.Text;
using Mixer.Client;

namespace Mixer.Proxy;

/// <summary>A counter that only goes up.</summary>
internal sealed class Counter
{
    private long _value;

    public long Value => Interlocked.Read(ref _value);

    public void Add(long n) => Interlocked.Add(ref _value, n);
}

/// <summary>
/// The sidecar's own figures, in Prometheus text form on the admin endpoint's /metrics: requests,
/// denials, check cache hits and misses, Check calls, quota decided locally, reports queued, sent,
/// failed and dropped (a full buffer never drops silently).
/// </summary>
internal sealed class ProxyMetrics
{
    public Counter Requests { get; } = new();

    public Counter Connections { get; } = new();

    public Counter Denied { get; } = new();

    public Counter ReportDropped { get; } = new();

    public string Render(MixerClient? mixer)
    {
        var sb = new StringBuilder();
        void Header(string name, string help, string type)
        {
            sb.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n');
            sb.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
        }

        void Line(string name, string help, long value, string type = "counter")
        {
            Header(name, help, type);
            sb.Append(name).Append(' ').Append(value.ToString(CultureInfo.InvariantCulture)).Append('\n');
        }

        Line("mixer_proxy_requests_total", "HTTP requests received.", Requests.Value);
        Line("mixer_proxy_connections_total", "TCP connections received.", Connections.Value);
        Line("mixer_proxy_denied_total", "Requests and connections refused by Check.", Denied.Value);
        // The runtime's own cost, for telling the sidecar's work from its garbage collector's.
        Header("mixer_proxy_gc_pause_seconds_total", "Time the process was paused for garbage collection.", "counter");
        sb.Append("mixer_proxy_gc_pause_seconds_total ").Append(GC.GetTotalPauseDuration().TotalSeconds.ToString("0.######", CultureInfo.InvariantCulture)).Append('\n');
        Header("mixer_proxy_gc_collections_total", "Garbage collections, by generation.", "counter");
        for (var g = 0; g <= GC.MaxGeneration; g++)
        {
            sb.Append("mixer_proxy_gc_collections_total{generation=\"").Append(g).Append("\"} ").Append(GC.CollectionCount(g).ToString(CultureInfo.InvariantCulture)).Append('\n');
        }

        Line("mixer_proxy_allocated_bytes_total", "Bytes allocated on the managed heap.", GC.GetTotalAllocatedBytes());
        if (mixer is not null)
        {
            Line("mixer_proxy_check_calls_total", "Check RPCs made to Mixer (retries and quota top-ups included).", mixer.CheckCalls);
            Line("mixer_proxy_check_cache_hits_total", "Checks answered from the check cache.", mixer.CheckCache?.Hits ?? 0);
            Line("mixer_proxy_check_cache_misses_total", "Checks the cache could not answer.", mixer.CheckCache?.Misses ?? 0);
            Line("mixer_proxy_check_cache_entries", "Answers in the check cache.", mixer.CheckCache?.Count ?? 0, "gauge");
            Line("mixer_proxy_check_cache_evictions_total", "Answers pushed out of the full check cache.", mixer.CheckCache?.Evictions ?? 0);
            Line("mixer_proxy_quota_cache_hits_total", "Quota decided from the local allowance.", mixer.QuotaCache?.Hits ?? 0);
            Line("mixer_proxy_failed_open_total", "Checks let through because Mixer could not answer (FAIL_OPEN).", mixer.FailedOpenCount);
            Line("mixer_proxy_transport_failures_total", "Calls to Mixer that got no answer after retries.", mixer.TransportFailures);
            Line("mixer_proxy_report_sets_enqueued_total", "Attribute sets queued for Report.", mixer.Reports.Enqueued);
            Line("mixer_proxy_report_sets_sent_total", "Attribute sets Mixer accepted.", mixer.Reports.SentSets);
            Line("mixer_proxy_report_sets_failed_total", "Attribute sets in Report batches Mixer did not accept.", mixer.Reports.FailedSets);
            Line("mixer_proxy_report_sets_dropped_total", "Attribute sets dropped because the report buffer was full.", mixer.Reports.Dropped);
            Line("mixer_proxy_report_requests_total", "Report RPCs made.", mixer.Reports.Requests);
        }

        return sb.ToString();
    }
}
