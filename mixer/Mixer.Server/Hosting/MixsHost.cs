using System.Net;
using System.Reflection;
using Grpc.AspNetCore.Server.Model;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Mixer.Hosting;
using Mixer.Runtime;
using Mixer.Runtime.Dispatch;
using Mixer.Server.Api;
using Prometheus;

namespace Mixer.Server.Hosting;

/// <summary>
/// mixs: the gRPC API on one listener and the monitoring endpoint on another, each its own small
/// ASP.NET Core app so neither can answer the other's routes. SIGTERM stops accepting new calls,
/// lets in-flight ones finish (up to --shutdownTimeout), then exits.
/// </summary>
internal static partial class MixsHost
{
    public static readonly string Version =
        typeof(MixsHost).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion?.Split('+')[0] ?? "0.0.0";

    public static async Task<int> RunAsync(ServerArgs args, CancellationToken stop)
    {
        if (args.ConfigStoreUrl.Length > 0)
        {
            var dir = args.ConfigStoreUrl["fs://".Length..];
            if (!Directory.Exists(dir))
            {
                await Console.Error.WriteLineAsync($"mixs: flag --configStoreURL: directory '{dir}' does not exist").ConfigureAwait(false);
                return 2;
            }
        }

        // Our own metrics only: the meter adapter would turn every ASP.NET Core and Kestrel
        // per-request instrument into Prometheus work on the hot path.
        Metrics.SuppressDefaultMetrics(new SuppressDefaultMetricOptions { SuppressMeters = true, SuppressDebugMetrics = true });

        // No exemplars: looking for a trace context on every observation costs more than the call it measures.
        Metrics.DefaultFactory.ExemplarBehavior = new ExemplarBehavior { DefaultExemplarProvider = static (_, _) => Exemplar.None };
        using var loggers = LoggerFactory.Create(b => ConfigureLogging(b, args));
        MixerRuntime runtime;
        try
        {
            runtime = await MixerRuntime.StartAsync(
                new RuntimeOptions
                {
                    ConfigStoreUrl = args.ConfigStoreUrl,
                    DefaultNamespace = args.ConfigDefaultNamespace,
                    Metrics = new PrometheusDispatchMetrics(),
                    AdapterMetrics = new PrometheusAdapterMetrics(Metrics.DefaultRegistry).ForHandler,
                    AdapterSettings = AdapterSettings(args),
                    RemoteMetrics = new PrometheusRemoteCallMetrics(),
                },
                BuiltInAdapters.Create(),
                loggers,
                stop).ConfigureAwait(false);
        }
        catch (ArgumentException e)
        {
            await Console.Error.WriteLineAsync($"mixs: flag --configStoreURL: {e.Message}").ConfigureAwait(false);
            return 2;
        }

        await using var runtimeLifetime = runtime.ConfigureAwait(false);
        var api = BuildApi(args, runtime);
        var ready = new ReadyState();
        var monitoring = BuildMonitoring(args, runtime, ready);
        var log = api.Services.GetRequiredService<ILoggerFactory>().CreateLogger("mixs");

        try
        {
            await monitoring.StartAsync(stop).ConfigureAwait(false);
            await api.StartAsync(stop).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            await Console.Error.WriteLineAsync($"mixs: cannot listen: {e.Message}").ConfigureAwait(false);
            return 1;
        }

        // One line a script (or a test fixture) can read to learn the ports, 0 having picked free ones.
        var grpcAt = string.Join(",", Addresses(api));
        var monitoringAt = string.Join(",", Addresses(monitoring));
        Console.Out.WriteLine($"mixs {Version}: serving gRPC on {grpcAt}, monitoring on {monitoringAt}");
        Console.Out.Flush();
        ready.Ready = true;
        LogStarted(log, grpcAt, monitoringAt, args.ConfigStoreUrl);

        // Wait for SIGTERM/SIGINT (the API host's lifetime) or the caller's token.
        var lifetime = api.Services.GetRequiredService<IHostApplicationLifetime>();
        using (stop.Register(lifetime.StopApplication))
        {
            await api.WaitForShutdownAsync(CancellationToken.None).ConfigureAwait(false);
        }

        ready.Ready = false;
        LogStopping(log);
        await monitoring.StopAsync(CancellationToken.None).ConfigureAwait(false);
        await api.DisposeAsync().ConfigureAwait(false);
        await monitoring.DisposeAsync().ConfigureAwait(false);
        return 0;
    }

    /// <summary>Host settings handlers read (HandlerContext.Settings).</summary>
    private static Dictionary<string, string> AdapterSettings(ServerArgs args) => new(StringComparer.Ordinal)
    {
        [Adapters.Prometheus.PrometheusAdapter.PortSetting] = args.PrometheusAdapterPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
        [Sdk.Adapters.HostSettings.ShutdownTimeout] = Sdk.GoDuration.Format(args.ShutdownTimeout),
    };

    private static WebApplication BuildApi(ServerArgs args, IDispatcher dispatcher)
    {
        var builder = WebApplication.CreateSlimBuilder();
        ConfigureLogging(builder, args);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = args.ShutdownTimeout);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.Http2.MaxStreamsPerConnection = args.MaxConcurrentStreams;
            k.Limits.MaxRequestBodySize = null;
            if (args.Address.StartsWith("unix://", StringComparison.Ordinal))
            {
                var path = args.Address["unix://".Length..];
                if (File.Exists(path))
                {
                    File.Delete(path);
                }

                k.ListenUnixSocket(path, o => o.Protocols = HttpProtocols.Http2);
            }
            else
            {
                var (ip, port) = args.Address.Length > 0 ? ParseTcp(args.Address) : (IPAddress.Loopback, args.Port);
                k.Listen(ip, port, o => o.Protocols = HttpProtocols.Http2);
            }
        });
        builder.Services.AddSingleton<MetricsInterceptor>();
        builder.Services.AddGrpc(o =>
        {
            o.MaxReceiveMessageSize = args.MaxMessageSize;
            o.MaxSendMessageSize = null;
            o.EnableDetailedErrors = false;
            o.Interceptors.Add<MetricsInterceptor>();
        });
        builder.Services.AddSingleton<IServiceMethodProvider<MixerService>, MixerMethods>();
        builder.Services.AddSingleton(dispatcher);
        builder.Services.AddSingleton(new CheckCache(args.NumCheckCacheEntries, TimeProvider.System));

        var app = builder.Build();
        app.MapGrpcService<MixerService>();
        app.MapFallback(ctx =>
        {
            ctx.Response.StatusCode = StatusCodes.Status404NotFound;
            return Task.CompletedTask;
        });
        return app;
    }

    private static WebApplication BuildMonitoring(ServerArgs args, MixerRuntime runtime, ReadyState ready)
    {
        var builder = WebApplication.CreateSlimBuilder();
        ConfigureLogging(builder, args);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Listen(IPAddress.Loopback, args.MonitoringPort, o => o.Protocols = HttpProtocols.Http1);
        });

        // The monitoring app must not react to SIGTERM on its own: it stops after the API drains.
        builder.Services.AddSingleton<IHostLifetime, NoopLifetime>();

        var generation = Metrics.CreateGauge("mixer_config_generation", "Generation of the config snapshot being served.");
        var current = Metrics.CreateGauge("mixer_config_errors", "Errors of the config change being served (resources not applied, or serving their last good version).");
        var total = Metrics.CreateCounter("mixer_config_errors_total", "Config errors found since start, by kind of resource ('file' for a whole file).", "kind");
        Metrics.DefaultRegistry.AddBeforeCollectCallback(() =>
        {
            generation.Set(runtime.Generation);
            current.Set(runtime.Errors.Count);
            foreach (var (kind, count) in runtime.ErrorCounts)
            {
                total.WithLabels(kind).IncTo(count);
            }
        });

        var app = builder.Build();
        app.UseRouting();
        app.MapMetrics("/metrics");
        app.MapGet("/version", () => Results.Json(new VersionInfo(Version, "1.0", Environment.Version.ToString()), MonitoringJson.Default.VersionInfo));
        app.MapGet("/healthz", () => Results.Text("ok\n"));
        app.MapGet("/readyz", () => ready.Ready ? Results.Text("ready\n") : Results.Text("not ready\n", statusCode: StatusCodes.Status503ServiceUnavailable));
        return app;
    }

    private static void ConfigureLogging(WebApplicationBuilder builder, ServerArgs args) => ConfigureLogging(builder.Logging, args);

    private static void ConfigureLogging(ILoggingBuilder logging, ServerArgs args)
    {
        logging.ClearProviders();
        logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
            o.UseUtcTimestamp = true;
        });
        logging.SetMinimumLevel(args.LogLevel switch
        {
            "debug" => LogLevel.Debug,
            "warn" => LogLevel.Warning,
            "error" => LogLevel.Error,
            "none" => LogLevel.None,
            _ => LogLevel.Information,
        });

        // ASP.NET Core's per-request logs are noise at info level.
        logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);

        // Hosting starts an Activity per request whenever its logger is enabled at all, for log scopes we never write.
        logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
        logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Warning);
        logging.AddFilter("Grpc", LogLevel.Warning);
    }

    private static (IPAddress, int) ParseTcp(string address)
    {
        var hostPort = address["tcp://".Length..];
        var colon = hostPort.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(hostPort[(colon + 1)..], out var port))
        {
            throw new ArgumentException($"flag --address: '{address}' must be tcp://HOST:PORT");
        }

        var host = hostPort[..colon].Trim('[', ']');
        var ip = host == "localhost" ? IPAddress.Loopback : IPAddress.Parse(host);
        return (ip, port);
    }

    private static IEnumerable<string> Addresses(WebApplication app) =>
        app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses
            .Select(a => a.Replace("http://", string.Empty, StringComparison.Ordinal)) ?? [];

    private sealed class ReadyState
    {
        public volatile bool Ready;
    }

    private sealed class NoopLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Mixer started: gRPC on {Grpc}, monitoring on {Monitoring}, config store '{Store}'")]
    private static partial void LogStarted(ILogger logger, string grpc, string monitoring, string store);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Stopping: draining in-flight calls")]
    private static partial void LogStopping(ILogger logger);
}

internal sealed record VersionInfo(string Version, string IstioApi, string Runtime);

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase)]
[System.Text.Json.Serialization.JsonSerializable(typeof(VersionInfo))]
internal sealed partial class MonitoringJson : System.Text.Json.Serialization.JsonSerializerContext;
