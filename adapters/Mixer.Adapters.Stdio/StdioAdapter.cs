using System.Diagnostics.Metrics;
using Mixer.Sdk.Adapters;
using Microsoft.Extensions.Logging;

namespace Mixer.Adapters.Stdio;

/// <summary>
/// The <c>stdio</c> adapter (Istio 1.0 <c>adapter.stdio.config.Params</c>): writes <c>logentry</c>
/// and <c>metric</c> instances as lines (JSON by default) to stdout, stderr, a file or a rotating
/// file. A log entry's severity maps to a level through <c>severityLevels</c>; metrics are written
/// at <c>metricLevel</c>; lines below <c>outputLevel</c> are skipped. Reports never wait for I/O:
/// lines go through a bounded queue to a background writer, and lines that do not fit are dropped
/// and counted in the <c>mixer_adapter_stdio_dropped_total</c> counter (meter
/// <see cref="MeterName"/>) and in the host's <c>mixer_adapter_dropped_total</c>. Disposing a handler writes out what is queued.
/// </summary>
public sealed class StdioAdapter : Adapter<StdioParams>
{
    /// <summary>The meter that holds <c>mixer_adapter_stdio_dropped_total</c>.</summary>
    public const string MeterName = "Mixer.Adapters.Stdio";

    internal const int DefaultQueueCapacity = 16 * 1024;

    private static readonly Meter Meter = new(MeterName);
    private static readonly Counter<long> DroppedCounter =
        Meter.CreateCounter<long>("mixer_adapter_stdio_dropped_total", unit: "{line}", description: "Lines the stdio adapter dropped because its queue was full");

    private readonly Func<LogStream, Stream>? _streams;
    private readonly int _queueCapacity;

    /// <summary>An adapter writing to the process's stdout and stderr, or to files.</summary>
    public StdioAdapter()
        : this(null, DefaultQueueCapacity)
    {
    }

    // Tests substitute the standard streams and shrink the queue.
    internal StdioAdapter(Func<LogStream, Stream>? streams, int queueCapacity)
    {
        _streams = streams;
        _queueCapacity = queueCapacity;
    }

    /// <inheritdoc/>
    public override AdapterInfo Info { get; } = new("stdio", "Writes logs and metrics to a standard I/O stream or a file", ["logentry", "metric"]);

    /// <inheritdoc/>
    protected override void Validate(StdioParams p, ICollection<ConfigProblem> problems)
    {
        if (p.LogStream is LogStream.File or LogStream.RotatedFile && string.IsNullOrWhiteSpace(p.OutputPath))
        {
            problems.Add(new ConfigProblem("outputPath", $"must be set when logStream is {(p.LogStream == LogStream.File ? "FILE" : "ROTATED_FILE")}"));
        }

        if (p.MaxMegabytesBeforeRotation <= 0)
        {
            problems.Add(new ConfigProblem("maxMegabytesBeforeRotation", "must be > 0"));
        }

        if (p.MaxDaysBeforeRotation < 0)
        {
            problems.Add(new ConfigProblem("maxDaysBeforeRotation", "must be >= 0 (0 keeps rotated files regardless of age)"));
        }

        if (p.MaxRotatedFiles < 0)
        {
            problems.Add(new ConfigProblem("maxRotatedFiles", "must be >= 0 (0 keeps every rotated file)"));
        }
    }

    /// <inheritdoc/>
    protected override ValueTask<IHandler> BuildAsync(StdioParams p, HandlerContext context, CancellationToken cancellationToken)
    {
        ILineSink sink = p.LogStream switch
        {
            LogStream.Stdout or LogStream.Stderr => new StreamSink(_streams?.Invoke(p.LogStream) ?? (p.LogStream == LogStream.Stdout ? Console.OpenStandardOutput() : Console.OpenStandardError()), ownsStream: _streams is not null),
            LogStream.File => new StreamSink(OpenAppend(p.OutputPath), ownsStream: true),
            _ => new RotatingFileSink(p.OutputPath, p.MaxMegabytesBeforeRotation * 1024L * 1024L, TimeSpan.FromDays(p.MaxDaysBeforeRotation), p.MaxRotatedFiles, context.Time),
        };

        var handlerName = context.HandlerName;
        var dropped = context.Metrics.Counter("mixer_adapter_dropped_total", "Instances a handler dropped: its queue was full, or it could not use them.");
        var shutdownTimeout = HostSettings.ShutdownTimeoutOf(context.Settings, TimeSpan.FromSeconds(10));
        var writer = new LineWriter(sink, _queueCapacity, shutdownTimeout, context.Logger, handlerName, () =>
        {
            DroppedCounter.Add(1, new KeyValuePair<string, object?>("handler", handlerName));
            dropped.Add(1);
        });
        StdioLog.Built(context.Logger, handlerName, p.LogStream);
        return ValueTask.FromResult<IHandler>(new StdioHandler(p, writer, context.Time));
    }

    internal static FileStream OpenAppend(string path)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir))
        {
            Directory.CreateDirectory(dir);
        }

        return new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete, 64 * 1024);
    }
}

/// <summary>Where lines go (Istio's Stream).</summary>
public enum LogStream
{
    Stdout = 0,
    Stderr = 1,
    File = 2,
    RotatedFile = 3,
}

/// <summary>Line levels (Istio's Level).</summary>
public enum Level
{
    Info = 0,
    Warning = 1,
    Error = 2,
}

public sealed class StdioParams
{
    public LogStream LogStream { get; set; } = LogStream.Stdout;

    public Dictionary<string, Level>? SeverityLevels { get; set; }

    public Level MetricLevel { get; set; } = Level.Info;

    public bool OutputAsJson { get; set; } = true;

    public Level OutputLevel { get; set; } = Level.Info;

    public string OutputPath { get; set; } = string.Empty;

    // Istio's GetInfo says 100*1024*1024 here, in megabytes; we default to a usable 100 MB.
    public int MaxMegabytesBeforeRotation { get; set; } = 100;

    public int MaxDaysBeforeRotation { get; set; } = 30;

    public int MaxRotatedFiles { get; set; } = 1000;
}

internal static partial class StdioLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Debug, Message = "stdio handler {Handler} built, writing to {Stream}")]
    public static partial void Built(ILogger logger, string handler, LogStream stream);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "stdio handler {Handler}: queue full, dropping lines")]
    public static partial void Dropping(ILogger logger, string handler);

    [LoggerMessage(EventId = 3, Level = LogLevel.Error, Message = "stdio handler {Handler}: could not write")]
    public static partial void WriteFailed(ILogger logger, Exception exception, string handler);

    [LoggerMessage(EventId = 4, Level = LogLevel.Warning, Message = "stdio handler {Handler}: shutdown deadline of {Timeout} passed, {Count} lines not written (counted as dropped)")]
    public static partial void ShutdownDeadlinePassed(ILogger logger, string handler, TimeSpan timeout, int count);
}
