using System.Diagnostics;
using System.Net;
using Google.Protobuf.WellKnownTypes;
using Istio.Mixer.V1;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;
using Mixer.Client;
using Yarp.ReverseProxy.Forwarder;
using AttributeValue = Istio.Mixer.V1.Attributes.Types.AttributeValue;
using HeaderOp = Istio.Mixer.V1.HeaderOperation.Types.Operation;

namespace Mixer.Proxy;

/// <summary>
/// One HTTP listener: per request, attributes in Istio's vocabulary, Check (cache first), a denial
/// turned into Istio's HTTP answer, the route directive applied, YARP forwarding, Report after.
/// </summary>
internal sealed partial class HttpSidecar
{
    private static readonly AttributeValue s_http = new() { StringValue = "http" };
    private static readonly AttributeValue s_grpc = new() { StringValue = "grpc" };
    private static readonly AttributeValue s_true = new() { BoolValue = true };
    private static readonly AttributeValue s_false = new() { BoolValue = false };
    private static readonly string[] s_statusText = [.. Enumerable.Range(0, 600).Select(c => c.ToString(System.Globalization.CultureInfo.InvariantCulture))];
    private static readonly ForwarderRequestConfig s_http11 = new() { Version = HttpVersion.Version11, VersionPolicy = HttpVersionPolicy.RequestVersionOrLower };
    private static readonly ForwarderRequestConfig s_http2 = new() { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };

    private readonly ListenerConfig _listener;
    private readonly ListenerAttributes _shared;
    private readonly QuotaPlan _quotas;
    private readonly MixerClient? _mixer;
    private readonly bool _check;
    private readonly bool _report;
    private readonly IHttpForwarder _forwarder;
    private readonly HttpMessageInvoker _invoker;
    private readonly string _destination;
    private readonly ProxyMetrics _metrics;
    private readonly ILogger _log;
    private readonly HttpTransformer _transformer;

    public HttpSidecar(ProxyConfig config, ListenerConfig listener, MixerClient? mixer, IHttpForwarder forwarder, HttpMessageInvoker invoker, ProxyMetrics metrics, ILogger log)
    {
        _listener = listener;
        var upstream = Endpoint.Parse(listener.Upstream);
        _destination = "http://" + listener.Upstream;
        _shared = new ListenerAttributes(config, listener, upstream);
        _quotas = listener.Direction == Direction.Inbound
            ? QuotaPlan.For(config, _shared.ServiceHost, _shared.ServiceName, _shared.ServiceNamespace)
            : QuotaPlan.Empty;
        _mixer = mixer;
        _check = config.Check && mixer is not null;
        _report = config.Report && mixer is not null;
        _forwarder = forwarder;
        _invoker = invoker;
        _metrics = metrics;
        _log = log;
        _transformer = _report ? new SidecarTransformer(null, countBody: true) : HttpTransformer.Default;
    }

    public ListenerConfig Listener => _listener;

    public async Task HandleAsync(HttpContext context, SidecarConnection connection)
    {
        _metrics.Requests.Add(1);
        var version = context.Request.Protocol == "HTTP/2" ? s_http2 : s_http11;
        if (!_check && !_report)
        {
            // Policy off: plain YARP forwarding, nothing else on the path.
            await _forwarder.SendAsync(context, _destination, _invoker, version, HttpTransformer.Default).ConfigureAwait(false);
            return;
        }

        var started = Stopwatch.GetTimestamp();
        var now = DateTimeOffset.UtcNow;
        var attributes = RequestAttributes(context, connection, now);
        CheckResult? check = null;
        if (_check)
        {
            check = await _mixer!.CheckAsync(attributes, _quotas.QuotasFor(attributes), context.RequestAborted).ConfigureAwait(false);
            if (!check.IsOk)
            {
                _metrics.Denied.Add(1);
                await DenyAsync(context, check.Status).ConfigureAwait(false);
                Report(context, attributes, check, started, null);
                return;
            }

            if (check.RouteDirective is { } directive)
            {
                if (directive.DirectResponseCode != 0)
                {
                    await DirectResponseAsync(context, directive).ConfigureAwait(false);
                    Report(context, attributes, check, started, null);
                    return;
                }

                ApplyRequestOperations(context.Request, directive);
            }
        }

        CountingReadStream? requestBody = null;
        if (_report)
        {
            if (context.Features.Get<IHttpRequestBodyDetectionFeature>() is { CanHaveBody: true })
            {
                // request.size is the body bytes forwarded: a chunked body has no Content-Length to read it from.
                requestBody = new CountingReadStream(context.Request.Body);
                context.Request.Body = requestBody;
            }
        }

        var operations = check?.RouteDirective?.ResponseHeaderOperations;
        var transformer = operations is { Count: > 0 } ? new SidecarTransformer(operations, _report) : _transformer;
        var error = await _forwarder.SendAsync(context, _destination, _invoker, version, transformer).ConfigureAwait(false);
        if (error != ForwarderError.None)
        {
            LogForwardError(_log, _listener.Name, error);
        }

        var counter = context.Response.Body as CountingStream;
        if (counter is not null)
        {
            context.Response.Body = counter.Inner;
        }

        if (requestBody is not null)
        {
            context.Request.Body = requestBody.Inner;
            Owned(attributes.Attributes_, "request.size").Int64Value = requestBody.BytesRead;
        }

        Report(context, attributes, check, started, counter);
    }

    // A request's set comes from its listener's pool, usually still holding the values of the
    // request before (see AttributeSets): names a request owns are overwritten in place (their
    // AttributeValue objects belong to the set and to nothing else), shared values are assigned by
    // reference (an in-place update of the map's node), and a name this request lacks is removed.
    // The map then keeps its order, which the report batcher's delta walk relies on to skip lookups.
    private Attributes RequestAttributes(HttpContext context, SidecarConnection connection, DateTimeOffset now)
    {
        var request = context.Request;
        var attributes = _shared.RentRequestSet();
        var map = attributes.Attributes_;
        connection.AddTo(map, context.Connection);

        var host = request.Host.Value ?? "";
        var path = request.QueryString.HasValue ? request.Path.Value + request.QueryString.Value : request.Path.Value ?? "";
        string requestId;
        var generated = false;
        if (request.Headers.TryGetValue("x-request-id", out var given) && given.Count > 0)
        {
            requestId = given.Count == 1 ? given[0]! : given.ToString();
        }
        else
        {
            // As Envoy does: every request gets an id, and the application sees it.
            requestId = RequestIds.Next();
            generated = true;
        }

        var entries = OwnedMap(map, "request.headers");
        if (FillRequestHeaders(entries, request, host, path, requestId, generated) != entries.Count)
        {
            // Other header names than the request before: start the map again.
            entries.Clear();
            FillRequestHeaders(entries, request, host, path, requestId, generated);
        }

        if (generated)
        {
            request.Headers["x-request-id"] = requestId;
        }

        Owned(map, "request.id").StringValue = requestId;
        Owned(map, "request.path").StringValue = path;
        Owned(map, "request.host").StringValue = host;
        Owned(map, "request.method").StringValue = request.Method;
        Owned(map, "request.scheme").StringValue = request.Scheme;
        Owned(map, "request.size").Int64Value = request.ContentLength ?? 0;
        SetTime(Owned(map, "request.time"), now.UtcTicks);
        SetOrRemove(map, "request.useragent", request.Headers.UserAgent);
        SetOrRemove(map, "request.referer", request.Headers.Referer);

        var grpc = request.ContentType is { } ct && ct.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase);
        map["context.protocol"] = grpc ? s_grpc : s_http;
        map["api.protocol"] = grpc ? s_grpc : s_http;
        return attributes;
    }

    // Writes every header of the request into the map (in place where the name is there already) and
    // says how many distinct names it wrote: fewer than the map holds means some are left over.
    private static int FillRequestHeaders(Google.Protobuf.Collections.MapField<string, string> entries, HttpRequest request, string host, string path, string requestId, bool generated)
    {
        var written = 0;
        foreach (var (name, values) in request.Headers)
        {
            // Header names are case-insensitive; Istio's attribute keys are lower case.
            entries[Lower(name)] = values.Count == 1 ? values[0]! : values.ToString();
            written++;
        }

        entries[":authority"] = host;
        entries[":path"] = path;
        entries[":method"] = request.Method;
        written += 3;
        if (generated)
        {
            entries["x-request-id"] = requestId;
            written++;
        }

        return written;
    }

    private static int FillResponseHeaders(Google.Protobuf.Collections.MapField<string, string> entries, HttpResponse response)
    {
        var written = 0;
        foreach (var (name, values) in response.Headers)
        {
            entries[Lower(name)] = values.Count == 1 ? values[0]! : values.ToString();
            written++;
        }

        var code = response.StatusCode;
        entries[":status"] = (uint)code < (uint)s_statusText.Length ? s_statusText[code] : code.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return written + 1;
    }

    private static AttributeValue Owned(Google.Protobuf.Collections.MapField<string, AttributeValue> map, string name)
    {
        if (!map.TryGetValue(name, out var value))
        {
            value = new AttributeValue();
            map[name] = value;
        }

        return value;
    }

    private static Google.Protobuf.Collections.MapField<string, string> OwnedMap(Google.Protobuf.Collections.MapField<string, AttributeValue> map, string name)
    {
        var value = Owned(map, name);
        if (value.ValueCase != AttributeValue.ValueOneofCase.StringMapValue)
        {
            value.StringMapValue = new Attributes.Types.StringMap();
        }

        return value.StringMapValue.Entries;
    }

    private static void SetOrRemove(Google.Protobuf.Collections.MapField<string, AttributeValue> map, string name, StringValues values)
    {
        if (values.Count == 0)
        {
            map.Remove(name);
            return;
        }

        Owned(map, name).StringValue = values.Count == 1 ? values[0]! : values.ToString();
    }

    // Timestamp and Duration written in place: seconds and nanos from 100 ns ticks (Unix epoch for a time).
    private static void SetTime(AttributeValue value, long utcTicks)
    {
        var ts = value.ValueCase == AttributeValue.ValueOneofCase.TimestampValue ? value.TimestampValue : (value.TimestampValue = new Timestamp());
        var ticks = utcTicks - DateTime.UnixEpoch.Ticks;
        ts.Seconds = Math.DivRem(ticks, TimeSpan.TicksPerSecond, out var rest);
        ts.Nanos = (int)rest * 100;
    }

    private static void SetDuration(AttributeValue value, TimeSpan elapsed)
    {
        var d = value.ValueCase == AttributeValue.ValueOneofCase.DurationValue ? value.DurationValue : (value.DurationValue = new Duration());
        d.Seconds = Math.DivRem(elapsed.Ticks, TimeSpan.TicksPerSecond, out var rest);
        d.Nanos = (int)rest * 100;
    }

    private void Report(HttpContext context, Attributes attributes, CheckResult? check, long started, CountingStream? counter)
    {
        if (!_report)
        {
            return;
        }

        var response = context.Response;
        var map = attributes.Attributes_;
        Owned(map, "response.code").Int64Value = response.StatusCode;
        Owned(map, "response.size").Int64Value = counter?.Written ?? (HasNoBody(context) ? 0 : response.ContentLength ?? 0);
        SetDuration(Owned(map, "response.duration"), Stopwatch.GetElapsedTime(started));
        SetTime(Owned(map, "response.time"), DateTime.UtcNow.Ticks);
        var headers = OwnedMap(map, "response.headers");
        if (FillResponseHeaders(headers, response) != headers.Count)
        {
            headers.Clear();
            FillResponseHeaders(headers, response);
        }

        if (check is not null)
        {
            // Shared values (never changed): the report batcher sees the same object and skips it in the delta.
            map["check.cache_hit"] = check.CheckCacheHit ? s_true : s_false;
            map["quota.cache_hit"] = check.QuotaCacheHit ? s_true : s_false;
            if (!check.IsOk)
            {
                Owned(map, "check.error_code").Int64Value = check.Status.Code;
                Owned(map, "check.error_message").StringValue = check.Status.Message;
            }
            else
            {
                map.Remove("check.error_code");
                map.Remove("check.error_message");
            }
        }

        if (!_mixer!.Report(attributes))
        {
            _metrics.ReportDropped.Add(1);
        }
    }

    // A response that carries no body whatever its Content-Length says (RFC 9110: HEAD, 204, 304).
    private static bool HasNoBody(HttpContext context) =>
        HttpMethods.IsHead(context.Request.Method) || context.Response.StatusCode is 204 or 304;

    private static string Lower(string name)
    {
        // Most names already are lower case (HTTP/2 always, most HTTP/1.1 clients): no copy then.
        foreach (var c in name)
        {
            if (char.IsAsciiLetterUpper(c))
            {
                return name.ToLowerInvariant();
            }
        }

        return name;
    }

    private static Task DenyAsync(HttpContext context, Google.Rpc.Status status)
    {
        context.Response.StatusCode = StatusHttp.HttpCode(status.Code);
        context.Response.ContentType = "text/plain";
        return context.Response.WriteAsync(StatusHttp.Body(status), context.RequestAborted);
    }

    private static Task DirectResponseAsync(HttpContext context, RouteDirective directive)
    {
        context.Response.StatusCode = (int)directive.DirectResponseCode;
        ApplyResponseOperations(context.Response.Headers, directive.ResponseHeaderOperations);
        return directive.DirectResponseBody.Length > 0
            ? context.Response.WriteAsync(directive.DirectResponseBody, context.RequestAborted)
            : Task.CompletedTask;
    }

    private static void ApplyRequestOperations(HttpRequest request, RouteDirective directive)
    {
        foreach (var op in directive.RequestHeaderOperations)
        {
            switch (op.Name.ToLowerInvariant())
            {
                case ":path" when op.Operation != HeaderOp.Remove:
                    var q = op.Value.IndexOf('?', StringComparison.Ordinal);
                    request.Path = q < 0 ? op.Value : op.Value[..q];
                    request.QueryString = q < 0 ? QueryString.Empty : new QueryString(op.Value[q..]);
                    break;
                case ":authority" when op.Operation != HeaderOp.Remove:
                    request.Host = new HostString(op.Value);
                    break;
                case ":method" when op.Operation != HeaderOp.Remove:
                    request.Method = op.Value;
                    break;
                default:
                    Apply(request.Headers, op);
                    break;
            }
        }
    }

    private static void ApplyResponseOperations(IHeaderDictionary headers, IEnumerable<HeaderOperation> operations)
    {
        foreach (var op in operations)
        {
            Apply(headers, op);
        }
    }

    private static void Apply(IHeaderDictionary headers, HeaderOperation op)
    {
        switch (op.Operation)
        {
            case HeaderOp.Remove:
                headers.Remove(op.Name);
                break;
            case HeaderOp.Append:
                headers.Append(op.Name, op.Value);
                break;
            default:
                headers[op.Name] = op.Value;
                break;
        }
    }

    [LoggerMessage(EventId = 10, Level = LogLevel.Warning, Message = "listener {Listener}: forwarding failed: {Error}")]
    private static partial void LogForwardError(ILogger logger, string listener, ForwarderError error);

    /// <summary>
    /// YARP's default response copy; then, when reporting, a byte counter on the response body if the
    /// upstream did not declare the body's length (a declared length is what YARP forwards, and is
    /// read from the response's Content-Length after: replacing the body stream on every request
    /// costs a stream and a body feature per request and a layer on every write); then the route
    /// directive's response header operations. Runs after the upstream's headers arrived and before
    /// YARP copies the body into <c>Response.Body</c>.
    /// </summary>
    private sealed class SidecarTransformer(IEnumerable<HeaderOperation>? operations, bool countBody) : HttpTransformer
    {
        public override async ValueTask<bool> TransformResponseAsync(HttpContext httpContext, HttpResponseMessage? proxyResponse, CancellationToken cancellationToken)
        {
            var result = await base.TransformResponseAsync(httpContext, proxyResponse, cancellationToken).ConfigureAwait(false);
            if (countBody && proxyResponse?.Content.Headers.ContentLength is null)
            {
                httpContext.Response.Body = new CountingStream(httpContext.Response.Body);
            }

            if (operations is not null)
            {
                ApplyResponseOperations(httpContext.Response.Headers, operations);
            }

            return result;
        }
    }
}

/// <summary>
/// One downstream connection of an HTTP listener: its sidecar, and the attributes every request on
/// it shares (source.ip, source.port, connection.id), built by its first request and then reused.
/// </summary>
internal sealed class SidecarConnection(HttpSidecar sidecar)
{
    private AttributeValue? _sourceIp;
    private AttributeValue? _sourcePort;
    private AttributeValue? _connectionId;

    public HttpSidecar Sidecar { get; } = sidecar;

    public void AddTo(Google.Protobuf.Collections.MapField<string, AttributeValue> map, ConnectionInfo connection)
    {
        // Requests of one HTTP/2 connection may run at once: each field is written once, with equal values.
        map["source.ip"] = _sourceIp ??= ListenerAttributes.Ip(connection.RemoteIpAddress);
        map["source.port"] = _sourcePort ??= new AttributeValue { Int64Value = connection.RemotePort };
        map["connection.id"] = _connectionId ??= new AttributeValue { StringValue = connection.Id };
    }
}

/// <summary>
/// Request ids as Envoy makes them (random UUIDs, version 4), from random bytes drawn 32 ids at a
/// time per thread instead of one system call per request.
/// </summary>
internal static class RequestIds
{
    private const int Batch = 32;

    [ThreadStatic]
    private static byte[]? t_random;

    [ThreadStatic]
    private static int t_next;

    public static string Next()
    {
        var random = t_random ??= new byte[16 * Batch];
        if (t_next == 0)
        {
            System.Security.Cryptography.RandomNumberGenerator.Fill(random);
        }

        Span<byte> bytes = stackalloc byte[16];
        random.AsSpan(t_next * 16, 16).CopyTo(bytes);
        t_next = (t_next + 1) % Batch;

        // RFC 4122 version 4: the version nibble in the third group (byte 7 of Guid's layout), variant 10xx.
        bytes[7] = (byte)((bytes[7] & 0x0F) | 0x40);
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80);
        return new Guid(bytes).ToString();
    }
}

/// <summary>Counts the bytes of the request body on their way to the application (request.size).</summary>
internal sealed class CountingReadStream(Stream inner) : Stream
{
    public Stream Inner { get; } = inner;

    public long BytesRead { get; private set; }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count)
    {
        var n = Inner.Read(buffer, offset, count);
        BytesRead += n;
        return n;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var n = await Inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        BytesRead += n;
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}

/// <summary>Counts the bytes of the response body on their way to the client (response.size).</summary>
internal sealed class CountingStream(Stream inner) : Stream
{
    public Stream Inner { get; } = inner;

    public long Written { get; private set; }

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Flush() => Inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => Inner.FlushAsync(cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count)
    {
        Written += count;
        Inner.Write(buffer, offset, count);
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Written += buffer.Length;
        return Inner.WriteAsync(buffer, cancellationToken);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
}
