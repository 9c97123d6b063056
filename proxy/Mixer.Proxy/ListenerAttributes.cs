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
    private const int MaxKept = 4096;

    // Which listener a set handed back belongs to, found by its destination.port value object (one per listener).
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<object, ListenerAttributes> s_owners = new(ReferenceEqualityComparer.Instance);

    private readonly KeyValuePair<string, AttributeValue>[] _static;
    private readonly System.Collections.Concurrent.ConcurrentQueue<Attributes> _free = new();
    private readonly AttributeValue _marker;
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
        _marker = new AttributeValue { Int64Value = upstream.Port };
        list.Add(new("destination.port", _marker));
        Str("context.reporter.kind", listener.Direction == Direction.Inbound ? "inbound" : "outbound");
        Str("context.reporter.uid", w.UidOrDefault);
        list.Add(new("connection.mtls", new AttributeValue { BoolValue = false }));
        _static = [.. list];
    }

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
    /// A set for one HTTP request of this listener: one handed back by the report batcher when there
    /// is one (it still holds the listener's shared values, and the last request's own values for the
    /// caller to overwrite in place), else a new one.
    /// </summary>
    public Attributes RentRequestSet()
    {
        if (_free.TryDequeue(out var set))
        {
            Interlocked.Decrement(ref _freeCount);
            return set;
        }

        var attributes = NewSet();
        s_owners.TryAdd(_marker, this);
        return attributes;
    }

    /// <summary>Takes back a request set of this listener that no one holds any more.</summary>
    public void Keep(Attributes set)
    {
        if (Interlocked.Increment(ref _freeCount) <= MaxKept)
        {
            _free.Enqueue(set);
        }
        else
        {
            Interlocked.Decrement(ref _freeCount);
        }
    }

    /// <summary>The listener whose request set <paramref name="set"/> is, by its shared destination.port value, or null.</summary>
    public static ListenerAttributes? OwnerOf(Attributes set) =>
        set.Attributes_.TryGetValue("destination.port", out var marker) && s_owners.TryGetValue(marker, out var owner) ? owner : null;

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
/// Where the report batcher hands back the sets it is done with. An HTTP request's set goes back to
/// its listener's pool as it is: the next request overwrites its values in place instead of
/// building a map of forty-odd entries (and two header maps) from empty, which would allocate a
/// Google.Protobuf map node per attribute and per header. A TCP connection's set is left to the
/// collector (one per connection event, and with names no HTTP request has).
/// </summary>
internal static class AttributeSets
{
    public static void Return(Attributes set)
    {
        if (set.Attributes_.ContainsKey("request.headers") && ListenerAttributes.OwnerOf(set) is { } owner)
        {
            owner.Keep(set);
        }
    }
}
