using System.Collections.Concurrent;
using System.Net;
using Grpc.Core;
using Istio.Mixer.V1;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mixer.Cli.Tests;

/// <summary>
/// A loopback stand-in for Mixer that answers Check with a scripted response and keeps every
/// request. The real mixs serves only the empty config in this branch (it never denies, never
/// grants short, references nothing), so mixc's handling of those answers is tested against this.
/// </summary>
public sealed class ScriptedMixer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private ScriptedMixer(WebApplication app, Answers script)
    {
        _app = app;
        Script = script;
    }

    public Answers Script { get; }

    public string Address { get; private set; } = "";

    public static async Task<ScriptedMixer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(o => o.Listen(IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http2));
        var script = new Answers();
        builder.Services.AddSingleton(script);
        builder.Services.AddGrpc();
        var app = builder.Build();
        app.MapGrpcService<Service>();
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new ScriptedMixer(app, script) { Address = new Uri(address).Authority };
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    public sealed class Answers
    {
        public CheckResponse CheckResponse { get; set; } = new();

        public ConcurrentQueue<CheckRequest> Checks { get; } = new();

        public ConcurrentQueue<ReportRequest> Reports { get; } = new();
    }

    private sealed class Service(Answers script) : Istio.Mixer.V1.Mixer.MixerBase
    {
        public override Task<CheckResponse> Check(CheckRequest request, ServerCallContext context)
        {
            script.Checks.Enqueue(request);
            return Task.FromResult(script.CheckResponse);
        }

        public override Task<ReportResponse> Report(ReportRequest request, ServerCallContext context)
        {
            script.Reports.Enqueue(request);
            return Task.FromResult(new ReportResponse());
        }
    }
}
