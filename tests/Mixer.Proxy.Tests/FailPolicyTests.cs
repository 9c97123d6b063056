using System.Net;
using System.Net.Sockets;

namespace Mixer.Proxy.Tests;

/// <summary>Mixer unreachable: Istio's network_fail_policy decides what the client sees.</summary>
public sealed class FailPolicyTests : IAsyncLifetime
{
    private EchoBackend _backend = null!;

    public async Task InitializeAsync() => _backend = await EchoBackend.StartAsync();

    public async Task DisposeAsync() => await _backend.DisposeAsync();

    private static string ClosedPort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var address = l.LocalEndpoint.ToString()!;
        l.Stop();
        return address;
    }

    private async Task<HttpResponseMessage> ThroughProxyAsync(string policy)
    {
        var config = ProxyConfig.FromArgs(["--mixer", ClosedPort(), "--policy", policy, "--service", "a.svc", "--inbound", $"127.0.0.1:0={_backend.Address}"]);
        await using var proxy = await ProxyHost.StartAsync(config);
        using var http = new HttpClient();
        var response = await http.GetAsync($"http://{proxy.Endpoint(config.Listeners[0].Name)}/");
        await response.Content.LoadIntoBufferAsync();
        return response;
    }

    [Fact]
    public async Task MixerUnreachable_FailOpen_RequestReachesTheBackend()
    {
        using var response = await ThroughProxyAsync("FAIL_OPEN");

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        response.Headers.GetValues("x-backend").ShouldBe(["yes"]);
    }

    [Fact]
    public async Task MixerUnreachable_FailClose_IsRefusedWithTheTransportStatus()
    {
        using var response = await ThroughProxyAsync("FAIL_CLOSE");

        // Refused connections are UNAVAILABLE (503); on a loaded machine the attempt can run into the
        // Check deadline first, DEADLINE_EXCEEDED (504). Either way the request must not pass.
        var body = await response.Content.ReadAsStringAsync();
        if (response.StatusCode == HttpStatusCode.GatewayTimeout)
        {
            body.ShouldStartWith("DEADLINE_EXCEEDED:");
        }
        else
        {
            response.StatusCode.ShouldBe(HttpStatusCode.ServiceUnavailable);
            body.ShouldStartWith("UNAVAILABLE:");
        }

        response.Headers.Contains("x-backend").ShouldBeFalse();
    }
}
