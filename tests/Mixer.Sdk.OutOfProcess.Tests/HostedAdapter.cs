using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;

namespace Mixer.Sdk.OutOfProcess.Tests;

/// <summary>An adapter served by <see cref="AdapterHost"/> on a free loopback port, with a real gRPC channel to it.</summary>
internal sealed class HostedAdapter : IAsyncDisposable
{
    private HostedAdapter(RunningAdapter running, GrpcChannel channel)
    {
        Running = running;
        Channel = channel;
    }

    public RunningAdapter Running { get; }

    public GrpcChannel Channel { get; }

    public static async Task<HostedAdapter> StartAsync(Mixer.Sdk.Adapters.IAdapter adapter, Action<AdapterHostOptions>? configure = null)
    {
        var options = new AdapterHostOptions { Address = "127.0.0.1:0", MinimumLogLevel = LogLevel.Warning };
        configure?.Invoke(options);
        var running = await AdapterHost.StartAsync(adapter, options);
        return new HostedAdapter(running, GrpcChannel.ForAddress("http://" + running.Address));
    }

    /// <summary>Handler params as mixs sends them: the YAML params as a google.protobuf.Struct in an Any.</summary>
    public static Any Params(string json) => Any.Pack(Struct.Parser.ParseJson(json));

    /// <summary>A session reference as a Handle call's adapter_config.</summary>
    public static Any Session(string id) => Any.Pack(new StringValue { Value = id });

    public static Any Typed(IMessage message) => Any.Pack(message);

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        await Running.DisposeAsync();
    }
}
