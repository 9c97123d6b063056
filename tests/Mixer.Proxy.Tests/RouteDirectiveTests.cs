using System.Net;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Istio.Mixer.V1;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using HeaderOp = Istio.Mixer.V1.HeaderOperation.Types.Operation;

namespace Mixer.Proxy.Tests;

/// <summary>
/// A Mixer on loopback that answers every Check OK with a direct response (Istio 1.0's mixs never
/// sets one, but its proxy honours it): the sidecar answers itself and the backend is not called.
/// </summary>
public sealed class RouteDirectiveTests : IAsyncLifetime
{
    private WebApplication _mixer = null!;
    private EchoBackend _backend = null!;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        _mixer = builder.Build();
        _mixer.MapGrpcService<RedirectingMixer>();
        await _mixer.StartAsync();
        _backend = await EchoBackend.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _mixer.DisposeAsync();
        await _backend.DisposeAsync();
    }

    [Fact]
    public async Task DirectResponse_FromMixer_IsAnsweredBySidecarWithItsCodeBodyAndHeaders()
    {
        var mixer = new Uri(_mixer.Urls.First()).Authority;
        var config = ProxyConfig.FromArgs(["--mixer", mixer, "--service", "a.svc", "--inbound", $"127.0.0.1:0={_backend.Address}"]);
        config.CheckTimeoutMs = 10_000; // a busy test machine must not make the sidecar fail open
        await using var proxy = await ProxyHost.StartAsync(config);
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false });

        using var response = await http.GetAsync($"http://{proxy.Endpoint(config.Listeners[0].Name)}/old");

        response.StatusCode.ShouldBe(HttpStatusCode.Redirect);
        response.Headers.Location!.ToString().ShouldBe("/new");
        (await response.Content.ReadAsStringAsync()).ShouldBe("moved");
        response.Headers.Contains("x-backend").ShouldBeFalse();
    }

    private sealed class RedirectingMixer : Istio.Mixer.V1.Mixer.MixerBase
    {
        public override Task<CheckResponse> Check(CheckRequest request, ServerCallContext context)
        {
            var directive = new RouteDirective { DirectResponseCode = 302, DirectResponseBody = "moved" };
            directive.ResponseHeaderOperations.Add(new HeaderOperation { Name = "location", Value = "/new", Operation = HeaderOp.Replace });
            return Task.FromResult(new CheckResponse
            {
                Precondition = new CheckResponse.Types.PreconditionResult
                {
                    Status = new Google.Rpc.Status(),
                    ValidDuration = Duration.FromTimeSpan(TimeSpan.FromMinutes(1)),
                    ValidUseCount = 100,
                    RouteDirective = directive,
                },
            });
        }

        public override Task<ReportResponse> Report(ReportRequest request, ServerCallContext context) => Task.FromResult(new ReportResponse());
    }
}
