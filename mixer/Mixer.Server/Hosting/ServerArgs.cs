using System.Globalization;

namespace Mixer.Server.Hosting;

/// <summary>
/// <c>mixs server</c>'s flags, with Istio 1.0's names and defaults. Parsed Go-style: <c>--flag value</c>,
/// <c>--flag=value</c>, or a one-letter alias (<c>-p 9091</c>).
/// </summary>
internal sealed record ServerArgs
{
    public int Port { get; init; } = 9091;
    public string Address { get; init; } = "";
    public int MonitoringPort { get; init; } = 9093;
    public int PrometheusAdapterPort { get; init; } = 42422;
    public int MaxMessageSize { get; init; } = 1024 * 1024;
    public int MaxConcurrentStreams { get; init; } = 1024;
    public string ConfigStoreUrl { get; init; } = "";
    public string ConfigDefaultNamespace { get; init; } = "istio-system";
    public int NumCheckCacheEntries { get; init; }
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(10);
    public string LogLevel { get; init; } = "info";

    public const string Usage = """
        Usage: mixs server [flags]

        Starts Mixer: the Check/Report gRPC API and a monitoring endpoint.

        Example:
          mixs server --port 9091 --monitoringPort 9093 --configStoreURL fs://$PWD/mixer/config

        Flags:
          -p, --port int                     gRPC API port, on 127.0.0.1 unless --address says otherwise (default 9091; 0 picks a free port)
              --address string               gRPC address instead of --port: tcp://HOST:PORT or unix:///PATH
              --monitoringPort int           HTTP port of /metrics, /version, /healthz, /readyz, on 127.0.0.1 (default 9093; 0 picks a free port)
              --prometheusAdapterPort int    HTTP port of the prometheus adapter's /metrics, on 127.0.0.1 (default 42422)
              --maxMessageSize int           largest gRPC message accepted, in bytes (default 1048576)
              --maxConcurrentStreams int     most concurrent streams per connection (default 1024)
              --configStoreURL string        where config lives: fs:///absolute/dir
              --configDefaultNamespace string  the mesh-wide config namespace (default "istio-system")
              --numCheckCacheEntries int     entries of the exact server-side check cache; 0 turns it off (default 0)
              --shutdownTimeout duration     how long SIGTERM waits for in-flight calls (default 10s)
              --log_output_level string      error, warn, info or debug (default "info")
        """;

    /// <summary>Parses flags; false with a message naming the flag when something is wrong.</summary>
    public static bool TryParse(IReadOnlyList<string> args, out ServerArgs result, out string? error)
    {
        result = new ServerArgs();
        error = null;
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith('-') || arg == "-" || arg == "--")
            {
                error = $"unexpected argument '{arg}'";
                return false;
            }

            var text = arg.TrimStart('-');
            string? value = null;
            var eq = text.IndexOf('=', StringComparison.Ordinal);
            if (eq >= 0)
            {
                value = text[(eq + 1)..];
                text = text[..eq];
            }

            string Next()
            {
                if (value is not null)
                {
                    return value;
                }

                if (i + 1 >= args.Count)
                {
                    throw new FormatException($"flag --{text} needs a value");
                }

                return args[++i];
            }

            try
            {
                result = text switch
                {
                    "p" or "port" => result with { Port = Int(text, Next(), 0, 65535) },
                    "address" => result with { Address = Next() },
                    "monitoringPort" => result with { MonitoringPort = Int(text, Next(), 0, 65535) },
                    "prometheusAdapterPort" => result with { PrometheusAdapterPort = Int(text, Next(), 1, 65535) },
                    "maxMessageSize" => result with { MaxMessageSize = Int(text, Next(), 1024, int.MaxValue) },
                    "maxConcurrentStreams" => result with { MaxConcurrentStreams = Int(text, Next(), 1, int.MaxValue) },
                    "configStoreURL" => result with { ConfigStoreUrl = Next() },
                    "configDefaultNamespace" => result with { ConfigDefaultNamespace = NonEmpty(text, Next()) },
                    "numCheckCacheEntries" => result with { NumCheckCacheEntries = Int(text, Next(), 0, int.MaxValue) },
                    "shutdownTimeout" => result with { ShutdownTimeout = Duration(text, Next()) },
                    "log_output_level" => result with { LogLevel = Level(text, Next()) },
                    _ => throw new FormatException($"unknown flag --{text}"),
                };
            }
            catch (FormatException e)
            {
                error = e.Message;
                return false;
            }
        }

        if (result.Address.Length > 0 && !result.Address.StartsWith("tcp://", StringComparison.Ordinal) && !result.Address.StartsWith("unix://", StringComparison.Ordinal))
        {
            error = $"flag --address: '{result.Address}' must be tcp://HOST:PORT or unix:///PATH";
            return false;
        }

        if (result.ConfigStoreUrl.Length > 0 && !result.ConfigStoreUrl.StartsWith("fs://", StringComparison.Ordinal))
        {
            error = $"flag --configStoreURL: '{result.ConfigStoreUrl}' is not supported; use fs:///absolute/dir";
            return false;
        }

        return true;
    }

    private static int Int(string flag, string text, int min, int max)
    {
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) || v < min || v > max)
        {
            throw new FormatException($"flag --{flag}: '{text}' is not a whole number from {min} to {max}");
        }

        return v;
    }

    private static string NonEmpty(string flag, string text) =>
        text.Length > 0 ? text : throw new FormatException($"flag --{flag} must not be empty");

    private static TimeSpan Duration(string flag, string text) =>
        Sdk.GoDuration.TryParse(text, out var ns) && ns >= 0
            ? TimeSpan.FromTicks(ns / 100)
            : throw new FormatException($"flag --{flag}: '{text}' is not a duration (e.g. 10s, 500ms)");

    private static string Level(string flag, string text) =>
        text is "error" or "warn" or "info" or "debug" or "none"
            ? text
            : throw new FormatException($"flag --{flag}: '{text}' is not one of error, warn, info, debug, none");
}
