using System.Net;
using System.Net.Sockets;
using Mixer.Testing;

namespace Mixer.Cli.Tests;

/// <summary>Runs mixc in-process, exactly as its entry point does, over captured writers.</summary>
internal static class MixcRunner
{
    public static async Task<(int Code, string Out, string Err)> RunAsync(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = await Mixc.RunAsync(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>A loopback address nothing listens on (a port just freed).</summary>
    public static string UnusedAddress()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return $"127.0.0.1:{port}";
    }

    public static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToArray();
}

/// <summary>One real mixs process (empty config) shared by the tests of a class.</summary>
public sealed class MixsFixture : IAsyncLifetime
{
    public MixsProcess Mixs { get; private set; } = null!;

    public async Task InitializeAsync() => Mixs = await MixsProcess.StartAsync();

    public async Task DisposeAsync() => await Mixs.DisposeAsync();
}
