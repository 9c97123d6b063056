using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Google.Protobuf.WellKnownTypes;
using Istio.Mixer.V1;
using Microsoft.AspNetCore.Connections;
using Mixer.Client;
using AttributeValue = Istio.Mixer.V1.Attributes.Types.AttributeValue;

namespace Mixer.Proxy;

/// <summary>
/// One TCP listener: bytes pass through untouched; the connection is checked when it opens (a
/// denial closes it), and reported as Istio's TCP filter does: <c>connection.event</c> open, then
/// continue every <see cref="ReportInterval"/> while it lasts, then close, with the bytes each way
/// since the last report and in total, and the duration.
/// </summary>
internal sealed partial class TcpSidecar
{
    private static readonly AttributeValue s_tcp = new() { StringValue = "tcp" };

    private readonly ListenerConfig _listener;
    private readonly ListenerAttributes _shared;
    private readonly IPEndPoint _upstream;
    private readonly MixerClient? _mixer;
    private readonly bool _check;
    private readonly bool _report;
    private readonly ProxyMetrics _metrics;
    private readonly ILogger _log;

    public TcpSidecar(ProxyConfig config, ListenerConfig listener, MixerClient? mixer, ProxyMetrics metrics, ILogger log)
    {
        _listener = listener;
        _upstream = Endpoint.Parse(listener.Upstream);
        _shared = new ListenerAttributes(config, listener, _upstream);
        _mixer = mixer;
        _check = config.Check && mixer is not null;
        _report = config.Report && mixer is not null;
        _metrics = metrics;
        _log = log;
    }

    /// <summary>Istio's TCP <c>report_interval</c> (10 s).</summary>
    public TimeSpan ReportInterval { get; init; } = TimeSpan.FromSeconds(10);

    public ListenerConfig Listener => _listener;

    public async Task HandleAsync(ConnectionContext connection)
    {
        _metrics.Connections.Add(1);
        var started = Stopwatch.GetTimestamp();
        var state = new Counters();
        if (_check)
        {
            var result = await _mixer!.CheckAsync(Attributes(connection, "open", state, started, final: false), null, connection.ConnectionClosed).ConfigureAwait(false);
            if (!result.IsOk)
            {
                _metrics.Denied.Add(1);
                var remote = connection.RemoteEndPoint?.ToString() ?? "?";
                var body = StatusHttp.Body(result.Status);
                LogDenied(_log, _listener.Name, remote, body);
                Report(connection, "close", state, started);
                return;
            }
        }

        Report(connection, "open", state, started);
        using var socket = new Socket(_upstream.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(_upstream, connection.ConnectionClosed).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            LogUpstreamFailed(_log, _listener.Name, _listener.Upstream, e.Message);
            Report(connection, "close", state, started);
            return;
        }

        await using var upstream = new NetworkStream(socket, ownsSocket: false);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(connection.ConnectionClosed);
        var periodic = _report ? ContinueReportsAsync(connection, state, started, stop.Token) : Task.CompletedTask;
        var toUpstream = PumpAsync(connection.Transport.Input, upstream, n => Interlocked.Add(ref state.Received, n), stop.Token);
        var toClient = PumpAsync(upstream, connection.Transport.Output, n => Interlocked.Add(ref state.Sent, n), stop.Token);
        await Task.WhenAny(toUpstream, toClient).ConfigureAwait(false);

        // One side finished: let the other drain briefly, then close both.
        try
        {
            socket.Shutdown(SocketShutdown.Send);
        }
        catch (SocketException)
        {
        }

        await Task.WhenAny(Task.WhenAll(toUpstream, toClient), Task.Delay(TimeSpan.FromSeconds(1), CancellationToken.None)).ConfigureAwait(false);
        await stop.CancelAsync().ConfigureAwait(false);
        await periodic.ConfigureAwait(false);
        Report(connection, "close", state, started);
    }

    private async Task ContinueReportsAsync(ConnectionContext connection, Counters state, long started, CancellationToken token)
    {
        using var timer = new PeriodicTimer(ReportInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(token).ConfigureAwait(false))
            {
                Report(connection, "continue", state, started);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static async Task PumpAsync(PipeReader from, Stream to, Action<long> count, CancellationToken token)
    {
        try
        {
            while (true)
            {
                var read = await from.ReadAsync(token).ConfigureAwait(false);
                foreach (var segment in read.Buffer)
                {
                    await to.WriteAsync(segment, token).ConfigureAwait(false);
                    count(segment.Length);
                }

                from.AdvanceTo(read.Buffer.End);
                if (read.IsCompleted || read.IsCanceled)
                {
                    break;
                }
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or SocketException or ConnectionResetException)
        {
        }
    }

    private static async Task PumpAsync(Stream from, PipeWriter to, Action<long> count, CancellationToken token)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            int n;
            while ((n = await from.ReadAsync(buffer, token).ConfigureAwait(false)) > 0)
            {
                await to.WriteAsync(buffer.AsMemory(0, n), token).ConfigureAwait(false);
                count(n);
            }

            await to.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or SocketException or ConnectionResetException)
        {
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void Report(ConnectionContext connection, string @event, Counters state, long started)
    {
        if (_report && !_mixer!.Report(Attributes(connection, @event, state, started, final: true)))
        {
            _metrics.ReportDropped.Add(1);
        }
    }

    private Attributes Attributes(ConnectionContext connection, string @event, Counters state, long started, bool final)
    {
        var attributes = _shared.NewSet();
        var map = attributes.Attributes_;
        if (connection.RemoteEndPoint is IPEndPoint remote)
        {
            map["source.ip"] = ListenerAttributes.Ip(remote.Address);
            map["source.port"] = new AttributeValue { Int64Value = remote.Port };
        }

        map["connection.id"] = new AttributeValue { StringValue = connection.ConnectionId };
        map["context.protocol"] = s_tcp;
        map["context.time"] = new AttributeValue { TimestampValue = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow) };
        if (!final)
        {
            return attributes;
        }

        // Bytes since the last report, and in total (Istio's connection.*.bytes and *.bytes_total).
        long received, sent, receivedDelta, sentDelta;
        lock (state)
        {
            received = Interlocked.Read(ref state.Received);
            sent = Interlocked.Read(ref state.Sent);
            receivedDelta = received - state.ReportedReceived;
            sentDelta = sent - state.ReportedSent;
            state.ReportedReceived = received;
            state.ReportedSent = sent;
        }

        map["connection.event"] = new AttributeValue { StringValue = @event };
        map["connection.received.bytes"] = new AttributeValue { Int64Value = receivedDelta };
        map["connection.received.bytes_total"] = new AttributeValue { Int64Value = received };
        map["connection.sent.bytes"] = new AttributeValue { Int64Value = sentDelta };
        map["connection.sent.bytes_total"] = new AttributeValue { Int64Value = sent };
        map["connection.duration"] = new AttributeValue { DurationValue = Duration.FromTimeSpan(Stopwatch.GetElapsedTime(started)) };
        return attributes;
    }

    [LoggerMessage(EventId = 20, Level = LogLevel.Information, Message = "listener {Listener}: connection from {Remote} denied: {Status}")]
    private static partial void LogDenied(ILogger logger, string listener, string remote, string status);

    [LoggerMessage(EventId = 21, Level = LogLevel.Warning, Message = "listener {Listener}: cannot reach upstream {Upstream}: {Reason}")]
    private static partial void LogUpstreamFailed(ILogger logger, string listener, string upstream, string reason);

    private sealed class Counters
    {
        public long Received;
        public long Sent;
        public long ReportedReceived;
        public long ReportedSent;
    }
}
