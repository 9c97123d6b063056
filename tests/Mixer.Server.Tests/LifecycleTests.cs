using System.Diagnostics;
using Grpc.Core;
using Istio.Mixer.V1;
using Mixer.Testing;

namespace Mixer.Server.Tests;

public sealed class LifecycleTests
{
    [Fact]
    public async Task Sigterm_WithCallsInFlight_FinishesThemAndExitsZero()
    {
        var mixs = await MixsProcess.StartAsync();
        await using var _ = mixs;
        var client = mixs.Client;
        await client.CheckAsync(new CheckRequest());

        var calls = Enumerable.Range(0, 200).Select(async _ =>
        {
            try
            {
                var r = await client.CheckAsync(new CheckRequest { Attributes = new CompressedAttributes() });
                return r.Precondition.Status.Code == 0 ? "ok" : "denied";
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable)
            {
                // Sent after the listener closed: refused, never half-done.
                return "unavailable";
            }
        }).ToList();
        var exit = await mixs.StopAsync();
        var outcomes = await Task.WhenAll(calls);

        exit.ShouldBe(0, mixs.Output);
        outcomes.ShouldAllBe(o => o == "ok" || o == "unavailable");
        outcomes.ShouldContain("ok");
        mixs.Output.ShouldContain("draining in-flight calls");
    }

    [Theory]
    [InlineData("--port", "http", "flag --port: 'http' is not a whole number")]
    [InlineData("--bogus", "1", "unknown flag --bogus")]
    [InlineData("--prometheusAdapterPort", "0", "flag --prometheusAdapterPort: '0' is not a whole number from 1 to 65535")]
    [InlineData("--configStoreURL", "k8s://", "flag --configStoreURL: 'k8s://' is not supported")]
    [InlineData("--address", "127.0.0.1:9", "flag --address: '127.0.0.1:9' must be tcp://HOST:PORT or unix:///PATH")]
    [InlineData("--configStoreURL", "fs:///no/such/dir", "directory '/no/such/dir' does not exist")]
    public async Task Server_BadFlag_ExitsNonZeroNamingIt(string flag, string value, string message)
    {
        var (exit, output) = await RunMixsAsync("server", flag, value);

        exit.ShouldNotBe(0);
        output.ShouldContain(message);
    }

    [Fact]
    public async Task ServerHelp_ShowsAnExampleAndFlags()
    {
        var (exit, output) = await RunMixsAsync("server", "--help");

        exit.ShouldBe(0);
        output.ShouldContain("mixs server --port 9091 --monitoringPort 9093 --configStoreURL");
        output.ShouldContain("--maxMessageSize");
        output.ShouldContain("--prometheusAdapterPort int    HTTP port of the prometheus adapter's /metrics, on 127.0.0.1 (default 42422)");
    }

    [Fact]
    public async Task Address_TcpForm_IsWhereItListens()
    {
        var port = FreePort();
        var mixs = await MixsProcess.StartAsync(extraArgs: ["--address", $"tcp://127.0.0.1:{port}"]);
        await using var _ = mixs;

        mixs.GrpcAddress.ShouldBe($"127.0.0.1:{port}");
        (await mixs.Client.CheckAsync(new CheckRequest())).Precondition.Status.Code.ShouldBe(0);
    }

    private static int FreePort()
    {
        using var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        l.Start();
        return ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
    }

    private static async Task<(int Exit, string Output)> RunMixsAsync(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(MixsProcess.MixsDll);
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        return (p.ExitCode, await stdout + await stderr);
    }
}
