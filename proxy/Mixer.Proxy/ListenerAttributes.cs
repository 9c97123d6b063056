using System.Net;
using Google.Protobuf;
using Istio.Mixer.V1;
using Mixer.Client;
using AttributeValue = Istio.Mixer.V1.Attributes.Types.AttributeValue;

namespace Mixer.Proxy;

/// <summary>
/// The attributes every request of one listener shares (the workload's identity on the source or
/// destination side, the reporter, the upstream address), built once, and the listener's pool of
/// request records: one <see cref="AttributeLayout"/> per listener, its shared values written into
/// each record once, when the record is made. A record comes back to the pool through its
/// <see cref="AttributeRecord.Released"/> once the report batcher is done with it, and the next
/// request overwrites its request and response slots.
/// </summary>
internal sealed class ListenerAttributes
{
    private const int MaxKept = 4096;

    // What an HTTP request sets per request, after the listener's shared names in the layout.
    private static readonly string[] s_requestNames =
    [
        "source.ip", "source.port", "connection.id",
        "request.headers", "request.id", "request.path", "request.host", "request.method", "request.scheme",
        "request.size", "request.time", "request.useragent", "request.referer",
        "context.protocol", "api.protocol",
        "response.code", "response.size", "response.duration", "response.time", "response.headers",
        "check.cache_hit", "quota.cache_hit", "check.error_code", "check.error_message",
    ];

    private readonly KeyValuePair<string, AttributeValue>[] _static;
    private readonly System.Collections.Concurrent.ConcurrentQueue<AttributeRecord> _free = new();
    private readonly AttributeRecord _template;
    private readonly Action<AttributeRecord> _keep;
    private int _freeCount;

    public ListenerAttributes(ProxyConfig config, ListenerConfig listener, IPEndPoint upstream)
    {
        var w = config.Workload;
        var list = new List<KeyValuePair<string, AttributeValue>>();
        void Str(string name, string? value)
        {
            if (!string.IsNullOrEmpty(value))
            {
                list.Add(new(name, new AttributeValue { StringValue = value }));
            }
        }

        void Map(string name, IReadOnlyDictionary<string, string> entries)
        {
            var map = new Attributes.Types.StringMap();
            foreach (var (k, v) in entries)
            {
                map.Entries[k] = v;
            }

            list.Add(new(name, new AttributeValue { StringMapValue = map }));
        }

        var side = listener.Direction == Direction.Inbound ? "destination" : "source";
        Str(side + ".uid", w.UidOrDefault);
        Str(side + ".namespace", w.Namespace);
        Str(side + ".name", w.Name);
        Str(side + ".workload.name", w.Name);
        Str(side + ".workload.namespace", w.Namespace);
        Str(side + ".workload.uid", w.UidOrDefault);
        Str(side + ".principal", w.Principal);
        Map(side + ".labels", w.Labels);

        // The destination service: the listener's when it names one, else the workload's own (inbound).
        ServiceHost = listener.Service ?? (listener.Direction == Direction.Inbound ? w.Service : "");
        ServiceName = ServiceHost.Split('.')[0];
        ServiceNamespace = ServiceHost.Split('.') is { Length: > 1 } parts ? parts[1] : w.Namespace;
        if (ServiceHost.Length > 0)
        {
            Str("destination.service", ServiceHost);
            Str("destination.service.host", ServiceHost);
            Str("destination.service.name", ServiceName);
            Str("destination.service.namespace", ServiceNamespace);
        }

        list.Add(new("destination.ip", new AttributeValue { BytesValue = ByteString.CopyFrom(upstream.Address.GetAddressBytes()) }));
        list.Add(new("destination.port", new AttributeValue { Int64Value = upstream.Port }));
        Str("context.reporter.kind", listener.Direction == Direction.Inbound ? "inbound" : "outbound");
        Str("context.reporter.uid", w.UidOrDefault);
        list.Add(new("connection.mtls", new AttributeValue { BoolValue = false }));
        _static = [.. list];

        Layout = new AttributeLayout(_static.Select(a => a.Key).Concat(s_requestNames));
        Slots = new RequestSlots(Layout);
        _template = new AttributeRecord(Layout);
        foreach (var (name, value) in _static)
        {
            _template.Set(Layout[name], value);
        }

        _keep = Keep;
    }

    /// <summary>The layout of this listener's request records.</summary>
    public AttributeLayout Layout { get; }

    /// <summary>Where each per-request attribute sits in <see cref="Layout"/>.</summary>
    public RequestSlots Slots { get; }

    public string ServiceHost { get; }

    public string ServiceName { get; }

    public string ServiceNamespace { get; }

    /// <summary>A new set holding the listener's shared attributes (a TCP connection's: not pooled).</summary>
    public Attributes NewSet()
    {
        var attributes = new Attributes();
        var map = attributes.Attributes_;
        foreach (var (k, v) in _static)
        {
            map[k] = v;
        }

        return attributes;
    }

    /// <summary>
    /// A record for one HTTP request of this listener: one handed back by the report batcher when
    /// there is one (it still holds the listener's shared values, and the last request's own values
    /// for the caller to overwrite), else a new one.
    /// </summary>
    public AttributeRecord RentRecord()
    {
        if (_free.TryDequeue(out var record))
        {
            Interlocked.Decrement(ref _freeCount);
            return record;
        }

        record = new AttributeRecord(Layout) { Released = _keep };
        record.CopyFrom(_template);
        return record;
    }

    /// <summary>Takes back a request record of this listener that no one holds any more.</summary>
    public void Keep(AttributeRecord record)
    {
        if (Interlocked.Increment(ref _freeCount) <= MaxKept)
        {
            _free.Enqueue(record);
        }
        else
        {
            Interlocked.Decrement(ref _freeCount);
        }
    }

    public static AttributeValue Ip(IPAddress? address) => new() { BytesValue = IpBytes(address) };

    public static ByteString IpBytes(IPAddress? address)
    {
        address ??= IPAddress.Any;
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        return ByteString.CopyFrom(address.GetAddressBytes());
    }
}

/// <summary>The slots of the attributes an HTTP request sets, in its listener's layout.</summary>
internal sealed class RequestSlots(AttributeLayout layout)
{
    public readonly int SourceIp = layout["source.ip"];
    public readonly int SourcePort = layout["source.port"];
    public readonly int ConnectionId = layout["connection.id"];
    public readonly int RequestHeaders = layout["request.headers"];
    public readonly int RequestId = layout["request.id"];
    public readonly int RequestPath = layout["request.path"];
    public readonly int RequestHost = layout["request.host"];
    public readonly int RequestMethod = layout["request.method"];
    public readonly int RequestScheme = layout["request.scheme"];
    public readonly int RequestSize = layout["request.size"];
    public readonly int RequestTime = layout["request.time"];
    public readonly int RequestUserAgent = layout["request.useragent"];
    public readonly int RequestReferer = layout["request.referer"];
    public readonly int ContextProtocol = layout["context.protocol"];
    public readonly int ApiProtocol = layout["api.protocol"];
    public readonly int ResponseCode = layout["response.code"];
    public readonly int ResponseSize = layout["response.size"];
    public readonly int ResponseDuration = layout["response.duration"];
    public readonly int ResponseTime = layout["response.time"];
    public readonly int ResponseHeaders = layout["response.headers"];
    public readonly int CheckCacheHit = layout["check.cache_hit"];
    public readonly int QuotaCacheHit = layout["quota.cache_hit"];
    public readonly int CheckErrorCode = layout["check.error_code"];
    public readonly int CheckErrorMessage = layout["check.error_message"];
}
