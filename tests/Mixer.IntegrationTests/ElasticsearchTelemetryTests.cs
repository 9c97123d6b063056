using System.Diagnostics;
using System.Text.RegularExpressions;
using Istio.Mixer.V1;
using Mixer.Testing;

namespace Mixer.IntegrationTests;

/// <summary>
/// Log entries and trace spans from Report through the real mixs to Elasticsearch's _bulk API.
/// No Elasticsearch server can be installed on these machines: the backend here is
/// <see cref="ElasticsearchStandIn"/>, a loopback stand-in that checks the NDJSON wire format and
/// answers item by item as Elasticsearch does.
/// </summary>
public sealed partial class ElasticsearchTelemetryTests : IAsyncLifetime
{
    private readonly ConfigDir _config = new ConfigDir().WithDefaultAttributes();
    private ElasticsearchStandIn _es = null!;

    public async Task InitializeAsync() => _es = await ElasticsearchStandIn.StartAsync();

    public async Task DisposeAsync()
    {
        await _es.DisposeAsync();
        _config.Dispose();
    }

    private string Config(string handlerParams) => $$"""
        apiVersion: config.istio.io/v1alpha2
        kind: elasticsearch
        metadata: {name: handler, namespace: istio-system}
        spec:
          urls: ["{{_es.Url}}"]
        {{string.Join('\n', handlerParams.Split('\n').Select(l => "  " + l))}}
        ---
        apiVersion: config.istio.io/v1alpha2
        kind: logentry
        metadata: {name: accesslog, namespace: istio-system}
        spec:
          severity: '"Info"'
          timestamp: request.time
          variables:
            destinationServiceHost: destination.service.host | ""
            responseCode: response.code | 0
            latency: response.duration | "0ms"
            sourceIp: source.ip | ip("0.0.0.0")
          monitored_resource_type: '"global"'
        ---
        apiVersion: config.istio.io/v1alpha2
        kind: tracespan
        metadata: {name: span, namespace: istio-system}
        spec:
          traceId: request.headers["x-b3-traceid"] | ""
          spanId: request.headers["x-b3-spanid"] | ""
          parentSpanId: request.headers["x-b3-parentspanid"] | ""
          spanName: request.path | "/"
          startTime: request.time
          endTime: response.time
          httpStatusCode: response.code | 0
          clientSpan: (context.reporter.kind | "inbound") == "outbound"
          spanTags:
            destination: destination.service.host | "unknown"
        ---
        apiVersion: config.istio.io/v1alpha2
        kind: rule
        metadata: {name: eslogs, namespace: istio-system}
        spec:
          actions:
          - handler: handler.elasticsearch
            instances: [accesslog.logentry, span.tracespan]
        """;

    private static CompressedAttributes Request(int n) => new TestAttributes()
        .String("destination.service.host", "reviews")
        .String("request.path", "/reviews/" + n)
        .Int64("response.code", 200 + n)
        .Duration("response.duration", TimeSpan.FromMilliseconds(2.5))
        .Ip("source.ip", "10.0.0.7")
        .Timestamp("request.time", new DateTimeOffset(2018, 7, 31, 12, 0, 0, TimeSpan.Zero))
        .Timestamp("response.time", new DateTimeOffset(2018, 7, 31, 12, 0, 0, 20, TimeSpan.Zero))
        .Map("request.headers", ("x-b3-traceid", "463ac35c9f6413ad"), ("x-b3-spanid", "a2fb4a1d1a96d312"), ("x-b3-parentspanid", "0020000000000001"))
        .Build();

    private static ReportRequest Report(int count, int from = 0)
    {
        var r = new ReportRequest();
        r.Attributes.AddRange(Enumerable.Range(from, count).Select(Request));
        return r;
    }

    /// <summary>Polls mixs's /metrics until <paramref name="metric"/> reaches <paramref name="expected"/> (the answer to the last _bulk may still be on its way).</summary>
    private static async Task<double> MonitoringValueAsync(MixsProcess mixs, string metric, double expected)
    {
        var until = DateTime.UtcNow.AddSeconds(10);
        double value;
        while ((value = await MonitoringValueAsync(mixs, metric)) < expected && DateTime.UtcNow < until)
        {
            await Task.Delay(50);
        }

        return value;
    }

    private static Task<double> MonitoringValueAsync(MixsProcess mixs, string metric) =>
        ScrapedMetrics.ReadAsync(mixs.MonitoringUrl, metric, "handler=\"handler.elasticsearch.istio-system\"");

    [Fact]
    public async Task Report_LogEntriesAndSpans_BecomeDocumentsInDailyIndices()
    {
        _config.Write("es.yaml", Config("flushInterval: 100ms"));
        await using var mixs = await MixsProcess.StartAsync(_config.Path);

        await mixs.Client.ReportAsync(Report(3));

        var docs = await _es.WaitForDocumentsAsync(6);
        _es.Problems.ShouldBeEmpty();
        var logs = docs.Where(d => d.Index == "istio-logentry-2018.07.31").Select(d => d.Source).ToList();
        logs.Count.ShouldBe(3);
        var log = logs.Single(l => l.GetProperty("responseCode").GetInt64() == 201);
        log.GetProperty("@timestamp").GetString().ShouldBe("2018-07-31T12:00:00Z");
        log.GetProperty("instance").GetString().ShouldBe("accesslog.logentry.istio-system");
        log.GetProperty("severity").GetString().ShouldBe("Info");
        log.GetProperty("destinationServiceHost").GetString().ShouldBe("reviews");
        log.GetProperty("latency").GetDouble().ShouldBe(2.5);
        log.GetProperty("sourceIp").GetString().ShouldBe("10.0.0.7");

        var span = docs.Where(d => d.Index == "istio-tracespan-2018.07.31").Select(d => d.Source).Single(s => s.GetProperty("spanName").GetString() == "/reviews/2");
        span.GetProperty("traceId").GetString().ShouldBe("463ac35c9f6413ad");
        span.GetProperty("parentSpanId").GetString().ShouldBe("0020000000000001");
        span.GetProperty("durationMs").GetDouble().ShouldBe(20);
        span.GetProperty("httpStatusCode").GetInt64().ShouldBe(202);
        span.GetProperty("clientSpan").GetBoolean().ShouldBeFalse();
        span.GetProperty("tags").GetProperty("destination").GetString().ShouldBe("reviews");

        (await MonitoringValueAsync(mixs, "mixer_adapter_sent_total", 6)).ShouldBe(6);
    }

    [Fact]
    public async Task Report_RejectedWith429AndFailedItems_RetriesUntilIndexedAndCountsWhatFinallyFails()
    {
        _es.RejectNextRequests(2, 429);

        // Responses 200..209: every third is refused once with 429 (retried), 207 is refused for good (400).
        _es.ItemStatus = (doc, seen) => doc.TryGetProperty("responseCode", out var c)
            ? c.GetInt64() == 207 ? 400 : c.GetInt64() % 3 == 0 && seen == 1 ? 429 : 201
            : 201;
        _config.Write("es.yaml", Config("flushInterval: 50ms\ninitialBackoff: 20ms\nmaxBackoff: 100ms"));
        await using var mixs = await MixsProcess.StartAsync(_config.Path);

        await mixs.Client.ReportAsync(Report(10));

        var docs = await _es.WaitForDocumentsAsync(19);
        await Task.Delay(300);
        _es.Documents.Count.ShouldBe(19, "10 spans and 9 log entries; the log entry refused with 400 is not retried");
        docs.Where(d => d.Index.StartsWith("istio-logentry", StringComparison.Ordinal)).Select(d => d.Source.GetProperty("responseCode").GetInt64()).Order()
            .ShouldBe([200, 201, 202, 203, 204, 205, 206, 208, 209]);
        (await MonitoringValueAsync(mixs, "mixer_adapter_sent_total", 19)).ShouldBe(19);
        (await MonitoringValueAsync(mixs, "mixer_adapter_failed_total", 1)).ShouldBe(1);
    }

    [Fact]
    public async Task Report_SlowBackend_NeverSlowsReportAndCountsDrops()
    {
        _es.Delay = TimeSpan.FromSeconds(10);
        _config.Write("es.yaml", Config("bufferLimit: 100\nbatchSize: 50\nflushInterval: 10ms\nrequestTimeout: 30s"));
        await using var mixs = await MixsProcess.StartAsync(_config.Path, "--shutdownTimeout", "1s");
        await mixs.Client.ReportAsync(Report(1));

        var watch = Stopwatch.StartNew();
        for (var i = 0; i < 10; i++)
        {
            await mixs.Client.ReportAsync(Report(100, i * 100));
        }

        watch.Stop();
        watch.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(5), "ten reports of 100 sets must not wait for a backend that takes 10 s a request");

        // 2 documents per set (a log entry and a span): 2,002 made; at most 100 queued and 50 in flight.
        var dropped = await MonitoringValueAsync(mixs, "mixer_adapter_dropped_total");
        dropped.ShouldBeGreaterThanOrEqualTo(2002 - 100 - 50 - 2);
        dropped.ShouldBeLessThanOrEqualTo(2002);
        (await MonitoringValueAsync(mixs, "mixer_adapter_queue_length")).ShouldBeLessThanOrEqualTo(100);
    }

    [Fact]
    public async Task Shutdown_WithDocumentsQueued_SendsThemBeforeExiting()
    {
        // A flush interval longer than the test: only the shutdown flush can send them.
        _config.Write("es.yaml", Config("flushInterval: 1h\nbatchSize: 1000"));
        var mixs = await MixsProcess.StartAsync(_config.Path);
        await mixs.Client.ReportAsync(Report(20));
        await Task.Delay(200);
        _es.Documents.ShouldBeEmpty();

        (await mixs.StopAsync()).ShouldBe(0);
        await mixs.DisposeAsync();

        _es.Documents.Count.ShouldBe(40);
    }
}
