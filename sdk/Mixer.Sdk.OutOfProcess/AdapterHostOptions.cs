using Google.Protobuf.Reflection;
using Microsoft.Extensions.Logging;

namespace Mixer.Sdk.OutOfProcess;

/// <summary>How <see cref="AdapterHost"/> serves an adapter. The command line fills these in (<c>--address</c>, <c>--port</c>, <c>--log-level</c>).</summary>
public sealed class AdapterHostOptions
{
    /// <summary>
    /// Where to listen: <c>host:port</c> (an IP address or <c>localhost</c>; port 0 picks a free
    /// one) or <c>unix:///path/to.sock</c>. Loopback by default: Istio 1.0 speaks to adapters
    /// without TLS, so exposing one beyond the node is a deliberate choice.
    /// </summary>
    public string Address { get; set; } = "127.0.0.1:0";

    /// <summary>
    /// The adapter's own <c>Params</c> message, for callers that send params encoded as that message
    /// (Istio 1.0's Mixer, from the <c>adapter</c> resource's <c>config</c> descriptor). Params sent
    /// as a <c>google.protobuf.Struct</c> (Mixer.NET's mixs) are read without it.
    /// </summary>
    public MessageDescriptor? ParamsDescriptor { get; set; }

    /// <summary>
    /// The same for adapters without a compiled <c>Params</c> class: the base64
    /// <c>FileDescriptorSet</c> that the <c>adapter</c> resource's <c>config</c> field holds (the
    /// message named <c>Params</c> in it is the params message, as in Istio).
    /// </summary>
    public string? ParamsDescriptorSet { get; set; }

    /// <summary>How long a stop waits for calls in flight and then for handlers to dispose. Handlers also see it as <see cref="Adapters.HostSettings.ShutdownTimeout"/>.</summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>A handler no call has used this long (and no session holds) is disposed; the next call with its params builds it again.</summary>
    public TimeSpan IdleHandlerTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Settings every handler reads from <see cref="Adapters.HandlerContext.Settings"/>.</summary>
    public IDictionary<string, string> Settings { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>The least severe log level written (console, one line per message).</summary>
    public LogLevel MinimumLogLevel { get; set; } = LogLevel.Information;

    /// <summary>Further logging setup (providers, filters), applied after the console logger.</summary>
    public Action<ILoggingBuilder>? ConfigureLogging { get; set; }

    /// <summary>The clock handlers and the idle timer use (tests substitute their own).</summary>
    public TimeProvider Time { get; set; } = TimeProvider.System;
}
