using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Mixer.Proxy.Tests;

/// <summary>
/// The sample application behind the sidecar, on a free loopback port: answers every request 200
/// with a JSON echo of what it received (method, path, headers, body length) and an <c>x-backend</c> header.
/// </summary>
public sealed class EchoBackend : IAsyncDisposable
{
    private readonly WebApplication _app;

    private EchoBackend(WebApplication app) => _app = app;

    public string Address { get; private set; } = "";

    public static async Task<EchoBackend> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        app.Run(async context =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            var echo = new Echo(
                context.Request.Method,
                context.Request.Path.Value + context.Request.QueryString.Value,
                context.Request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString()),
                body.Length);
            context.Response.Headers["x-backend"] = "yes";
            context.Response.ContentType = "application/json";
            var bytes = JsonSerializer.SerializeToUtf8Bytes(echo);
            if (context.Request.Path.StartsWithSegments("/sized", StringComparison.Ordinal))
            {
                // A declared length (the other paths answer chunked).
                context.Response.ContentLength = bytes.Length;
            }

            await context.Response.Body.WriteAsync(bytes);
        });
        await app.StartAsync();
        var backend = new EchoBackend(app) { Address = new Uri(app.Urls.First()).Authority };
        return backend;
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();
}

/// <summary>What <see cref="EchoBackend"/> saw.</summary>
public sealed record Echo(string Method, string Path, Dictionary<string, string> Headers, long BodyBytes);

/// <summary>A TCP server on a free loopback port that sends back every byte it receives.</summary>
public sealed class TcpEcho : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();

    public TcpEcho()
    {
        _listener.Start();
        _ = AcceptAsync();
    }

    public string Address => _listener.LocalEndpoint.ToString()!;

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                _ = Task.Run(async () =>
                {
                    using (client)
                    {
                        var stream = client.GetStream();
                        var buffer = new byte[4096];
                        int n;
                        try
                        {
                            while ((n = await stream.ReadAsync(buffer, _stop.Token)) > 0)
                            {
                                await stream.WriteAsync(buffer.AsMemory(0, n), _stop.Token);
                            }
                        }
                        catch (Exception e) when (e is IOException or OperationCanceledException)
                        {
                        }
                    }
                });
            }
        }
        catch (Exception e) when (e is ObjectDisposedException or OperationCanceledException or SocketException)
        {
        }
    }
}
