using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Mixer.Sdk;
using Mixer.Sdk.Adapters;
using Mixer.Sdk.Templates;

namespace Mixer.Samples.AuditAdapter;

/// <summary>
/// One configured <c>audit</c> handler. Checks read an immutable block list swapped in by a
/// background refresh; reports are queued (bounded, drops counted) and written by one writer
/// task, so a slow disk never holds up Mixer.
/// </summary>
internal sealed partial class AuditHandler : IListEntryHandler, ILogEntryHandler
{
    private readonly AuditParams _params;
    private readonly ILogger _log;
    private readonly TimeProvider _time;
    private readonly TimeSpan _shutdownTimeout;
    private readonly Channel<LogEntryInstance> _queue;
    private readonly IAdapterCounter _dropped;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _writer;
    private readonly Task _refresher;
    private BlockList _blockList;
    private long _droppedSinceWarning;

    public AuditHandler(AuditParams parameters, BlockList blockList, HandlerContext context)
    {
        _params = parameters;
        _blockList = blockList;
        _log = context.Logger;
        _time = context.Time;
        _shutdownTimeout = HostSettings.ShutdownTimeoutOf(context.Settings, TimeSpan.FromSeconds(10));
        _dropped = context.Metrics.Counter("mixer_adapter_dropped_total", "Audit entries dropped because the queue was full or the file could not be written");
        _queue = Channel.CreateBounded<LogEntryInstance>(new BoundedChannelOptions(parameters.QueueSize)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        _writer = Task.Run(WriteLoopAsync);
        _refresher = Task.Run(RefreshLoopAsync);
        LogStarted(_log, context.HandlerName, blockList.Count, parameters.AuditLog);
    }

    public ValueTask<CheckResult> HandleListEntryAsync(ListEntryInstance instance, CancellationToken cancellationToken)
    {
        var list = Volatile.Read(ref _blockList);
        var result = list.Contains(instance.Value)
            ? CheckResult.Deny(StatusCodes.PermissionDenied, $"{instance.Value} is blocked", _params.ValidDuration, _params.ValidUseCount)
            : CheckResult.Ok(_params.ValidDuration, _params.ValidUseCount);
        return ValueTask.FromResult(result);
    }

    public ValueTask HandleLogEntryAsync(IReadOnlyList<LogEntryInstance> instances, CancellationToken cancellationToken)
    {
        var dropped = 0;
        foreach (var entry in instances)
        {
            if (!_queue.Writer.TryWrite(entry))
            {
                dropped++;
            }
        }

        if (dropped > 0)
        {
            Drop(dropped, "the queue is full");
        }

        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _stop.CancelAsync();
        try
        {
            await _writer.WaitAsync(_shutdownTimeout, _time);
        }
        catch (TimeoutException)
        {
            // The writer is stuck (a hung disk): what it still holds is lost, and counted.
            var left = _queue.Reader.Count;
            Drop(left, $"not written within the {GoDuration.Format(_shutdownTimeout)} shutdown timeout");
        }

        await _refresher.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stop.Dispose();
    }

    private async Task WriteLoopAsync()
    {
        var reader = _queue.Reader;
        var buffer = new MemoryStream();
        while (await reader.WaitToReadAsync())
        {
            buffer.SetLength(0);
            var count = 0;
            using (var json = new Utf8JsonWriter(buffer))
            {
                while (count < 1000 && reader.TryRead(out var entry))
                {
                    WriteEntry(json, entry);
                    json.Flush();
                    buffer.WriteByte((byte)'\n');
                    json.Reset(buffer);
                    count++;
                }
            }

            try
            {
                await AppendAsync(buffer);
            }
            catch (IOException e)
            {
                LogWriteFailed(_log, _params.AuditLog, e);
                Drop(count, "the audit log could not be written");
            }
            catch (UnauthorizedAccessException e)
            {
                LogWriteFailed(_log, _params.AuditLog, e);
                Drop(count, "the audit log could not be written");
            }
        }
    }

    private async Task AppendAsync(MemoryStream lines)
    {
        var path = _params.AuditLog;
        var existing = new FileInfo(path);
        if (existing.Exists && existing.Length + lines.Length > _params.MaxFileBytes)
        {
            File.Move(path, path + ".1", overwrite: true);
        }

        await using var file = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete, 1, useAsync: true);
        await file.WriteAsync(lines.GetBuffer().AsMemory(0, (int)lines.Length));
    }

    private static void WriteEntry(Utf8JsonWriter json, LogEntryInstance entry)
    {
        json.WriteStartObject();
        json.WriteString("time", entry.Timestamp.ToString());
        json.WriteString("severity", entry.Severity);
        json.WriteString("instance", entry.Name);
        json.WriteStartObject("variables");
        foreach (var (name, value) in entry.Variables.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            json.WritePropertyName(name);
            switch (value.Type)
            {
                case Mixer.Sdk.ValueType.Int64:
                    json.WriteNumberValue(value.AsInt64);
                    break;
                case Mixer.Sdk.ValueType.Double when double.IsFinite(value.AsDouble):
                    json.WriteNumberValue(value.AsDouble);
                    break;
                case Mixer.Sdk.ValueType.Bool:
                    json.WriteBooleanValue(value.AsBool);
                    break;
                default:
                    json.WriteStringValue(value.ToString());
                    break;
            }
        }

        json.WriteEndObject();
        json.WriteEndObject();
    }

    private async Task RefreshLoopAsync()
    {
        using var timer = new PeriodicTimer(_params.RefreshInterval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token))
            {
                var current = Volatile.Read(ref _blockList);
                if (!current.IsStale())
                {
                    continue;
                }

                try
                {
                    var next = await BlockList.LoadAsync(_params.BlockList, _params.BlockedEntries, _stop.Token);
                    Volatile.Write(ref _blockList, next);
                    LogReloaded(_log, next.Path, next.Count);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // The last good list keeps serving; say so each time the file is found changed.
                    LogReloadFailed(_log, _params.BlockList, current.Count, e);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Disposed.
        }
    }

    private void Drop(long count, string why)
    {
        if (count <= 0)
        {
            return;
        }

        _dropped.Add(count);
        var total = Interlocked.Add(ref _droppedSinceWarning, count);
        LogDropped(_log, count, why, total);
    }

    [LoggerMessage(1, LogLevel.Information, "Audit handler {Handler}: {Count} blocked entries, audit trail {AuditLog}")]
    private static partial void LogStarted(ILogger logger, string handler, int count, string auditLog);

    [LoggerMessage(2, LogLevel.Information, "Block list {Path} reloaded: {Count} entries")]
    private static partial void LogReloaded(ILogger logger, string path, int count);

    [LoggerMessage(3, LogLevel.Warning, "Block list {Path} could not be reloaded; the last good list ({Count} entries) stays in use")]
    private static partial void LogReloadFailed(ILogger logger, string path, int count, Exception exception);

    [LoggerMessage(4, LogLevel.Warning, "Dropped {Count} audit entries: {Why} ({Total} dropped so far)")]
    private static partial void LogDropped(ILogger logger, long count, string why, long total);

    [LoggerMessage(5, LogLevel.Error, "Audit log {Path} could not be written")]
    private static partial void LogWriteFailed(ILogger logger, string path, Exception exception);
}
