using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Mixer.Adapters.Tests;
using Mixer.Sdk.Adapters;

namespace Mixer.Adapters.Script.Tests;

/// <summary>Builds script handlers the way the runtime does: params JSON, Validate, then BuildAsync.</summary>
internal static class Scripts
{
    /// <summary>Params JSON from field/value pairs (values are strings, numbers or nested objects).</summary>
    public static JsonElement Params(params (string Field, object Value)[] fields) =>
        JsonSerializer.SerializeToElement(fields.ToDictionary(f => f.Field, f => f.Value));

    public static IReadOnlyList<string> Problems(ScriptAdapter adapter, params (string Field, object Value)[] fields) =>
        adapter.Validate(Params(fields)).Select(p => $"{p.Field}: {p.Reason}").ToList();

    public static async Task<ScriptHandler> HandlerAsync(
        ScriptAdapter adapter,
        (string Field, object Value)[] fields,
        RecordingMetrics? metrics = null,
        ILogger? logger = null,
        IReadOnlyDictionary<string, string>? instances = null,
        string name = "policy.script.istio-system")
    {
        var json = Params(fields);
        var problems = adapter.Validate(json);
        problems.ShouldBeEmpty(string.Join("; ", problems.Select(p => $"{p.Field}: {p.Reason}")));
        var handler = await adapter.BuildAsync(
            new HandlerContext
            {
                HandlerName = name,
                Params = json,
                Instances = instances ?? new Dictionary<string, string>(),
                Logger = logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance,
                Metrics = metrics ?? new RecordingMetrics(),
            },
            CancellationToken.None);
        return handler.ShouldBeOfType<ScriptHandler>();
    }
}

/// <summary>A logger that keeps what was written, as mixs's log would show it.</summary>
internal sealed class RecordingLogger : ILogger
{
    public ConcurrentQueue<(LogLevel Level, string Text)> Lines { get; } = new();

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        Lines.Enqueue((logLevel, formatter(state, exception)));
}
