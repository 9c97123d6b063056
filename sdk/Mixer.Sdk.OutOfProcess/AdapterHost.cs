using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Mixer.Sdk.Adapters;

namespace Mixer.Sdk.OutOfProcess;

/// <summary>
/// Serves an <see cref="IAdapter"/> in its own process over Istio 1.0's out-of-process adapter
/// protocol (<c>istio.mixer.adapter.model.v1beta1</c>): <c>InfrastructureBackend</c> and the
/// <c>Handle&lt;Template&gt;Service</c> of every template the adapter's
/// <see cref="AdapterInfo.SupportedTemplates"/> names. Mixer (Mixer.NET's mixs, or Istio 1.0's)
/// reaches it through a <c>handler</c> whose <c>connection.address</c> is this process.
/// </summary>
/// <example>
/// <code>
/// return await AdapterHost.RunAsync&lt;MyAdapter&gt;(args);
/// </code>
/// Then <c>dotnet run -- --port 45678</c>; the process prints
/// <c>myadapter adapter: serving gRPC on 127.0.0.1:45678</c> and serves until SIGTERM or Ctrl+C.
/// </example>
public static class AdapterHost
{
    /// <summary>Template name → how its service is mapped; the templates an out-of-process adapter can serve.</summary>
    private static readonly Dictionary<string, Action<IEndpointRouteBuilder>> s_services = new(StringComparer.Ordinal)
    {
        ["metric"] = e => e.MapGrpcService<MetricService>(),
        ["logentry"] = e => e.MapGrpcService<LogEntryService>(),
        ["tracespan"] = e => e.MapGrpcService<TraceSpanService>(),
        ["reportnothing"] = e => e.MapGrpcService<ReportNothingService>(),
        ["listentry"] = e => e.MapGrpcService<ListEntryService>(),
        ["checknothing"] = e => e.MapGrpcService<CheckNothingService>(),
        ["authorization"] = e => e.MapGrpcService<AuthorizationService>(),
        ["apikey"] = e => e.MapGrpcService<ApiKeyService>(),
        ["quota"] = e => e.MapGrpcService<QuotaService>(),
    };

    /// <summary>The templates an out-of-process adapter can serve.</summary>
    public static IReadOnlyCollection<string> Templates => s_services.Keys;

    /// <summary>
    /// Serves a new <typeparamref name="TAdapter"/> with options read from <paramref name="args"/>
    /// until SIGTERM or Ctrl+C; returns the process exit code (0 after a clean stop, 2 for bad
    /// arguments, 1 when it cannot listen).
    /// </summary>
    public static int Run<TAdapter>(string[] args)
        where TAdapter : IAdapter, new() => RunAsync(new TAdapter(), args).GetAwaiter().GetResult();

    /// <inheritdoc cref="Run{TAdapter}(string[])"/>
    public static Task<int> RunAsync<TAdapter>(string[] args, CancellationToken cancellationToken = default)
        where TAdapter : IAdapter, new() => RunAsync(new TAdapter(), args, cancellationToken);

    /// <summary>Serves <paramref name="adapter"/> with options read from <paramref name="args"/>; see <see cref="Run{TAdapter}(string[])"/>.</summary>
    public static Task<int> RunAsync(IAdapter adapter, string[] args, CancellationToken cancellationToken = default) =>
        RunAsync(adapter, args, configure: null, cancellationToken);

    /// <summary>
    /// Serves <paramref name="adapter"/> with options read from <paramref name="args"/> and then
    /// adjusted by <paramref name="configure"/> (e.g. to set <see cref="AdapterHostOptions.ParamsDescriptor"/>).
    /// </summary>
    public static async Task<int> RunAsync(IAdapter adapter, string[] args, Action<AdapterHostOptions>? configure, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(adapter);
        ArgumentNullException.ThrowIfNull(args);
        var name = adapter.Info.Name;
        var options = new AdapterHostOptions();
        var parsed = HostArgs.Apply(args, options);
        if (parsed.Help)
        {
            await Console.Out.WriteLineAsync(HostArgs.Usage(name)).ConfigureAwait(false);
            return 0;
        }

        if (parsed.Error is { } error)
        {
            await Console.Error.WriteLineAsync($"{name}: {error}\n\n{HostArgs.Usage(name)}").ConfigureAwait(false);
            return 2;
        }

        configure?.Invoke(options);
        RunningAdapter running;
        try
        {
            running = await StartAsync(adapter, options, cancellationToken).ConfigureAwait(false);
        }
        catch (ArgumentException e)
        {
            await Console.Error.WriteLineAsync($"{name}: {e.Message}").ConfigureAwait(false);
            return 2;
        }
        catch (IOException e)
        {
            await Console.Error.WriteLineAsync($"{name}: cannot listen on {options.Address}: {e.Message}").ConfigureAwait(false);
            return 1;
        }

        await using (running.ConfigureAwait(false))
        {
            // One line a script (or a test fixture) can read to learn the port, 0 having picked a free one.
            await Console.Out.WriteLineAsync($"{name} adapter: serving gRPC on {running.Address}").ConfigureAwait(false);
            await Console.Out.FlushAsync(cancellationToken).ConfigureAwait(false);
            await running.WaitForShutdownAsync(cancellationToken).ConfigureAwait(false);
        }

        return 0;
    }

    /// <summary>
    /// Starts serving <paramref name="adapter"/> and returns once it listens; the result says where
    /// and stops it when disposed. For tests and for hosts that run the adapter beside other work.
    /// </summary>
    /// <exception cref="ArgumentException">The options or the adapter's templates are not usable; the message says which.</exception>
    public static async Task<RunningAdapter> StartAsync(IAdapter adapter, AdapterHostOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(adapter);
        ArgumentNullException.ThrowIfNull(options);
        var info = adapter.Info;
        var unknown = info.SupportedTemplates.Where(t => !s_services.ContainsKey(t)).ToList();
        if (unknown.Count > 0)
        {
            throw new ArgumentException(
                $"adapter '{info.Name}' names templates an out-of-process adapter cannot serve: {string.Join(", ", unknown)} (known: {string.Join(", ", s_services.Keys)})",
                nameof(adapter));
        }

        if (info.SupportedTemplates.Count == 0)
        {
            throw new ArgumentException($"adapter '{info.Name}' supports no templates: list them in AdapterInfo.SupportedTemplates", nameof(adapter));
        }

        if (options.ShutdownTimeout < TimeSpan.Zero || options.IdleHandlerTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("ShutdownTimeout must be >= 0 and IdleHandlerTimeout > 0", nameof(options));
        }

        var listen = HostArgs.ParseAddress(options.Address);
        var codec = Remote.ParamsCodec.FromAdapterConfig(options.ParamsDescriptorSet, out var descriptorError);
        if (codec is null && descriptorError is not null)
        {
            throw new ArgumentException($"AdapterHostOptions.ParamsDescriptorSet {descriptorError}", nameof(options));
        }

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
            o.UseUtcTimestamp = true;
        });
        builder.Logging.SetMinimumLevel(options.MinimumLogLevel);

        // Kestrel's and the gRPC library's own per-call logs are noise at Information.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Logging.AddFilter("Grpc.AspNetCore", LogLevel.Warning);
        options.ConfigureLogging?.Invoke(builder.Logging);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = options.ShutdownTimeout);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = null;
            if (listen.UnixPath is { } path)
            {
                if (File.Exists(path))
                {
                    File.Delete(path);
                }

                k.ListenUnixSocket(path, o => o.Protocols = HttpProtocols.Http2);
            }
            else
            {
                k.Listen(listen.Ip!, listen.Port, o => o.Protocols = HttpProtocols.Http2);
            }
        });
        builder.Services.AddGrpc(o =>
        {
            o.EnableDetailedErrors = false;
            o.MaxReceiveMessageSize = null;
        });
        builder.Services.AddSingleton(sp => new HandlerCache(adapter, options, codec, sp.GetRequiredService<ILoggerFactory>()));
        builder.Services.AddSingleton<HandleCalls>();

        var app = builder.Build();
        app.MapGrpcService<InfrastructureBackendService>();
        foreach (var template in info.SupportedTemplates.Distinct(StringComparer.Ordinal))
        {
            s_services[template](app);
        }

        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        var address = listen.UnixPath is { } unix
            ? "unix://" + unix
            : Address(app, listen);
        var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Mixer.Sdk.OutOfProcess.AdapterHost");
        Log.Serving(log, info.Name, address, string.Join(", ", info.SupportedTemplates));
        return new RunningAdapter(app, app.Services.GetRequiredService<HandlerCache>(), address);
    }

    private static string Address(WebApplication app, HostArgs.Listen listen)
    {
        var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault();
        if (bound is not null && Uri.TryCreate(bound, UriKind.Absolute, out var uri))
        {
            return $"{(listen.Ip!.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{listen.Ip}]" : listen.Ip)}:{uri.Port.ToString(CultureInfo.InvariantCulture)}";
        }

        return $"{listen.Ip}:{listen.Port.ToString(CultureInfo.InvariantCulture)}";
    }
}

/// <summary>An adapter being served: where it listens, and how to stop it.</summary>
public sealed class RunningAdapter : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly HandlerCache _cache;
    private int _stopped;

    internal RunningAdapter(WebApplication app, HandlerCache cache, string address)
    {
        _app = app;
        _cache = cache;
        Address = address;
    }

    /// <summary>Where it listens: <c>127.0.0.1:PORT</c> (what a handler's <c>connection.address</c> says) or <c>unix:///path</c>.</summary>
    public string Address { get; }

    /// <summary>Handlers built and not yet retired (for tests and diagnostics).</summary>
    public int HandlerCount => _cache.Count;

    /// <summary>Open sessions (for tests and diagnostics).</summary>
    public int SessionCount => _cache.SessionCount;

    /// <summary>Completes when the process is asked to stop (SIGTERM, Ctrl+C) or <paramref name="cancellationToken"/> is cancelled.</summary>
    public async Task WaitForShutdownAsync(CancellationToken cancellationToken = default)
    {
        var lifetime = _app.Services.GetRequiredService<IHostApplicationLifetime>();
        using (cancellationToken.Register(lifetime.StopApplication))
        {
            await _app.WaitForShutdownAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>Stops accepting calls, lets those in flight finish (up to the shutdown timeout), then disposes every handler.</summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        await _app.StopAsync(CancellationToken.None).ConfigureAwait(false);
        await _cache.DisposeAsync().ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}

/// <summary>The adapter process's command line.</summary>
internal static class HostArgs
{
    public sealed record Result(bool Help, string? Error);

    public sealed record Listen(IPAddress? Ip, int Port, string? UnixPath);

    public static string Usage(string adapter) => $"""
        Usage: {adapter} [--address HOST:PORT | --port PORT] [--log-level LEVEL]

        Serves the '{adapter}' Mixer adapter over gRPC (Istio 1.0 out-of-process adapter protocol).

          --address HOST:PORT  where to listen (default 127.0.0.1:0, a free loopback port);
                               also unix:///path/to.sock
          --port PORT          listen on 127.0.0.1:PORT
          --log-level LEVEL    Trace, Debug, Information (default), Warning, Error
          -h, --help           this text

        Prints one line, '{adapter} adapter: serving gRPC on ADDRESS', once it listens.
        Example: {adapter} --port 45678
        """;

    public static Result Apply(string[] args, AdapterHostOptions options)
    {
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            string? inline = null;
            var eq = arg.IndexOf('=', StringComparison.Ordinal);
            if (arg.StartsWith("--", StringComparison.Ordinal) && eq > 0)
            {
                inline = arg[(eq + 1)..];
                arg = arg[..eq];
            }

            if (arg is "-h" or "--help")
            {
                return new Result(true, null);
            }

            if (arg is not ("--address" or "--port" or "--log-level"))
            {
                return new Result(false, $"unknown argument '{args[i]}'");
            }

            var value = inline ?? (i + 1 < args.Length ? args[++i] : null);
            if (value is null)
            {
                return new Result(false, $"flag {arg} needs a value");
            }

            switch (arg)
            {
                case "--address":
                    try
                    {
                        _ = ParseAddress(value);
                    }
                    catch (ArgumentException e)
                    {
                        return new Result(false, $"flag --address: {e.Message}");
                    }

                    options.Address = value;
                    break;
                case "--port":
                    if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > 65535)
                    {
                        return new Result(false, $"flag --port: '{value}' is not a port (0..65535; 0 picks a free one)");
                    }

                    options.Address = $"127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}";
                    break;
                default:
                    if (!Enum.TryParse<LogLevel>(value, ignoreCase: true, out var level) || !Enum.IsDefined(level))
                    {
                        return new Result(false, $"flag --log-level: '{value}' is not one of Trace, Debug, Information, Warning, Error, Critical, None");
                    }

                    options.MinimumLogLevel = level;
                    break;
            }
        }

        return new Result(false, null);
    }

    /// <summary>Parses <c>host:port</c>, <c>[v6]:port</c> or <c>unix:///path</c>; throws <see cref="ArgumentException"/> saying why not.</summary>
    public static Listen ParseAddress(string address)
    {
        if (address.StartsWith("unix://", StringComparison.Ordinal))
        {
            var path = address["unix://".Length..];
            return path.Length == 0 ? throw new ArgumentException("unix:// needs a socket path, e.g. unix:///tmp/adapter.sock") : new Listen(null, 0, path);
        }

        var colon = address.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(address.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > 65535)
        {
            throw new ArgumentException($"'{address}' is not HOST:PORT (e.g. 127.0.0.1:45678, [::1]:45678, localhost:0)");
        }

        var host = address[..colon].Trim('[', ']');
        IPAddress ip;
        if (host == "localhost")
        {
            ip = IPAddress.Loopback;
        }
        else if (!IPAddress.TryParse(host, out ip!))
        {
            throw new ArgumentException($"'{host}' is not an IP address or localhost (the adapter binds an address, it does not resolve names)");
        }

        return new Listen(ip, port, null);
    }
}
