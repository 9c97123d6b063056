using System.Net;
using Google.Protobuf;
using Istio.Mixer.V1;
using AttributeValue = Istio.Mixer.V1.Attributes.Types.AttributeValue;

namespace Mixer.Proxy;

/// <summary>
/// The attributes every request of one listener shares (the workload's identity on the source or
/// destination side, the reporter, the upstream address), built once. The values are shared by
/// every request's attribute set and never changed.
/// </summary>
internal sealed class ListenerAttributes
{
    private readonly KeyValuePair<string, AttributeValue>[] _static;

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
    }

    public string ServiceHost { get; }

    public string ServiceName { get; }

    public string ServiceNamespace { get; }

    /// <summary>A new set holding the listener's shared attributes.</summary>
    public Attributes NewSet()
    {
        var attributes = AttributeSets.Rent();
        var map = attributes.Attributes_;
        foreach (var (k, v) in _static)
        {
            map[k] = v;
        }

        return attributes;
    }

    public static AttributeValue Ip(IPAddress? address)
    {
        address ??= IPAddress.Any;
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        return new AttributeValue { BytesValue = ByteString.CopyFrom(address.GetAddressBytes()) };
    }
}

/// <summary>
/// Attribute sets handed back by the report batcher once it is done with them, to be filled again:
/// a set's map keeps the room it grew to (forty-odd attributes cost a dictionary grown five times
/// over when every request starts from an empty one), and so do the request.headers and
/// response.headers maps in it, which only the HTTP sidecar sets, one pair per request, shared with
/// nothing. Bounded; thread-safe.
/// </summary>
internal static class AttributeSets
{
    private const int MaxKept = 4096;
    private static readonly System.Collections.Concurrent.ConcurrentQueue<Attributes> s_free = new();
    private static readonly System.Collections.Concurrent.ConcurrentQueue<AttributeValue> s_freeHeaders = new();
    private static int s_count;
    private static int s_headerCount;

    /// <summary>An empty string-map value for request.headers or response.headers.</summary>
    public static AttributeValue RentHeaders()
    {
        if (s_freeHeaders.TryDequeue(out var value))
        {
            Interlocked.Decrement(ref s_headerCount);
            return value;
        }

        return new AttributeValue { StringMapValue = new Attributes.Types.StringMap() };
    }

    public static Attributes Rent()
    {
        if (s_free.TryDequeue(out var set))
        {
            Interlocked.Decrement(ref s_count);
            return set;
        }

        return new Attributes();
    }

    /// <summary>Takes back a set no one holds any more (the values it held are not touched: others may share them).</summary>
    public static void Return(Attributes set)
    {
        var map = set.Attributes_;
        ReturnHeaders(map, "request.headers");
        ReturnHeaders(map, "response.headers");
        map.Clear();
        if (Interlocked.Increment(ref s_count) <= MaxKept)
        {
            s_free.Enqueue(set);
        }
        else
        {
            Interlocked.Decrement(ref s_count);
        }
    }

    private static void ReturnHeaders(Google.Protobuf.Collections.MapField<string, AttributeValue> map, string name)
    {
        if (map.TryGetValue(name, out var value) && value.ValueCase == AttributeValue.ValueOneofCase.StringMapValue)
        {
            value.StringMapValue.Entries.Clear();
            if (Interlocked.Increment(ref s_headerCount) <= MaxKept * 2)
            {
                s_freeHeaders.Enqueue(value);
            }
            else
            {
                Interlocked.Decrement(ref s_headerCount);
            }
        }
    }
}
