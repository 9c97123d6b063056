using System.Diagnostics;
using Mixer.Adapters.Elasticsearch;
using Mixer.Sdk;
using Mixer.Sdk.Adapters;
using Mixer.Sdk.Templates;
using Mixer.Testing;

namespace Mixer.Adapters.Tests;

/// <summary>
/// The elasticsearch adapter through the official client over HTTP. No Elasticsearch server can be
/// installed on these machines: the backend is <see cref="ElasticsearchStandIn"/>, a loopback
/// stand-in that checks the _bulk NDJSON and answers item by item (including errors and 429s).
/// </summary>
public sealed class ElasticsearchTests : IAsyncLifetime
{
    private ElasticsearchStandIn _es = null!;

    public async Task InitializeAsync() => _es = await ElasticsearchStandIn.StartAsync();

    public async Task DisposeAsync() => await _es.DisposeAsync();

    private Task<ElasticsearchHandler> HandlerAsync(string extra = "", RecordingMetrics? metrics = null, string shutdownTimeout = "5s") =>
        Build.HandlerAsync<ElasticsearchHandler>(
            new ElasticsearchAdapter(),
            $$"""{"urls": ["{{_es.Url}}"], "flushInterval": "20ms", "initialBackoff": "10ms", "maxBackoff": "50ms"{{extra}}}""",
            handlerName: "es.elasticsearch.istio-system",
            metrics: metrics,
            settings: new Dictionary<string, string> { [HostSettings.ShutdownTimeout] = shutdownTimeout });

    private static LogEntryInstance Log(int n, string severity = "Info") => new()
    {
        Name = "accesslog.logentry.istio-system",
        Severity = severity,
        Timestamp = AttributeValue.Timestamp(new DateTimeOffset(2018, 7, 31, 23, 59, 59, TimeSpan.Zero)),
        Variables = new Dictionary<string, AttributeValue>
        {
            ["n"] = AttributeValue.Int64(n),
            ["latency"] = AttributeValue.Duration(TimeSpan.FromMilliseconds(1.5)),
            ["ok"] = AttributeValue.Bool(true),
            ["headers"] = AttributeValue.StringMap(new StringMapValue([new("x-user", "jason")])),
        },
    };

    [Fact]
    public void Validate_BadParams_NamesEveryField()
    {
        Build.Problems(new ElasticsearchAdapter(), """{"urls": ["ftp://x"], "username": "u", "index": "Logs-{yyyy}", "batchSize": 0, "flushInterval": "0s", "maxRetries": -1}""")
            .ShouldBe(
            [
                "urls[0]: 'ftp://x' is not an http:// or https:// URL",
                "password: basic authentication needs both username and password",
                "index: 'Logs-{yyyy}' gives 'Logs-2018', which is not an Elasticsearch index name (lowercase, no spaces or \\/*?\"<>|,#:, not starting with -, _ or +)",
                "batchSize: must be > 0, not 0",
                "maxRetries: must be >= 0",
                "flushInterval: must be a duration > 0 (e.g. 1s, 500ms)",
            ]);
        Build.Problems(new ElasticsearchAdapter(), """{"urls": ["http://a:9200"], "bulkSize": 3}""").ShouldBe(["bulkSize: unknown field"]);
    }

    [Fact]
    public async Task LogEntries_AreBulkIndexed_AsTypedDocumentsInTheirDailyIndex()
    {
        var metrics = new RecordingMetrics();
        await using (var handler = await HandlerAsync(""", "fieldNames": {"n": "sequence"}, "index": "mesh-{instance}-{yyyy.MM.dd}" """, metrics))
        {
            await handler.HandleLogEntryAsync([Log(1), Log(2)], CancellationToken.None);
            await _es.WaitForDocumentsAsync(2);
        }

        _es.Problems.ShouldBeEmpty();
        var doc = _es.Documents.Single(d => d.Source.GetProperty("sequence").GetInt64() == 2);
        doc.Index.ShouldBe("mesh-accesslog-2018.07.31");
        doc.Source.GetProperty("@timestamp").GetString().ShouldBe("2018-07-31T23:59:59Z");
        doc.Source.GetProperty("severity").GetString().ShouldBe("Info");
        doc.Source.GetProperty("latency").GetDouble().ShouldBe(1.5);
        doc.Source.GetProperty("ok").GetBoolean().ShouldBeTrue();
        doc.Source.GetProperty("headers").GetProperty("x-user").GetString().ShouldBe("jason");
        metrics["mixer_adapter_sent_total"].ShouldBe(2);
    }

    [Fact]
    public async Task Bulk_RejectedWholeWith429Then503_IsRetriedWithBackoffUntilIndexed()
    {
        _es.RejectNextRequests(1, 429);
        _es.RejectNextRequests(1, 503);
        var metrics = new RecordingMetrics();
        await using (var handler = await HandlerAsync(metrics: metrics))
        {
            await handler.HandleLogEntryAsync([Log(1), Log(2), Log(3)], CancellationToken.None);
            await _es.WaitForDocumentsAsync(3);
        }

        _es.Requests.ShouldBe(3);
        _es.Documents.Count.ShouldBe(3);
        metrics["mixer_adapter_failed_total"].ShouldBe(0);
    }

    [Fact]
    public async Task Bulk_ItemsFailing_AreRetriedAloneAndWhatFailsForGoodIsCounted()
    {
        // n=2 is refused with 429 twice, n=3 with a 500 once: both are retried; n=4 is a mapping error: not retried.
        _es.ItemStatus = (doc, seen) => doc.GetProperty("n").GetInt64() switch
        {
            2 when seen <= 2 => 429,
            3 when seen == 1 => 500,
            4 => 400,
            _ => 201,
        };
        var metrics = new RecordingMetrics();
        await using (var handler = await HandlerAsync(metrics: metrics))
        {
            await handler.HandleLogEntryAsync([Log(1), Log(2), Log(3), Log(4), Log(5)], CancellationToken.None);
            await _es.WaitForDocumentsAsync(4);
        }

        _es.Documents.Select(d => d.Source.GetProperty("n").GetInt64()).Order().ShouldBe([1, 2, 3, 5]);
        _es.Requests.ShouldBe(3, "the first with all five, then only the retryable ones");
        metrics["mixer_adapter_failed_total"].ShouldBe(1);
        metrics["mixer_adapter_sent_total"].ShouldBe(4);
    }

    [Fact]
    public async Task Bulk_StillRejectedAfterMaxRetries_IsCountedAsFailed()
    {
        _es.RejectNextRequests(10, 429);
        var metrics = new RecordingMetrics();
        await using (var handler = await HandlerAsync(""", "maxRetries": 2""", metrics))
        {
            await handler.HandleLogEntryAsync([Log(1), Log(2)], CancellationToken.None);
            var until = DateTime.UtcNow.AddSeconds(10);
            while (metrics["mixer_adapter_failed_total"] < 2 && DateTime.UtcNow < until)
            {
                await Task.Delay(20);
            }
        }

        _es.Requests.ShouldBe(3);
        metrics["mixer_adapter_failed_total"].ShouldBe(2);
        _es.Documents.ShouldBeEmpty();
    }

    [Fact]
    public async Task Handle_DeadBackend_NeverWaitsAndCountsWhatDoesNotFit()
    {
        _es.Delay = TimeSpan.FromSeconds(2);
        var metrics = new RecordingMetrics();
        var handler = await HandlerAsync(""", "bufferLimit": 10, "batchSize": 5""", metrics, shutdownTimeout: "100ms");
        var logs = Enumerable.Range(0, 100).Select(i => Log(i)).ToList();

        var watch = Stopwatch.StartNew();
        for (var i = 0; i < 10; i++)
        {
            await handler.HandleLogEntryAsync(logs, CancellationToken.None);
        }

        watch.Elapsed.ShouldBeLessThan(TimeSpan.FromMilliseconds(500));
        metrics.Gauge("mixer_adapter_queue_length").ShouldBeLessThanOrEqualTo(10);
        metrics["mixer_adapter_dropped_total"].ShouldBeGreaterThanOrEqualTo(1000 - 10 - 5);

        // Closing gives up after the shutdown timeout; what was still held is counted as dropped.
        var closing = Stopwatch.StartNew();
        await handler.DisposeAsync();
        closing.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(1.5));
        (metrics["mixer_adapter_dropped_total"] + metrics["mixer_adapter_sent_total"] + metrics["mixer_adapter_failed_total"]).ShouldBe(1000);
    }

    [Fact]
    public async Task TraceSpans_BecomeDocumentsWithDurationAndTags()
    {
        await using (var handler = await HandlerAsync())
        {
            await handler.HandleTraceSpanAsync(
            [
                new TraceSpanInstance
                {
                    Name = "span.tracespan.istio-system",
                    TraceId = "t1",
                    SpanId = "s1",
                    ParentSpanId = "p1",
                    SpanName = "GET /reviews",
                    StartTime = AttributeValue.Timestamp(1533038400, 0),
                    EndTime = AttributeValue.Timestamp(1533038400, 250_000_000),
                    HttpStatusCode = 503,
                    ClientSpan = true,
                    SpanTags = new Dictionary<string, AttributeValue> { ["peer"] = AttributeValue.String("ratings") },
                },
            ], CancellationToken.None);
            await _es.WaitForDocumentsAsync(1);
        }

        var d = _es.Documents.Single();
        d.Index.ShouldBe("istio-tracespan-2018.07.31");
        d.Source.GetProperty("spanName").GetString().ShouldBe("GET /reviews");
        d.Source.GetProperty("durationMs").GetDouble().ShouldBe(250);
        d.Source.GetProperty("httpStatusCode").GetInt64().ShouldBe(503);
        d.Source.GetProperty("clientSpan").GetBoolean().ShouldBeTrue();
        d.Source.GetProperty("tags").GetProperty("peer").GetString().ShouldBe("ratings");
    }
}
