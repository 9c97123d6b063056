using Microsoft.Extensions.Time.Testing;
using Mixer.Adapters.Prometheus;
using Mixer.Sdk;
using Mixer.Sdk.Adapters;
using Mixer.Sdk.Templates;
using Mixer.Testing;

namespace Mixer.Adapters.Tests;

/// <summary>The prometheus adapter: Istio's params, recording, and what its own endpoint serves.</summary>
public sealed class PrometheusTests
{
    private const string Requests = """
        {"metrics": [{"name": "requests_total", "instanceName": "requestcount.metric.istio-system", "kind": "COUNTER", "labelNames": ["destination_service", "response_code"]}]}
        """;


    private static Task<IMetricHandler> HandlerAsync(PrometheusAdapter adapter, string json, int port, string name = "handler.prometheus.istio-system", TimeProvider? time = null, RecordingMetrics? metrics = null) =>
        Build.HandlerAsync<IMetricHandler>(adapter, json, time: time, handlerName: name, metrics: metrics,
            settings: new Dictionary<string, string> { [PrometheusAdapter.PortSetting] = port.ToString(System.Globalization.CultureInfo.InvariantCulture) });

    private static MetricInstance Metric(string instance, AttributeValue value, params (string Key, AttributeValue Value)[] dims) => new()
    {
        Name = instance,
        Value = value,
        Dimensions = dims.ToDictionary(d => d.Key, d => d.Value),
    };

    private static MetricInstance Request(string service, long code) =>
        Metric("requestcount.metric.istio-system", AttributeValue.Int64(1), ("destination_service", AttributeValue.String(service)), ("response_code", AttributeValue.Int64(code)));

    private static async Task<string> ScrapeAsync(int port)
    {
        using var http = new HttpClient();
        return await http.GetStringAsync(new Uri($"http://127.0.0.1:{port}/metrics"));
    }

    [Fact]
    public void Validate_IstioHelmParams_AreAccepted()
    {
        Build.Problems(new PrometheusAdapter(), """
            {"metrics": [
              {"name": "requests_total", "instanceName": "requestcount.metric.istio-system", "kind": "COUNTER", "labelNames": ["reporter", "response_code"]},
              {"name": "request_duration_seconds", "instanceName": "requestduration.metric.istio-system", "kind": "DISTRIBUTION", "labelNames": ["reporter"],
               "buckets": {"explicitBuckets": {"bounds": [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]}}},
              {"name": "request_bytes", "instanceName": "requestsize.metric.istio-system", "kind": "DISTRIBUTION", "labelNames": ["reporter"],
               "buckets": {"exponentialBuckets": {"numFiniteBuckets": "8", "scale": 1, "growthFactor": 10}}}],
             "metricsExpirationPolicy": {"metricsExpiryDuration": "10m", "expiryCheckIntervalDuration": "1m"}}
            """).ShouldBeEmpty();
    }

    [Fact]
    public void Validate_BadParams_NamesEveryProblemByField()
    {
        Build.Problems(new PrometheusAdapter(), """
            {"metrics": [
              {"name": "a", "kind": "COUNTER"},
              {"name": "b", "instanceName": "b.metric.ns", "labelNames": ["x", "x", "__y"]},
              {"name": "c", "instanceName": "c.metric.ns", "kind": "DISTRIBUTION", "labelNames": ["le"], "buckets": {"explicitBuckets": {"bounds": [1, 1]}}},
              {"name": "d", "instanceName": "d.metric.ns", "kind": "DISTRIBUTION", "buckets": {"linearBuckets": {"numFiniteBuckets": 0, "width": 1}, "explicitBuckets": {"bounds": [1]}}},
              {"name": "b", "instanceName": "e.metric.ns", "kind": "GAUGE"},
              {"name": "f", "instanceName": "f.metric.ns", "kind": "DISTRIBUTION", "buckets": {"exponentialBuckets": {"numFiniteBuckets": 3, "growthFactor": 1, "scale": 0}}}],
             "metricsExpirationPolicy": {"metricsExpiryDuration": "0s"}}
            """).ShouldBe(
            [
                "metrics[0].instanceName: missing: the fully qualified metric instance this metric records (e.g. requestcount.metric.istio-system)",
                "metrics[1].kind: missing: one of GAUGE, COUNTER, DISTRIBUTION",
                "metrics[1].labelNames[1]: 'x' is listed twice",
                "metrics[1].labelNames[2]: '__y' is not a usable Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)",
                "metrics[2].labelNames[0]: 'le' is not a usable Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __, not 'le')",
                "metrics[2].buckets.explicitBuckets.bounds[1]: 1 must be greater than the bound before it",
                "metrics[3].buckets: give one of linearBuckets, exponentialBuckets, explicitBuckets",
                "metrics[4].name: 'istio_b' is already exported by metrics[1]; Prometheus names must be unique",
                "metrics[5].buckets.exponentialBuckets.growthFactor: must be > 1",
                "metrics[5].buckets.exponentialBuckets.scale: must be > 0",
                "metricsExpirationPolicy.metricsExpiryDuration: must be a duration > 0 (e.g. 10m)",
            ]);
        Build.Problems(new PrometheusAdapter(), """{"metrics": [{"instanceName": "a", "kind": "SUMMARY"}]}""").Single().ShouldStartWith("metrics[0].kind:");
    }

    [Fact]
    public async Task Handle_Counter_IsServedOnTheAdaptersOwnEndpointWithIstiosNames()
    {
        var port = LoopbackPort.Free();
        var adapter = new PrometheusAdapter();
        await using var handler = await HandlerAsync(adapter, Requests, port);

        await handler.HandleMetricAsync([Request("reviews", 200), Request("reviews", 200), Request("ratings", 503)], CancellationToken.None);

        adapter.EndpointAddress.ShouldBe($"127.0.0.1:{port}");
        var text = await ScrapeAsync(port);
        text.ShouldContain("# TYPE istio_requests_total counter");
        text.ShouldContain("istio_requests_total{destination_service=\"reviews\",response_code=\"200\"} 2");
        text.ShouldContain("istio_requests_total{destination_service=\"ratings\",response_code=\"503\"} 1");
    }

    [Fact]
    public async Task Handle_DistributionAndGauge_UseBucketsDurationsInSecondsAndTheLastValue()
    {
        var port = LoopbackPort.Free();
        await using var handler = await HandlerAsync(new PrometheusAdapter(), """
            {"metrics": [
              {"name": "latency", "namespace": "my-mesh", "instanceName": "latency.metric.ns", "kind": "DISTRIBUTION", "labelNames": [],
               "buckets": {"exponentialBuckets": {"numFiniteBuckets": 2, "scale": 0.01, "growthFactor": 10}}},
              {"name": "in.flight", "instanceName": "inflight.metric.ns", "kind": "GAUGE"}]}
            """, port);

        await handler.HandleMetricAsync(
        [
            Metric("latency.metric.ns", AttributeValue.Duration(TimeSpan.FromMilliseconds(5))),
            Metric("latency.metric.ns", AttributeValue.Duration(TimeSpan.FromMilliseconds(50))),
            Metric("latency.metric.ns", AttributeValue.Double(0.5)),
            Metric("inflight.metric.ns", AttributeValue.Int64(7)),
            Metric("inflight.metric.ns", AttributeValue.String("3.5")),
        ], CancellationToken.None);

        var text = await ScrapeAsync(port);
        text.ShouldContain("mymesh_latency_bucket{le=\"0.01\"} 1");
        text.ShouldContain("mymesh_latency_bucket{le=\"0.1\"} 2");
        text.ShouldContain("mymesh_latency_bucket{le=\"1\"} 3");
        text.ShouldContain("mymesh_latency_sum 0.555");
        text.ShouldContain("istio_in_flight 3.5");
    }

    [Fact]
    public async Task Handle_ValueThatIsNotANumber_FailsTheReportAndIsCountedAsDropped()
    {
        var metrics = new RecordingMetrics();
        var port = LoopbackPort.Free();
        await using var handler = await HandlerAsync(new PrometheusAdapter(), Requests, port, metrics: metrics);

        var bad = Metric("requestcount.metric.istio-system", AttributeValue.Bool(true));
        var unknown = Metric("other.metric.istio-system", AttributeValue.Int64(1));
        var e = await Should.ThrowAsync<InvalidOperationException>(async () => await handler.HandleMetricAsync([Request("a", 200), bad, unknown], CancellationToken.None));

        e.Message.ShouldContain("could not get value for metric requestcount.metric.istio-system: BOOL value 'true' is not a number");
        e.Message.ShouldContain("could not find metric info from adapter config for other.metric.istio-system");
        metrics["mixer_adapter_dropped_total"].ShouldBe(2);
        (await ScrapeAsync(port)).ShouldContain("istio_requests_total{destination_service=\"a\",response_code=\"200\"} 1");
    }

    [Fact]
    public async Task Rebuild_SameDefinition_KeepsCountingAndARedefinitionStartsAfresh()
    {
        var port = LoopbackPort.Free();
        var adapter = new PrometheusAdapter();
        var first = await HandlerAsync(adapter, Requests, port);
        await first.HandleMetricAsync([Request("reviews", 200)], CancellationToken.None);

        // A config change rebuilds the handler before closing the old one.
        var second = await HandlerAsync(adapter, Requests, port);
        await first.DisposeAsync();
        await second.HandleMetricAsync([Request("reviews", 200)], CancellationToken.None);
        (await ScrapeAsync(port)).ShouldContain("istio_requests_total{destination_service=\"reviews\",response_code=\"200\"} 2");

        var third = await HandlerAsync(adapter, Requests.Replace("\"response_code\"]", "\"response_code\", \"reporter\"]", StringComparison.Ordinal), port);
        await second.DisposeAsync();
        await third.HandleMetricAsync([Request("reviews", 200)], CancellationToken.None);
        var text = await ScrapeAsync(port);
        text.ShouldContain("istio_requests_total{destination_service=\"reviews\",response_code=\"200\",reporter=\"\"} 1");
        text.ShouldNotContain("response_code=\"200\"} 2");
        await third.DisposeAsync();
    }

    [Fact]
    public async Task Build_AnotherHandlerDefiningTheSameNameDifferently_IsRefused()
    {
        var port = LoopbackPort.Free();
        var adapter = new PrometheusAdapter();
        await using var first = await HandlerAsync(adapter, Requests, port);

        var e = await Should.ThrowAsync<InvalidOperationException>(async () =>
            await HandlerAsync(adapter, Requests.Replace("COUNTER", "GAUGE", StringComparison.Ordinal), port, name: "other.prometheus.istio-system"));
        e.Message.ShouldBe("metric 'istio_requests_total' is already exported by handler 'handler.prometheus.istio-system' with other labels, kind or buckets; give it another name or namespace");
    }

    [Fact]
    public async Task Expiry_LabelSetNotSeenForTheExpiryDuration_LeavesTheEndpoint()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var port = LoopbackPort.Free();
        await using var handler = await HandlerAsync(new PrometheusAdapter(), Requests.TrimEnd().TrimEnd('}') + """, "metricsExpirationPolicy": {"metricsExpiryDuration": "10m", "expiryCheckIntervalDuration": "1m"}}""", port, time: time);

        await handler.HandleMetricAsync([Request("old", 200), Request("busy", 200)], CancellationToken.None);
        time.Advance(TimeSpan.FromMinutes(6));
        await handler.HandleMetricAsync([Request("busy", 200)], CancellationToken.None);
        time.Advance(TimeSpan.FromMinutes(5));

        var text = await ScrapeAsync(port);
        text.ShouldNotContain("destination_service=\"old\"");
        text.ShouldContain("istio_requests_total{destination_service=\"busy\",response_code=\"200\"} 2");

        // A label set that comes back starts again from zero.
        await handler.HandleMetricAsync([Request("old", 200)], CancellationToken.None);
        (await ScrapeAsync(port)).ShouldContain("istio_requests_total{destination_service=\"old\",response_code=\"200\"} 1");
    }

    [Fact]
    public async Task Endpoint_LastHandlerClosed_StopsServing()
    {
        var port = LoopbackPort.Free();
        var adapter = new PrometheusAdapter();
        var handler = await HandlerAsync(adapter, Requests, port);
        await handler.DisposeAsync();

        adapter.EndpointAddress.ShouldBeEmpty();
        await Should.ThrowAsync<HttpRequestException>(() => ScrapeAsync(port));
    }

    private static async Task<IMetricBatchHandler> BatchHandlerAsync(string json, int port, TimeProvider? time = null) =>
        (IMetricBatchHandler)await HandlerAsync(new PrometheusAdapter(), json, port, time: time);

    [Fact]
    public async Task HandleBatch_RowsInTheLayoutOrder_CountExactlyAsInstancesDo()
    {
        var port = LoopbackPort.Free();
        await using var handler = await BatchHandlerAsync(Requests, port);
        var layout = handler.GetLayout("requestcount.metric.istio-system").ShouldNotBeNull();
        layout.Dimensions.ShouldBe(["destination_service", "response_code"]);
        handler.GetLayout("other.metric.istio-system").ShouldBeNull();

        // 1,000 rows, the code changing every tenth: runs of one series are added up, nothing is lost.
        var batch = new MetricBatch();
        for (var i = 0; i < 1000; i++)
        {
            batch.Add(layout.Id, "requestcount.metric.istio-system", AttributeValue.Int64(1), [AttributeValue.String("reviews"), AttributeValue.Int64(i % 10 == 0 ? 503 : 200)]);
        }

        await handler.HandleMetricBatchAsync(batch, CancellationToken.None);
        await handler.HandleMetricBatchAsync(batch, CancellationToken.None);

        var text = await ScrapeAsync(port);
        text.ShouldContain("istio_requests_total{destination_service=\"reviews\",response_code=\"200\"} 1800");
        text.ShouldContain("istio_requests_total{destination_service=\"reviews\",response_code=\"503\"} 200");
    }

    [Fact]
    public async Task HandleBatch_UnknownMetricOrBadValue_FailsTheReportNamingThem_AndRecordsTheRest()
    {
        var port = LoopbackPort.Free();
        await using var handler = await BatchHandlerAsync(Requests, port);
        var id = handler.GetLayout("requestcount.metric.istio-system")!.Id;
        var batch = new MetricBatch();
        batch.Add(id, "requestcount.metric.istio-system", AttributeValue.Int64(1), [AttributeValue.String("a"), default]);
        batch.Add(-1, "other.metric.istio-system", AttributeValue.Int64(1), []);
        batch.Add(id, "requestcount.metric.istio-system", AttributeValue.Int64(-2), [AttributeValue.String("a"), default]);

        var e = await Should.ThrowAsync<InvalidOperationException>(async () => await handler.HandleMetricBatchAsync(batch, CancellationToken.None));

        e.Message.ShouldContain("could not find metric info from adapter config for other.metric.istio-system");
        e.Message.ShouldContain("metric requestcount.metric.istio-system: a counter cannot be increased by -2");

        // A dimension the instance does not set is an empty label, as in Istio.
        (await ScrapeAsync(port)).ShouldContain("istio_requests_total{destination_service=\"a\",response_code=\"\"} 1");
    }

    [Fact]
    public async Task Expiry_ALabelSetRememberedAcrossReports_StillLeavesAndComesBackFromZero()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var port = LoopbackPort.Free();
        await using var handler = await BatchHandlerAsync(Requests.TrimEnd().TrimEnd('}') + """, "metricsExpirationPolicy": {"metricsExpiryDuration": "10m", "expiryCheckIntervalDuration": "1m"}}""", port, time);
        var id = handler.GetLayout("requestcount.metric.istio-system")!.Id;
        var batch = new MetricBatch();
        batch.Add(id, "requestcount.metric.istio-system", AttributeValue.Int64(1), [AttributeValue.String("old"), AttributeValue.Int64(200)]);
        await handler.HandleMetricBatchAsync(batch, CancellationToken.None);
        await handler.HandleMetricBatchAsync(batch, CancellationToken.None);
        (await ScrapeAsync(port)).ShouldContain("istio_requests_total{destination_service=\"old\",response_code=\"200\"} 2");

        time.Advance(TimeSpan.FromMinutes(11));
        (await ScrapeAsync(port)).ShouldNotContain("destination_service=\"old\"");

        // The handler still remembers the label set; it must not count into the removed series.
        await handler.HandleMetricBatchAsync(batch, CancellationToken.None);
        (await ScrapeAsync(port)).ShouldContain("istio_requests_total{destination_service=\"old\",response_code=\"200\"} 1");
    }

    [Fact]
    public async Task HandleBatch_AndInstances_RecordIntoTheSameSeries()
    {
        var port = LoopbackPort.Free();
        await using var handler = await BatchHandlerAsync(Requests, port);
        var batch = new MetricBatch();
        batch.Add(handler.GetLayout("requestcount.metric.istio-system")!.Id, "requestcount.metric.istio-system", AttributeValue.Int64(1), [AttributeValue.String("reviews"), AttributeValue.Int64(200)]);

        await handler.HandleMetricBatchAsync(batch, CancellationToken.None);
        await handler.HandleMetricAsync([Request("reviews", 200)], CancellationToken.None);

        (await ScrapeAsync(port)).ShouldContain("istio_requests_total{destination_service=\"reviews\",response_code=\"200\"} 2");
    }

    [Fact]
    public async Task HandleBatch_RunsOfOneValue_AreObservedAndSetAsOften_AsTheyCame()
    {
        var port = LoopbackPort.Free();
        await using var handler = await BatchHandlerAsync("""
            {"metrics": [
              {"name": "size", "instanceName": "size.metric.ns", "kind": "DISTRIBUTION", "labelNames": [],
               "buckets": {"explicitBuckets": {"bounds": [1, 10]}}},
              {"name": "last", "instanceName": "last.metric.ns", "kind": "GAUGE"}]}
            """, port);
        var size = handler.GetLayout("size.metric.ns")!.Id;
        var last = handler.GetLayout("last.metric.ns")!.Id;
        var batch = new MetricBatch();
        foreach (var v in new long[] { 0, 0, 0, 5, 5, 0, 20 })
        {
            batch.Add(size, "size.metric.ns", AttributeValue.Int64(v), []);
            batch.Add(last, "last.metric.ns", AttributeValue.Int64(v), []);
        }

        await handler.HandleMetricBatchAsync(batch, CancellationToken.None);

        var text = await ScrapeAsync(port);
        text.ShouldContain("istio_size_bucket{le=\"1\"} 4");
        text.ShouldContain("istio_size_bucket{le=\"10\"} 6");
        text.ShouldContain("istio_size_count 7");
        text.ShouldContain("istio_size_sum 30");
        text.ShouldContain("istio_last 20");
    }
}
