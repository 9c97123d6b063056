using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace Mixer.Adapters.Prometheus;

/// <summary>
/// The adapter's own HTTP endpoint, <c>/metrics</c> on 127.0.0.1:<c>port</c> (Istio: 42422), one
/// for all prometheus handlers. It starts with the first handler and stops when the last closes.
/// </summary>
#pragma warning disable CA1001 // The gate lives as long as the adapter, i.e. the process.
internal sealed class ScrapeEndpoint(MetricTable table)
#pragma warning restore CA1001
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private WebApplication? _app;
    private int _users;

    /// <summary>The address being served, e.g. <c>127.0.0.1:42422</c>; empty when stopped.</summary>
    public string Address { get; private set; } = string.Empty;

    public async Task AcquireAsync(int port, ILogger logger, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_app is null)
            {
                var builder = WebApplication.CreateSlimBuilder();
                builder.Logging.ClearProviders();
                builder.WebHost.ConfigureKestrel(k =>
                {
                    k.AddServerHeader = false;
                    k.Listen(IPAddress.Loopback, port, o => o.Protocols = HttpProtocols.Http1);
                });
                var app = builder.Build();
                app.MapGet("/metrics", ServeAsync);
                try
                {
                    await app.StartAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (e is IOException or InvalidOperationException)
                {
                    await app.DisposeAsync().ConfigureAwait(false);
                    throw new InvalidOperationException($"cannot serve /metrics on 127.0.0.1:{port}: {e.Message}", e);
                }

                _app = app;
                Address = app.Urls.FirstOrDefault()?.Replace("http://", string.Empty, StringComparison.Ordinal) ?? $"127.0.0.1:{port}";
                PrometheusLog.Serving(logger, Address);
            }

            _users++;
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task ReleaseAsync()
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (--_users == 0 && _app is not null)
            {
                await _app.StopAsync().ConfigureAwait(false);
                await _app.DisposeAsync().ConfigureAwait(false);
                _app = null;
                Address = string.Empty;
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task ServeAsync(HttpContext context)
    {
        context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
        foreach (var family in table.Exported())
        {
            await family.Registry.CollectAndExportAsTextAsync(context.Response.Body, context.RequestAborted).ConfigureAwait(false);
        }
    }
}

internal static partial class PrometheusLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "prometheus adapter: serving /metrics on {Address}")]
    public static partial void Serving(ILogger logger, string address);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "prometheus handler {Handler}: could not record: {Error}")]
    public static partial void RecordFailed(ILogger logger, string handler, string error);

    [LoggerMessage(EventId = 3, Level = LogLevel.Debug, Message = "prometheus handler {Handler}: {Count} label sets expired")]
    public static partial void Expired(ILogger logger, string handler, int count);
}
