using Microsoft.Extensions.Logging;

namespace Mixer.Sdk.OutOfProcess;

/// <summary>What the adapter host logs; event ids are stable.</summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "Adapter {Adapter} serving gRPC on {Address} for templates {Templates}")]
    public static partial void Serving(ILogger logger, string adapter, string address, string templates);

    [LoggerMessage(2, LogLevel.Information, "Adapter {Adapter} built handler {Handler}")]
    public static partial void HandlerBuilt(ILogger logger, string adapter, string handler);

    [LoggerMessage(3, LogLevel.Error, "Adapter {Adapter} could not build handler {Handler}")]
    public static partial void BuildFailed(ILogger logger, string adapter, string handler, Exception exception);

    [LoggerMessage(4, LogLevel.Information, "Adapter {Adapter} disposed handler {Handler}")]
    public static partial void HandlerDisposed(ILogger logger, string adapter, string handler);

    [LoggerMessage(5, LogLevel.Warning, "Adapter {Adapter} failed disposing handler {Handler}")]
    public static partial void DisposeFailed(ILogger logger, string adapter, string handler, Exception exception);

    [LoggerMessage(6, LogLevel.Information, "Adapter {Adapter} retires handler {Handler}: unused for {Idle}")]
    public static partial void HandlerIdle(ILogger logger, string adapter, string handler, TimeSpan idle);

    [LoggerMessage(7, LogLevel.Information, "Adapter {Adapter} opened session {Session} on handler {Handler}")]
    public static partial void SessionCreated(ILogger logger, string adapter, string session, string handler);

    [LoggerMessage(8, LogLevel.Information, "Adapter {Adapter} closed session {Session} of handler {Handler}")]
    public static partial void SessionClosed(ILogger logger, string adapter, string session, string handler);

    [LoggerMessage(9, LogLevel.Error, "Adapter {Adapter} failed validating params")]
    public static partial void ValidateFailed(ILogger logger, string adapter, Exception exception);

    [LoggerMessage(10, LogLevel.Error, "Adapter {Adapter} handler {Handler} failed in {Method}")]
    public static partial void HandleFailed(ILogger logger, string adapter, string handler, string method, Exception exception);

    [LoggerMessage(11, LogLevel.Warning, "Adapter {Adapter}: {Count} handlers were still finishing after the {Timeout} shutdown timeout")]
    public static partial void DisposeTimedOut(ILogger logger, string adapter, int count, TimeSpan timeout);

    [LoggerMessage(12, LogLevel.Warning, "Adapter {Adapter} rejected a {Method} call: {Reason}")]
    public static partial void BadRequest(ILogger logger, string adapter, string method, string reason);
}
