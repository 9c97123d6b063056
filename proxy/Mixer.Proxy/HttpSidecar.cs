using System.Diagnostics;
using System.Net;
using Istio.Mixer.V1;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;
using Mixer.Client;
using Yarp.ReverseProxy.Forwarder;
using HeaderOp = Istio.Mixer.V1.HeaderOperation.Types.Operation;

namespace Mixer.Proxy;

/// <summary>
/// One HTTP listener: per request, attributes in Istio's vocabulary, Check (cache first), a denial
/// turned into Istio's HTTP answer, the route directive applied, YARP forwarding, Report after.
/// </summary>
internal sealed partial class HttpSidecar
{
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
            attributes.SetInt64(_shared.Slots.RequestSize, requestBody.BytesRead);
        }

        Report(context, attributes, check, started, counter);
    }

    // A request's record comes from its listener's pool, usually still holding the values of an
    // earlier request: every per-request slot is overwritten or removed here and in Report; the
    // listener's shared slots were written when the record was made and are never touched.
    private AttributeRecord RequestAttributes(HttpContext context, SidecarConnection connection, DateTimeOffset now)
    {
        var request = context.Request;
        var record = _shared.RentRecord();
        var s = _shared.Slots;
        connection.AddTo(record, s, context.Connection);

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

        var headers = record.SetStringMap(s.RequestHeaders);
        foreach (var (name, values) in request.Headers)
        {
            // Header names are case-insensitive; Istio's attribute keys are lower case.
            headers.Add(Lower(name), values.Count == 1 ? values[0]! : values.ToString());
        }

        headers.Add(":authority", host);
        headers.Add(":path", path);
        headers.Add(":method", request.Method);
        if (generated)
        {
            headers.Add("x-request-id", requestId);
            request.Headers["x-request-id"] = requestId;
        }

        record.SetString(s.RequestId, requestId);
        record.SetString(s.RequestPath, path);
        record.SetString(s.RequestHost, host);
        record.SetString(s.RequestMethod, request.Method);
        record.SetString(s.RequestScheme, request.Scheme);
        record.SetInt64(s.RequestSize, request.ContentLength ?? 0);
        record.SetTimestamp(s.RequestTime, now.UtcTicks);
        SetOrRemove(record, s.RequestUserAgent, request.Headers.UserAgent);
        SetOrRemove(record, s.RequestReferer, request.Headers.Referer);

        var protocol = request.ContentType is { } ct && ct.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase) ? "grpc" : "http";
        record.SetString(s.ContextProtocol, protocol);
        record.SetString(s.ApiProtocol, protocol);
        return record;
    }

    private static void SetOrRemove(AttributeRecord record, int slot, StringValues values)
    {
        if (values.Count == 0)
        {
            record.Remove(slot);
            return;
        }

        record.SetString(slot, values.Count == 1 ? values[0]! : values.ToString());
    }

    private void Report(HttpContext context, AttributeRecord record, CheckResult? check, long started, CountingStream? counter)
    {
        if (!_report)
        {
            // Nothing holds the record any more (Check does not keep it): straight back to the pool.
            _shared.Keep(record);
            return;
        }

        var response = context.Response;
        var s = _shared.Slots;
        record.SetInt64(s.ResponseCode, response.StatusCode);
        record.SetInt64(s.ResponseSize, counter?.Written ?? (HasNoBody(context) ? 0 : response.ContentLength ?? 0));
        record.SetDuration(s.ResponseDuration, Stopwatch.GetElapsedTime(started));
        record.SetTimestamp(s.ResponseTime, DateTime.UtcNow.Ticks);
        var headers = record.SetStringMap(s.ResponseHeaders);
        foreach (var (name, values) in response.Headers)
        {
            headers.Add(Lower(name), values.Count == 1 ? values[0]! : values.ToString());
        }

        var code = response.StatusCode;
        headers.Add(":status", (uint)code < (uint)s_statusText.Length ? s_statusText[code] : code.ToString(System.Globalization.CultureInfo.InvariantCulture));

        if (check is not null)
        {
            record.SetBool(s.CheckCacheHit, check.CheckCacheHit);
            record.SetBool(s.QuotaCacheHit, check.QuotaCacheHit);
            if (!check.IsOk)
            {
                record.SetInt64(s.CheckErrorCode, check.Status.Code);
                record.SetString(s.CheckErrorMessage, check.Status.Message);
            }
            else
            {
                record.Remove(s.CheckErrorCode);
                record.Remove(s.CheckErrorMessage);
            }
        }
        else
        {
            record.Remove(s.CheckCacheHit);
            record.Remove(s.QuotaCacheHit);
            record.Remove(s.CheckErrorCode);
            record.Remove(s.CheckErrorMessage);
        }

        if (!_mixer!.Report(record))
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
                return LowerNames.Of(name);
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
    private Google.Protobuf.ByteString? _sourceIp;
    private string? _connectionId;

    public HttpSidecar Sidecar { get; } = sidecar;

    public void AddTo(AttributeRecord record, RequestSlots slots, ConnectionInfo connection)
    {
        // Requests of one HTTP/2 connection may run at once: each field is written once, with equal values.
        record.SetBytes(slots.SourceIp, _sourceIp ??= ListenerAttributes.IpBytes(connection.RemoteIpAddress));
        record.SetInt64(slots.SourcePort, connection.RemotePort);
        record.SetString(slots.ConnectionId, _connectionId ??= connection.Id);
    }
}

/// <summary>
/// Lower-case forms of the mixed-case header names a server sees again and again (Kestrel's known
/// names, "Host", "Content-Type"...), made once: no string per header per request, and the same
/// instance every time, which the report batcher's comparisons take as equal at once. Bounded, so
/// a client inventing names cannot grow it without end (past the bound names are lowered anew).
/// </summary>
internal static class LowerNames
{
    private const int MaxNames = 1024;
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> s_lower = new(StringComparer.Ordinal);

    public static string Of(string name)
    {
        if (s_lower.TryGetValue(name, out var lower))
        {
            return lower;
        }

        lower = name.ToLowerInvariant();
        if (s_lower.Count < MaxNames)
        {
            s_lower.TryAdd(name, lower);
        }

        return lower;
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
