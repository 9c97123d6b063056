using Istio.Mixer.V1;
using Mixer.Testing;
using Wire = Istio.Mixer.Template;

namespace Mixer.Server.Tests;

/// <summary>
/// The real mixs with an out-of-process adapter (a real gRPC server on loopback): what a mesh
/// operator sees on the Mixer API and on the monitoring endpoint when the adapter is up, down,
/// and back.
/// </summary>
public sealed class RemoteAdapterMixsTests : IAsyncLifetime
{
    private readonly ConfigDir _dir = new ConfigDir().WithDefaultAttributes();
    private SpyAdapterServer _spy = null!;

    public async Task InitializeAsync()
    {
        _spy = await SpyAdapterServer.StartAsync();
        _dir.Write("remote.yaml", $$"""
            apiVersion: config.istio.io/v1alpha2
            kind: adapter
            metadata: {name: spy, namespace: istio-system}
            spec:
              description: a test adapter
              session_based: false
              templates: [listentry, metric]
            ---
            apiVersion: config.istio.io/v1alpha2
            kind: handler
            metadata: {name: h1, namespace: istio-system}
            spec:
              adapter: spy
              connection: {address: "{{_spy.Address}}"}
              params: {file_path: out.txt}
            ---
            apiVersion: config.istio.io/v1alpha2
            kind: instance
            metadata: {name: caller, namespace: istio-system}
            spec:
              template: listentry
              params:
                value: source.name | "nobody"
            ---
            apiVersion: config.istio.io/v1alpha2
            kind: instance
            metadata: {name: bytes, namespace: istio-system}
            spec:
              template: metric
              params:
                value: request.size | 0
                dimensions:
                  path: request.path | "/"
            ---
            apiVersion: config.istio.io/v1alpha2
            kind: rule
            metadata: {name: gate, namespace: istio-system}
            spec:
              actions:
              - handler: h1
                instances: [caller]
            ---
            apiVersion: config.istio.io/v1alpha2
            kind: rule
            metadata: {name: telemetry, namespace: istio-system}
            spec:
              actions:
              - handler: h1
                instances: [bytes]
            """);
    }

    public async Task DisposeAsync()
    {
        await _spy.DisposeAsync();
        _dir.Dispose();
    }

    private static CheckRequest Check(string caller) => new TestAttributes().String("source.name", caller).Check();

    private static ReportRequest Report() => new()
    {
        Attributes = { new TestAttributes().Int64("request.size", 321).String("request.path", "/upload").Build() },
    };

    [Fact]
    public async Task CheckAndReport_ReachTheAdapter_AndItsCallsAreInTheMetrics()
    {
        await using var mixs = await MixsProcess.StartAsync(_dir.Path);

        var check = await mixs.Client.CheckAsync(Check("productpage"));
        await mixs.Client.ReportAsync(Report());

        check.Precondition.Status.Code.ShouldBe(0, check.Precondition.Status.Message);
        _spy.Received<Wire.ListEntry.HandleListEntryRequest>().ShouldHaveSingleItem().Instance.Value.ShouldBe("productpage");
        await Eventually.UntilAsync(() => _spy.Received<Wire.Metric.HandleMetricRequest>().Count == 1, "the report reaches the adapter");
        var metric = _spy.Received<Wire.Metric.HandleMetricRequest>()[0].Instances.ShouldHaveSingleItem();
        metric.Value.Int64Value.ShouldBe(321);
        metric.Dimensions["path"].StringValue.ShouldBe("/upload");
        (await ScrapedMetrics.ReadAsync(mixs.MonitoringUrl, "mixer_remote_adapter_calls_total", "handler=\"h1.handler.istio-system\"", "adapter=\"spy\"", "template=\"listentry\"", "code=\"OK\"")).ShouldBe(1);
        await Eventually.UntilAsync(
            async () => await ScrapedMetrics.ReadAsync(mixs.MonitoringUrl, "mixer_remote_adapter_calls_total", "template=\"metric\"", "code=\"OK\"") == 1,
            "the metric call is counted");
        (await ScrapedMetrics.ReadAsync(mixs.MonitoringUrl, "mixer_remote_adapter_call_duration_seconds_count", "template=\"listentry\"")).ShouldBe(1);
    }

    [Fact]
    public async Task AdapterDown_CheckFailsNamingIt_ReportIsCountedFailed_MixsKeepsServing_AndRecovers()
    {
        await _spy.StopListeningAsync();
        await using var mixs = await MixsProcess.StartAsync(_dir.Path);

        var down = await mixs.Client.CheckAsync(Check("productpage"));
        var report = await Should.ThrowAsync<Grpc.Core.RpcException>(async () => await mixs.Client.ReportAsync(Report()));

        // Istio 1.0: a Report whose dispatch failed answers UNKNOWN with what failed.
        report.StatusCode.ShouldBe(Grpc.Core.StatusCode.Unknown);
        report.Status.Detail.ShouldContain($"h1.handler.istio-system: adapter 'spy' at {_spy.Address} is unavailable");

        down.Precondition.Status.Code.ShouldBe(14);
        down.Precondition.Status.Message.ShouldContain("h1.handler.istio-system");
        down.Precondition.Status.Message.ShouldContain($"adapter 'spy' at {_spy.Address}");
        mixs.IsRunning.ShouldBeTrue();
        await Eventually.UntilAsync(
            async () => await ScrapedMetrics.ReadAsync(mixs.MonitoringUrl, "mixer_runtime_dispatch_count", "handler=\"h1.handler.istio-system\"", "error=\"true\"") >= 2,
            "the failed check and report are counted as failed dispatches");
        (await ScrapedMetrics.ReadAsync(mixs.MonitoringUrl, "mixer_remote_adapter_calls_total", "template=\"listentry\"", "code=\"UNAVAILABLE\"")).ShouldBe(1);
        (await ScrapedMetrics.ReadAsync(mixs.MonitoringUrl, "mixer_remote_adapter_retries_total", "template=\"listentry\"")).ShouldBeGreaterThan(0);

        await _spy.StartListeningAsync();
        await Eventually.UntilAsync(
            async () => (await mixs.Client.CheckAsync(Check("reviews"))).Precondition.Status.Code == 0,
            "Check succeeds once the adapter is up");
        _spy.Received<Wire.ListEntry.HandleListEntryRequest>().ShouldNotBeEmpty();
    }
}
