using Istio.Mixer.V1;
using Mixer.Testing;

namespace Mixer.IntegrationTests;

/// <summary>Report through the real mixs: every attribute set of a batch runs the matching report rules.</summary>
public sealed class ReportTests : IAsyncLifetime
{
    private readonly ConfigDir _config = new ConfigDir().WithDefaultAttributes();
    private readonly string _log = Path.Combine(Path.GetTempPath(), "mixer-report-" + Guid.NewGuid().ToString("N") + ".log");
    private MixsProcess _mixs = null!;

    public async Task InitializeAsync()
    {
        _config.Write("stdio.yaml", $$"""
            apiVersion: config.istio.io/v1alpha2
            kind: stdio
            metadata: {name: handler, namespace: istio-system}
            spec:
              outputAsJson: true
              logStream: FILE
              outputPath: {{_log}}
            ---
            apiVersion: config.istio.io/v1alpha2
            kind: logentry
            metadata: {name: accesslog, namespace: istio-system}
            spec:
              severity: '"Info"'
              timestamp: request.time | timestamp("2018-07-31T12:00:00Z")
              variables:
                responseCode: response.code | 0
                path: request.path | ""
                latency: response.duration | "0ms"
              monitored_resource_type: '"global"'
            ---
            apiVersion: config.istio.io/v1alpha2
            kind: rule
            metadata: {name: stdio, namespace: istio-system}
            spec:
              match: context.protocol == "http"
              actions:
              - handler: handler.stdio
                instances: [accesslog.logentry]
            """);
        _mixs = await MixsProcess.StartAsync(_config.Path);
    }

    public async Task DisposeAsync()
    {
        await _mixs.DisposeAsync();
        _config.Dispose();
        File.Delete(_log);
    }

    private async Task<string[]> LinesAsync(int expected)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            var lines = File.Exists(_log) ? await File.ReadAllLinesAsync(_log) : [];
            if (lines.Length >= expected || DateTime.UtcNow > deadline)
            {
                return lines;
            }

            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task Report_DeltaEncodedBatch_LogsEveryMatchingAttributeSet()
    {
        // Set 0 is whole; sets 1 and 2 are deltas on it (Istio 1.0's only encoding); set 2 is tcp and does not match.
        var request = new ReportRequest
        {
            Attributes =
            {
                new TestAttributes().String("context.protocol", "http").String("request.path", "/a").Int64("response.code", 200).Build(),
                new TestAttributes().String("request.path", "/b").Int64("response.code", 503).Build(),
                new TestAttributes().String("context.protocol", "tcp").Build(),
            },
        };

        await _mixs.Client.ReportAsync(request);

        var lines = await LinesAsync(2);
        lines.Length.ShouldBe(2, string.Join("\n", lines));
        lines[0].ShouldContain("\"path\":\"/a\"");
        lines[0].ShouldContain("\"responseCode\":200");
        lines[1].ShouldContain("\"path\":\"/b\"");
        lines[1].ShouldContain("\"responseCode\":503");
        lines.ShouldAllBe(l => l.Contains("accesslog.logentry.istio-system"));
    }

    [Fact]
    public async Task Report_InvalidWordIndex_IsInvalidArgument_AndNothingIsLogged()
    {
        var request = new ReportRequest { Attributes = { new CompressedAttributes { Strings = { [-7] = -8 } } } };

        var e = await Should.ThrowAsync<Grpc.Core.RpcException>(async () => await _mixs.Client.ReportAsync(request));

        e.StatusCode.ShouldBe(Grpc.Core.StatusCode.InvalidArgument);
        e.Status.Detail.ShouldContain("attributes[0]");
        (await _mixs.Client.CheckAsync(new TestAttributes().Check())).Precondition.Status.Code.ShouldBe(0);
    }
}
