using System.Net;
using Grpc.Core;
using Istio.Mixer.V1;

namespace Mixer.Server.Tests;

public sealed class MonitoringTests(MixsFixture fixture) : IClassFixture<MixsFixture>
{
    private static readonly HttpClient s_http = new();

    [Fact]
    public async Task Metrics_AfterCalls_CountsThemByMethodAndStatus()
    {
        var client = fixture.Mixs.Client;
        await client.CheckAsync(new CheckRequest { Attributes = new CompressedAttributes() });
        await client.ReportAsync(new ReportRequest { Attributes = { new CompressedAttributes() } });
        var bad = new CheckRequest { Attributes = new CompressedAttributes { Strings = { [-42] = 0 } } };
        await Should.ThrowAsync<RpcException>(async () => await client.CheckAsync(bad));

        var metrics = await s_http.GetStringAsync(fixture.Mixs.MonitoringUrl + "/metrics");

        metrics.ShouldContain("grpc_server_handled_total{grpc_type=\"unary\",grpc_service=\"istio.mixer.v1.Mixer\",grpc_method=\"Check\",grpc_code=\"OK\"}");
        metrics.ShouldContain("grpc_server_handled_total{grpc_type=\"unary\",grpc_service=\"istio.mixer.v1.Mixer\",grpc_method=\"Check\",grpc_code=\"InvalidArgument\"}");
        metrics.ShouldContain("grpc_server_handled_total{grpc_type=\"unary\",grpc_service=\"istio.mixer.v1.Mixer\",grpc_method=\"Report\",grpc_code=\"OK\"}");
        metrics.ShouldContain("grpc_server_handling_seconds_bucket{grpc_type=\"unary\",grpc_service=\"istio.mixer.v1.Mixer\",grpc_method=\"Check\"");
        metrics.ShouldContain("mixer_config_generation 1");
    }

    [Fact]
    public async Task Version_ReportsVersionAndApi()
    {
        var version = await s_http.GetStringAsync(fixture.Mixs.MonitoringUrl + "/version");

        version.ShouldContain("\"version\":\"0.1.0\"");
        version.ShouldContain("\"istioApi\":\"1.0\"");
    }

    [Theory]
    [InlineData("/healthz")]
    [InlineData("/readyz")]
    public async Task Probes_WhileServing_AreOk(string path)
    {
        using var response = await s_http.GetAsync(fixture.Mixs.MonitoringUrl + path);

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task GrpcPort_DoesNotServeMonitoringRoutes()
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://{fixture.Mixs.GrpcAddress}/metrics")
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };

        using var response = await http.SendAsync(request);

        response.StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }
}
