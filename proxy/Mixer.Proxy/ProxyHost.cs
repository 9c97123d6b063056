using System.Diagnostics;
using System.Net;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Mixer.Client;
using Yarp.ReverseProxy.Forwarder;

namespace Mixer.Proxy;

/// <summary>A started sidecar: where each listener and the admin endpoint ended up listening.</summary>
internal sealed class RunningProxy(WebApplication app, MixerClient? mixer, GrpcChannel? channel, IReadOnlyDictionary<string, ListenOptions> listeners, ListenOptions? admin) : IAsyncDisposable
{
    public MixerClient? Mixer => mixer;

    /// <summary>The bound address of listener <paramref name="name"/> (its real port when 0 was asked).</summary>
    public IPEndPoint Endpoint(string name) => listeners[name].IPEndPoint!;

    /// <summary>http://host:port of the admin endpoint, or null.</summary>
    public string? AdminUrl => admin is null ? null : "http://" + admin.IPEndPoint;

    public Task WaitForShutdownAsync() => app.WaitForShutdownAsync();

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync().ConfigureAwait(false);
        if (mixer is not null)
        {
            // Send what is still queued before the channel goes.
            await mixer.DisposeAsync().ConfigureAwait(false);
        }

        channel?.Dispose();
        await app.DisposeAsync().ConfigureAwait(false);
    }
}

/// <summary>Builds the sidecar from its config: Kestrel listeners on loopback, YARP's forwarder, the Mixer client.</summary>
internal static class ProxyHost
{
    private const string ListenerKey = "mixer-proxy.listener";

    public static async Task<RunningProxy> StartAsync(ProxyConfig config, Action<ILoggingBuilder>? logging = null)
    {
        config.Validate();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        if (logging is null)
        {
            builder.Logging.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning);
        }
        else
        {
            logging(builder.Logging);
        }

        // ASP.NET Core's hosting starts an Activity (and the forwarder's HttpClient a child one) for
        // every request whenever its diagnostics logger is enabled at any level. The sidecar forwards
        // trace headers untouched and logs nothing per request, so that work is pure cost: off.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);

        builder.Services.AddHttpForwarder();
        var metrics = new ProxyMetrics();
        GrpcChannel? channel = null;
        MixerClient? mixer = null;
        if (config.Check || config.Report)
        {
            channel = GrpcChannel.ForAddress("http://" + config.Mixer, new GrpcChannelOptions
            {
                HttpHandler = new SocketsHttpHandler
                {
                    EnableMultipleHttp2Connections = true,
                    KeepAlivePingDelay = TimeSpan.FromSeconds(30),
                    ConnectTimeout = TimeSpan.FromSeconds(2),
                    ActivityHeadersPropagator = DistributedContextPropagator.CreateNoOutputPropagator(),
                },
            });
            mixer = new MixerClient(channel.CreateCallInvoker(), new MixerClientOptions
            {
                NetworkFailPolicy = config.FailPolicy,
                CheckCacheEntries = config.CheckCache.MaxEntries,
                QuotaCache = config.QuotaCache,
                CheckTimeout = TimeSpan.FromMilliseconds(config.CheckTimeoutMs),
                ReportBatch = new ReportBatchOptions
                {
                    MaxSetsPerBatch = config.ReportBatch.MaxEntries,
                    MaxDelay = TimeSpan.FromMilliseconds(config.ReportBatch.MaxDelayMs),
                    MaxPendingSets = config.ReportBatch.MaxPending,
                },
            });
        }

        var invoker = new HttpMessageInvoker(new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            EnableMultipleHttp2Connections = true,
            ActivityHeadersPropagator = DistributedContextPropagator.CreateNoOutputPropagator(),
            ConnectTimeout = TimeSpan.FromSeconds(15),
        });

        var bound = new Dictionary<string, ListenOptions>(StringComparer.Ordinal);
        ListenOptions? admin = null;
        var sidecars = new List<object>();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            var loggerFactory = k.ApplicationServices.GetRequiredService<ILoggerFactory>();
            var forwarder = k.ApplicationServices.GetRequiredService<IHttpForwarder>();
            foreach (var l in config.Listeners)
            {
                var endpoint = Mixer.Proxy.Endpoint.Parse(l.Listen);
                if (l.IsTcp)
                {
                    var tcp = new TcpSidecar(config, l, mixer, metrics, loggerFactory.CreateLogger<TcpSidecar>())
                    {
                        ReportInterval = TimeSpan.FromMilliseconds(config.TcpReportIntervalMs),
                    };
                    k.Listen(endpoint, o =>
                    {
                        bound[l.Name] = o;
                        o.Run(tcp.HandleAsync);
                    });
                }
                else
                {
                    var http = new HttpSidecar(config, l, mixer, forwarder, invoker, metrics, loggerFactory.CreateLogger<HttpSidecar>());
                    k.Listen(endpoint, o =>
                    {
                        bound[l.Name] = o;
                        // Cleartext: HTTP/1.1, or HTTP/2 with prior knowledge (gRPC), one per listener.
                        o.Protocols = l.Protocol == "http2" ? HttpProtocols.Http2 : HttpProtocols.Http1;
                        o.Use(next => connection =>
                        {
                            connection.Items[ListenerKey] = new SidecarConnection(http);
                            return next(connection);
                        });
                    });
                }
            }

            if (config.Admin.Length > 0)
            {
                k.Listen(Mixer.Proxy.Endpoint.Parse(config.Admin), o => admin = o);
            }
        });

        var app = builder.Build();
        app.Run(context =>
        {
            var items = context.Features.Get<IConnectionItemsFeature>()?.Items;
            if (items is not null && items.TryGetValue(ListenerKey, out var sidecar) && sidecar is SidecarConnection connection)
            {
                return connection.Sidecar.HandleAsync(context, connection);
            }

            return AdminAsync(context, metrics, mixer);
        });
        await app.StartAsync().ConfigureAwait(false);
        return new RunningProxy(app, mixer, channel, bound, admin);
    }

    private static Task AdminAsync(HttpContext context, ProxyMetrics metrics, MixerClient? mixer)
    {
        switch (context.Request.Path.Value)
        {
            case "/metrics":
                context.Response.ContentType = "text/plain; version=0.0.4";
                return context.Response.WriteAsync(metrics.Render(mixer));
            case "/healthz":
                return context.Response.WriteAsync("ok\n");
            default:
                context.Response.StatusCode = 404;
                return Task.CompletedTask;
        }
    }
}
