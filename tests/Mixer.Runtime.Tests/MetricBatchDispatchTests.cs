using System.Collections.Concurrent;
using System.Text.Json;
using Istio.Mixer.V1;
using Microsoft.Extensions.Logging.Abstractions;
using Mixer.Sdk;
using Mixer.Sdk.Adapters;
using Mixer.Sdk.Templates;
using Mixer.Testing;

namespace Mixer.Runtime.Tests;

/// <summary>An adapter whose handler takes metric batches and writes down every row it is given.</summary>
internal sealed class RowsAdapter : IAdapter
{
    public ConcurrentQueue<string> Rows { get; } = new();

    public ConcurrentQueue<string> OneByOne { get; } = new();

    public AdapterInfo Info { get; } = new("rows", "test adapter taking metric batches", ["metric"]);

    public IReadOnlyList<ConfigProblem> Validate(JsonElement parameters) => [];

    public ValueTask<IHandler> BuildAsync(HandlerContext context, CancellationToken cancellationToken) => ValueTask.FromResult<IHandler>(new Handler(this));

    private sealed class Handler(RowsAdapter adapter) : IMetricBatchHandler
    {
        // It reads method before code, and a dimension no instance sets.
        public MetricLayout? GetLayout(string instanceName) =>
            instanceName == "requests.metric.istio-system" ? new MetricLayout(7, ["method", "code", "absent"]) : null;

        public ValueTask HandleMetricBatchAsync(MetricBatch batch, CancellationToken cancellationToken)
        {
            for (var i = 0; i < batch.Count; i++)
            {
                var dimensions = batch.Dimensions(i).ToArray().Select(v => v.IsEmpty ? "-" : v.ToString());
                adapter.Rows.Enqueue($"{batch.MetricId(i)} {batch.InstanceName(i)} {batch.Value(i)} [{string.Join(",", dimensions)}]");
            }

            return ValueTask.CompletedTask;
        }

        public ValueTask HandleMetricAsync(IReadOnlyList<MetricInstance> instances, CancellationToken cancellationToken)
        {
            foreach (var m in instances)
            {
                adapter.OneByOne.Enqueue(m.Name);
            }

            return ValueTask.CompletedTask;
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}

public sealed class MetricBatchDispatchTests : IAsyncDisposable
{
    private const string Config = """
        apiVersion: config.istio.io/v1alpha2
        kind: metric
        metadata: {name: requests, namespace: istio-system}
        spec:
          value: response.size | 0
          dimensions:
            code: response.code | 200
            method: request.method | "GET"
            ignored: '"x"'
        ---
        apiVersion: config.istio.io/v1alpha2
        kind: metric
        metadata: {name: others, namespace: istio-system}
        spec:
          value: "1"
          dimensions:
            code: response.code | 200
        ---
        apiVersion: config.istio.io/v1alpha2
        kind: metric
        metadata: {name: broken, namespace: istio-system}
        spec:
          value: request.size
        ---
        apiVersion: config.istio.io/v1alpha2
        kind: handler
        metadata: {name: rows, namespace: istio-system}
        spec:
          compiledAdapter: rows
          params: {}
        ---
        apiVersion: config.istio.io/v1alpha2
        kind: rule
        metadata: {name: all, namespace: istio-system}
        spec:
          actions:
          - handler: rows
            instances: [requests.metric, others.metric, broken.metric]
        """;

    private readonly ConfigDir _dir = new ConfigDir().WithDefaultAttributes();
    private readonly RowsAdapter _rows = new();
    private MixerRuntime? _runtime;

    public async ValueTask DisposeAsync()
    {
        if (_runtime is not null)
        {
            await _runtime.DisposeAsync();
        }

        _dir.Dispose();
    }

    // decoded: false is the batch mixs makes while its config has no report rule (sets only
    // checked); when a config with report rules is in force by dispatch time it decodes then, and
    // the handler must see exactly what a decoded batch gives.
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Report_BatchHandler_GetsRowsInItsLayoutOrder_AndUnbuildableInstancesAreErrorsNamingTheField(bool decoded)
    {
        _dir.Write("config.yaml", Config);
        _runtime = await MixerRuntime.StartAsync(
            new RuntimeOptions { ConfigStoreUrl = "fs://" + _dir.Path },
            [_rows],
            NullLoggerFactory.Instance,
            CancellationToken.None);
        _runtime.Errors.ShouldBeEmpty(string.Join("\n", _runtime.Errors));

        // Delta encoded: the second set changes the code, the third adds request.size.
        var request = new ReportRequest
        {
            Attributes =
            {
                new TestAttributes().Int64("response.code", 200).String("request.method", "POST").Int64("response.size", 10).Build(),
                new TestAttributes().Int64("response.code", 503).Build(),
                new TestAttributes().Int64("request.size", 5).Build(),
            },
        };
        _runtime.HasReportRules.ShouldBeTrue();
        var bytes = Google.Protobuf.MessageExtensions.ToByteArray(request);
        var valid = decoded
            ? ReportBatch.TryCreate(bytes, out var batch, out var error)
            : ReportBatch.TryCreate(bytes.AsMemory(), decode: false, out batch, out error);
        valid.ShouldBeTrue(error);

        var outcome = await _runtime.ReportAsync(batch, CancellationToken.None);

        _rows.Rows.ShouldBe([
            "7 requests.metric.istio-system 10 [POST,200,-]",
            "-1 others.metric.istio-system 1 []",
            "7 requests.metric.istio-system 10 [POST,503,-]",
            "-1 others.metric.istio-system 1 []",
            "7 requests.metric.istio-system 10 [POST,503,-]",
            "-1 others.metric.istio-system 1 []",
            "-1 broken.metric.istio-system 5 []",
        ]);
        _rows.OneByOne.ShouldBeEmpty();
        outcome.Errors.Count.ShouldBe(2);
        outcome.Errors.ShouldAllBe(e => e.StartsWith("broken.metric.istio-system: field 'value'", StringComparison.Ordinal));
    }
}
