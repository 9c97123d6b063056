using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Mixer.Adapters.Stdio;

/// <summary>A destination for whole lines; called from one writer task only.</summary>
internal interface ILineSink : IDisposable
{
    void Write(ReadOnlySpan<byte> line);

    void Flush();
}

/// <summary>
/// A bounded queue in front of a sink: <see cref="TryEnqueue"/> never blocks; a full queue drops
/// the line and counts it. One background task drains the queue and flushes when it runs empty.
/// Disposing writes out what is queued, but waits no longer than the shutdown timeout: a sink that
/// is stuck (a full pipe, a hung disk) has what is left counted as dropped, and is closed once the
/// write it is stuck in returns.
/// </summary>
internal sealed class LineWriter : IAsyncDisposable
{
    private readonly Channel<string> _queue;
    private readonly ILineSink _sink;
    private readonly ILogger _logger;
    private readonly string _handlerName;
    private readonly Action _onDrop;
    private readonly Task _drain;
    private readonly TimeSpan _shutdownTimeout;
    private long _dropped;
    private long _written;
    private int _abandoned;

    public LineWriter(ILineSink sink, int capacity, TimeSpan shutdownTimeout, ILogger logger, string handlerName, Action onDrop)
    {
        _sink = sink;
        _shutdownTimeout = shutdownTimeout;
        _logger = logger;
        _handlerName = handlerName;
        _onDrop = onDrop;
        _queue = Channel.CreateBounded<string>(
            // Two readers at shutdown: the drain task and, past the deadline, DisposeAsync counting what is left.
            new BoundedChannelOptions(capacity) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = false },
            _ => Dropped());
        _drain = Task.Run(DrainAsync);
    }

    public long DroppedCount => Interlocked.Read(ref _dropped);

    public long WrittenCount => Interlocked.Read(ref _written);

    public void TryEnqueue(string line)
    {
        // With DropWrite the channel accepts and drops through the callback; false means completed.
        if (!_queue.Writer.TryWrite(line))
        {
            Dropped();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        if (await Task.WhenAny(_drain, Task.Delay(_shutdownTimeout)).ConfigureAwait(false) == _drain)
        {
            _sink.Dispose();
            return;
        }

        Volatile.Write(ref _abandoned, 1);
        var lost = 0;
        while (_queue.Reader.TryRead(out _))
        {
            lost++;
            Dropped();
        }

        StdioLog.ShutdownDeadlinePassed(_logger, _handlerName, _shutdownTimeout, lost);
        _ = _drain.ContinueWith(static (_, sink) => ((ILineSink)sink!).Dispose(), _sink, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private void Dropped()
    {
        if (Interlocked.Increment(ref _dropped) == 1)
        {
            StdioLog.Dropping(_logger, _handlerName);
        }

        _onDrop();
    }

    private async Task DrainAsync()
    {
        var buffer = new byte[4096];
        var reader = _queue.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (reader.TryRead(out var line))
            {
                if (Volatile.Read(ref _abandoned) == 1)
                {
                    // Past the shutdown deadline: whatever this task still holds is dropped, counted.
                    Dropped();
                    continue;
                }

                var size = Encoding.UTF8.GetMaxByteCount(line.Length) + 1;
                if (buffer.Length < size)
                {
                    buffer = new byte[Math.Max(size, buffer.Length * 2)];
                }

                var n = Encoding.UTF8.GetBytes(line, buffer);
                buffer[n] = (byte)'\n';
                try
                {
                    _sink.Write(buffer.AsSpan(0, n + 1));
                    Interlocked.Increment(ref _written);
                }
                catch (IOException ex)
                {
                    StdioLog.WriteFailed(_logger, ex, _handlerName);
                }
            }

            try
            {
                _sink.Flush();
            }
            catch (IOException ex)
            {
                StdioLog.WriteFailed(_logger, ex, _handlerName);
            }
        }
    }
}

/// <summary>Lines to a stream (stdout, stderr or a file opened for append).</summary>
internal sealed class StreamSink(Stream stream, bool ownsStream) : ILineSink
{
    public void Write(ReadOnlySpan<byte> line) => stream.Write(line);

    public void Flush() => stream.Flush();

    public void Dispose()
    {
        stream.Flush();
        if (ownsStream)
        {
            stream.Dispose();
        }
    }
}

/// <summary>
/// Lines to a file that is renamed aside (<c>name-2018-07-31T12-00-00.000.ext</c>) when the next
/// line would take it past <c>maxBytes</c>; rotated files older than <c>maxAge</c> or beyond the
/// newest <c>maxFiles</c> are deleted (0 disables either rule).
/// </summary>
internal sealed class RotatingFileSink : ILineSink
{
    private const string StampFormat = "yyyy-MM-ddTHH-mm-ss.fff";
    private readonly string _path;
    private readonly long _maxBytes;
    private readonly TimeSpan _maxAge;
    private readonly int _maxFiles;
    private readonly TimeProvider _time;
    private FileStream _file;

    public RotatingFileSink(string path, long maxBytes, TimeSpan maxAge, int maxFiles, TimeProvider time)
    {
        _path = Path.GetFullPath(path);
        _maxBytes = maxBytes;
        _maxAge = maxAge;
        _maxFiles = maxFiles;
        _time = time;
        _file = StdioAdapter.OpenAppend(_path);
    }

    public void Write(ReadOnlySpan<byte> line)
    {
        if (_file.Length > 0 && _file.Length + line.Length > _maxBytes)
        {
            Rotate();
        }

        _file.Write(line);
    }

    public void Flush() => _file.Flush();

    public void Dispose() => _file.Dispose();

    private void Rotate()
    {
        _file.Dispose();
        var now = _time.GetUtcNow();
        var dir = Path.GetDirectoryName(_path)!;
        var stem = Path.GetFileNameWithoutExtension(_path);
        var ext = Path.GetExtension(_path);
        var target = Path.Combine(dir, $"{stem}-{now.UtcDateTime.ToString(StampFormat, System.Globalization.CultureInfo.InvariantCulture)}{ext}");
        for (var i = 1; File.Exists(target); i++)
        {
            target = Path.Combine(dir, $"{stem}-{now.UtcDateTime.ToString(StampFormat, System.Globalization.CultureInfo.InvariantCulture)}.{i}{ext}");
        }

        File.Move(_path, target);
        _file = StdioAdapter.OpenAppend(_path);
        Prune(dir, stem, ext, now);
    }

    private void Prune(string dir, string stem, string ext, DateTimeOffset now)
    {
        var rotated = Directory.GetFiles(dir, $"{stem}-*{ext}")
            .Select(f => (File: f, Stamp: StampOf(Path.GetFileName(f), stem)))
            .Where(f => f.Stamp is not null)
            .OrderByDescending(f => f.Stamp)
            .ThenByDescending(f => f.File, StringComparer.Ordinal)
            .ToList();
        for (var i = 0; i < rotated.Count; i++)
        {
            var tooMany = _maxFiles > 0 && i >= _maxFiles;
            var tooOld = _maxAge > TimeSpan.Zero && now - rotated[i].Stamp!.Value > _maxAge;
            if (tooMany || tooOld)
            {
                try
                {
                    File.Delete(rotated[i].File);
                }
                catch (IOException)
                {
                    // Someone else holds it; the next rotation tries again.
                }
            }
        }
    }

    private static DateTimeOffset? StampOf(string fileName, string stem)
    {
        var start = stem.Length + 1;
        if (fileName.Length < start + StampFormat.Length)
        {
            return null;
        }

        return DateTime.TryParseExact(fileName.AsSpan(start, StampFormat.Length), StampFormat, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AdjustToUniversal | System.Globalization.DateTimeStyles.AssumeUniversal, out var t)
            ? new DateTimeOffset(t, TimeSpan.Zero)
            : null;
    }
}
