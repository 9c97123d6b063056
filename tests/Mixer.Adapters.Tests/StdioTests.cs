using System.Diagnostics.Metrics;
using System.Text;
using System.Text.Json;
using Mixer.Adapters.Stdio;
using Mixer.Sdk;
using Mixer.Sdk.Adapters;
using Mixer.Sdk.Templates;
using Mixer.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Mixer.Adapters.Tests;

public sealed class StdioTests : IDisposable
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2018, 7, 31, 12, 0, 0, TimeSpan.Zero));
    private readonly string _dir = Directory.CreateTempSubdirectory("stdio-tests-").FullName;
    private readonly MemoryStream _stdout = new();
    private readonly MemoryStream _stderr = new();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private StdioAdapter Adapter(int queueCapacity = 1024, Stream? stdout = null) =>
        new(s => s == LogStream.Stdout ? stdout ?? _stdout : _stderr, queueCapacity);

    private static LogEntryInstance Entry(string severity, params (string Key, AttributeValue Value)[] variables) => new()
    {
        Name = "accesslog.logentry.istio-system",
        Severity = severity,
        Timestamp = AttributeValue.Timestamp(new DateTimeOffset(2018, 7, 31, 11, 59, 0, TimeSpan.Zero)),
        Variables = variables.ToDictionary(v => v.Key, v => v.Value),
    };

    private static string[] Lines(MemoryStream s) => Encoding.UTF8.GetString(s.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries);

    [Fact]
    public async Task LogEntries_AreJsonLinesOnStdout_WithLevelTimeInstanceAndVariables()
    {
        var h = await Build.HandlerAsync<ILogEntryHandler>(Adapter(), "{}", _time);

        await h.HandleLogEntryAsync(
            [Entry("Warning", ("responseCode", AttributeValue.Int64(404)), ("source", AttributeValue.String("productpage")), ("latency", AttributeValue.Duration(TimeSpan.FromMilliseconds(12))))],
            default);
        await h.DisposeAsync();

        var line = Lines(_stdout).ShouldHaveSingleItem();
        line.ShouldBe("""{"level":"warn","time":"2018-07-31T11:59:00Z","instance":"accesslog.logentry.istio-system","latency":"12ms","responseCode":404,"source":"productpage"}""");
        _stderr.ToArray().ShouldBeEmpty();
    }

    [Fact]
    public async Task Severity_MapsThroughSeverityLevels_AndOutputLevelFilters()
    {
        var h = await Build.HandlerAsync<ILogEntryHandler>(Adapter(), """{"logStream": "STDERR", "outputLevel": "WARNING", "severityLevels": {"oops": "ERROR", "meh": "INFO", "hmm": 1}}""", _time);

        await h.HandleLogEntryAsync([Entry("oops"), Entry("meh"), Entry("hmm"), Entry("unknown"), Entry("Warning")], default);
        await h.DisposeAsync();

        // Only oops (ERROR) and hmm (WARNING) pass; "Warning" is not in the configured map, so INFO.
        Lines(_stderr).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("level").GetString()).ShouldBe(["error", "warn"]);
        _stdout.ToArray().ShouldBeEmpty();
    }

    [Fact]
    public async Task Metrics_AreWrittenWithValueAndDimensions_AtMetricLevel()
    {
        var h = await Build.HandlerAsync<IMetricHandler>(Adapter(), """{"metricLevel": "WARNING"}""", _time);

        await h.HandleMetricAsync(
            [new MetricInstance
            {
                Name = "requestcount.metric.istio-system",
                Value = AttributeValue.Int64(1),
                Dimensions = new Dictionary<string, AttributeValue>
                {
                    ["destination"] = AttributeValue.String("reviews"),
                    ["ok"] = AttributeValue.Bool(true),
                    ["ratio"] = AttributeValue.Double(0.5),
                },
            }],
            default);
        await h.DisposeAsync();

        Lines(_stdout).ShouldHaveSingleItem().ShouldBe("""{"level":"warn","time":"2018-07-31T12:00:00Z","instance":"requestcount.metric.istio-system","value":1,"destination":"reviews","ok":true,"ratio":0.5}""");
    }

    [Fact]
    public async Task OutputAsJsonFalse_WritesTabSeparatedColumns()
    {
        var h = await Build.HandlerAsync<ILogEntryHandler>(Adapter(), """{"outputAsJson": false}""", _time);

        await h.HandleLogEntryAsync([Entry("info", ("user", AttributeValue.String("jason")))], default);
        await h.DisposeAsync();

        Lines(_stdout).ShouldHaveSingleItem().ShouldBe("2018-07-31T11:59:00Z\tinfo\taccesslog.logentry.istio-system\t{\"user\":\"jason\"}");
    }

    [Fact]
    public async Task File_AppendsLines()
    {
        var path = Path.Combine(_dir, "logs", "mixer.log");
        File.WriteAllText(Path.Combine(_dir, "unrelated"), "x");
        for (var round = 0; round < 2; round++)
        {
            var h = await Build.HandlerAsync<ILogEntryHandler>(new StdioAdapter(), $$"""{"logStream": "FILE", "outputPath": {{JsonSerializer.Serialize(path)}}}""", _time);
            await h.HandleLogEntryAsync([Entry("info", ("round", AttributeValue.Int64(round)))], default);
            await h.DisposeAsync();
        }

        File.ReadAllLines(path).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("round").GetInt64()).ShouldBe([0L, 1L]);
    }

    [Fact]
    public async Task RotatedFile_RotatesBySize_AndKeepsOnlyMaxRotatedFiles()
    {
        var path = Path.Combine(_dir, "access.log");
        var h = await Build.HandlerAsync<ILogEntryHandler>(
            new StdioAdapter(),
            $$"""{"logStream": "ROTATED_FILE", "outputPath": {{JsonSerializer.Serialize(path)}}, "maxMegabytesBeforeRotation": 1, "maxRotatedFiles": 2}""",
            _time);
        var payload = AttributeValue.String(new string('x', 100 * 1024));

        // About 4.5 MB in 100 KB lines: four rotations, of which the newest two rotated files stay.
        for (var i = 0; i < 45; i++)
        {
            await h.HandleLogEntryAsync([Entry("info", ("i", AttributeValue.Int64(i)), ("payload", payload))], default);
            _time.Advance(TimeSpan.FromSeconds(1));
        }

        await h.DisposeAsync();

        var rotated = Directory.GetFiles(_dir, "access-*.log").Order(StringComparer.Ordinal).ToArray();
        rotated.Length.ShouldBe(2);
        foreach (var f in rotated.Append(path))
        {
            new FileInfo(f).Length.ShouldBeLessThanOrEqualTo(1024 * 1024);
        }

        // The live file holds the newest lines, ending with the last one.
        var last = File.ReadAllLines(path)[^1];
        JsonDocument.Parse(last).RootElement.GetProperty("i").GetInt64().ShouldBe(44);
    }

    [Fact]
    public async Task FullQueue_DropsAndCounts_WithoutBlockingReports()
    {
        long measured = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == StdioAdapter.MeterName && instrument.Name == "mixer_adapter_stdio_dropped_total")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var t in tags)
            {
                if (t.Key == "handler" && (string?)t.Value == "slow.stdio.istio-system")
                {
                    Interlocked.Add(ref measured, value);
                }
            }
        });
        listener.Start();

        using var stuck = new BlockingStream();
        var hostMetrics = new RecordingMetrics();
        var h = await Build.HandlerAsync<ILogEntryHandler>(Adapter(queueCapacity: 4, stdout: stuck), "{}", _time, handlerName: "slow.stdio.istio-system", metrics: hostMetrics);

        // The writer is stuck on its first line; every report still returns at once.
        for (var i = 0; i < 20; i++)
        {
            var report = h.HandleLogEntryAsync([Entry("info", ("i", AttributeValue.Int64(i)))], default);
            report.IsCompleted.ShouldBeTrue();
        }

        stuck.Release();
        await h.DisposeAsync();

        var handler = (StdioHandler)h;
        handler.DroppedCount.ShouldBeGreaterThanOrEqualTo(15);
        (handler.DroppedCount + handler.WrittenCount).ShouldBe(20);
        Lines(stuck.Written).Length.ShouldBe((int)handler.WrittenCount);
        Interlocked.Read(ref measured).ShouldBe(handler.DroppedCount);
        hostMetrics["mixer_adapter_dropped_total"].ShouldBe(handler.DroppedCount, "mixs exports this on /metrics");
    }

    [Fact]
    public async Task Dispose_SinkStuckPastTheShutdownTimeout_ReturnsAndCountsWhatIsLeftAsDropped()
    {
        using var stuck = new BlockingStream();
        var hostMetrics = new RecordingMetrics();
        var h = await Build.HandlerAsync<ILogEntryHandler>(
            Adapter(queueCapacity: 100, stdout: stuck), "{}", _time, handlerName: "stuck.stdio.istio-system", metrics: hostMetrics,
            settings: new Dictionary<string, string> { [HostSettings.ShutdownTimeout] = "200ms" });
        for (var i = 0; i < 10; i++)
        {
            await h.HandleLogEntryAsync([Entry("info", ("i", AttributeValue.Int64(i)))], default);
        }

        // The writer never gets past its first line; shutdown still ends, after the timeout.
        var dispose = h.DisposeAsync().AsTask();
        (await Task.WhenAny(dispose, Task.Delay(TimeSpan.FromSeconds(30)))).ShouldBe(dispose, "dispose waited on a stuck sink past its shutdown timeout");

        var handler = (StdioHandler)h;
        handler.DroppedCount.ShouldBeGreaterThanOrEqualTo(9);
        hostMetrics["mixer_adapter_dropped_total"].ShouldBe(handler.DroppedCount, "mixs exports this on /metrics");

        // When the stuck write finally returns, the line in hand is written and nothing is lost uncounted.
        stuck.Release();
        await Eventually.UntilAsync(() => handler.DroppedCount + handler.WrittenCount == 10, "every line written or counted as dropped");
        Lines(stuck.Written).Length.ShouldBe((int)handler.WrittenCount);
    }

    [Fact]
    public void Validate_ReportsEveryProblemWithItsField()
    {
        Build.Problems(new StdioAdapter(), """{"logStream": "ROTATED_FILE", "maxMegabytesBeforeRotation": 0, "maxDaysBeforeRotation": -1, "maxRotatedFiles": -1}""")
            .ShouldBe([
                "outputPath: must be set when logStream is ROTATED_FILE",
                "maxMegabytesBeforeRotation: must be > 0",
                "maxDaysBeforeRotation: must be >= 0 (0 keeps rotated files regardless of age)",
                "maxRotatedFiles: must be >= 0 (0 keeps every rotated file)",
            ]);
        Build.Problems(new StdioAdapter(), """{"logStream": "SYSLOG"}""").Single().ShouldStartWith("logStream: ");
        Build.Problems(new StdioAdapter(), """{"severityLevels": {"x": "LOUD"}}""").Single().ShouldStartWith("severityLevels.x: ");
    }

    /// <summary>A stdout whose first write blocks until released, like a pipe nobody reads.</summary>
    private sealed class BlockingStream : Stream
    {
        private readonly ManualResetEventSlim _gate = new(false);

        public MemoryStream Written { get; } = new();

        public void Release() => _gate.Set();

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            _gate.Wait();
            Written.Write(buffer);
        }

        public override void Flush()
        {
        }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => Written.Length;

        public override long Position { get => Written.Length; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            _gate.Dispose();
            base.Dispose(disposing);
        }
    }
}
