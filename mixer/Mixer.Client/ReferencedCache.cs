using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Istio.Mixer.V1;
using AttributeValue = Istio.Mixer.V1.Attributes.Types.AttributeValue;
using Condition = Istio.Mixer.V1.ReferencedAttributes.Types.Condition;

namespace Mixer.Client;

/// <summary>
/// A bounded LRU map from "the values of the attributes an answer depended on" to that answer: the
/// mechanism behind the check cache and the quota allowances, as in Istio's proxy (one
/// <see cref="Shape"/> per distinct set of referenced names and map keys, tried in turn).
/// </summary>
/// <remarks>
/// Exact by construction: the key is every referenced value itself (typed, length-prefixed), not a
/// digest of it, and a referenced map key contributes the value under that key. Two requests share
/// an entry only when every attribute and map key the answer read is equal, and every attribute
/// (or key) it found absent is absent. Istio 1.0.6's server-side cache skipped map values, durations
/// and IPs when hashing; this one skips nothing. Thread-safe.
/// </remarks>
internal sealed class ReferencedCache<TValue>
    where TValue : class
{
    private const int MaxShapes = 256;

    private readonly int _capacity;
    private readonly Lock _lock = new();
    private readonly Dictionary<byte[], LinkedListNode<(byte[] Key, TValue Value)>> _entries = new(ByteKeyComparer.Instance);
    private readonly Dictionary<byte[], LinkedListNode<(byte[] Key, TValue Value)>>.AlternateLookup<ReadOnlySpan<byte>> _lookup;
    private readonly LinkedList<(byte[] Key, TValue Value)> _order = new();
    private Shape[] _shapes = [];

    public ReferencedCache(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _capacity = capacity;
        _lookup = _entries.GetAlternateLookup<ReadOnlySpan<byte>>();
    }

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>How many entries were pushed out because the cache was full.</summary>
    public long Evictions { get; private set; }

    /// <summary>The entry whose referenced values all equal those of <paramref name="request"/>, most recently used first.</summary>
    public bool TryGet(Attributes request, out TValue value) => TryGet(new AttributeSource(request), out value);

    /// <summary>As <see cref="TryGet(Attributes, out TValue)"/>, for a message or a record (both give the same keys).</summary>
    public bool TryGet(AttributeSource request, out TValue value)
    {
        var shapes = Volatile.Read(ref _shapes);
        if (shapes.Length > 0)
        {
            var buffer = ArrayPool<byte>.Shared.Rent(256);
            try
            {
                foreach (var shape in shapes)
                {
                    if (!shape.TryEncode(request, ref buffer, out var length))
                    {
                        continue;
                    }

                    lock (_lock)
                    {
                        if (_lookup.TryGetValue(buffer.AsSpan(0, length), out var node))
                        {
                            _order.Remove(node);
                            _order.AddFirst(node);
                            value = node.Value.Value;
                            return true;
                        }
                    }
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        value = null!;
        return false;
    }

    /// <summary>
    /// Stores <paramref name="value"/> for every request that agrees with <paramref name="request"/> on
    /// <paramref name="referenced"/>. False (nothing stored) when the answer cannot be cached: a REGEX or
    /// unspecified condition, or an index that names no word.
    /// </summary>
    public bool TryAdd(Attributes request, ReferencedAttributes? referenced, TValue value)
    {
        if (!ReferencedAttributesDecoder.TryDecode(referenced, request, out var matches, out _))
        {
            return false;
        }

        foreach (var m in matches)
        {
            if (m.Condition is not (Condition.Exact or Condition.Absence))
            {
                return false;
            }
        }

        var shape = ShapeFor(matches);
        if (shape is null)
        {
            return false;
        }

        var buffer = ArrayPool<byte>.Shared.Rent(256);
        try
        {
            if (!shape.TryEncode(request, ref buffer, out var length))
            {
                // The answer says it read a value the request does not hold: do not trust it.
                return false;
            }

            var key = buffer.AsSpan(0, length).ToArray();
            lock (_lock)
            {
                if (_entries.Remove(key, out var old))
                {
                    _order.Remove(old);
                }

                var node = _order.AddFirst((key, value));
                _entries[key] = node;
                while (_entries.Count > _capacity)
                {
                    var last = _order.Last!;
                    _order.RemoveLast();
                    _entries.Remove(last.Value.Key);
                    Evictions++;
                }
            }

            return true;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Forgets the entry <paramref name="request"/> finds, if it is still <paramref name="value"/>.</summary>
    public void Remove(AttributeSource request, TValue value)
    {
        foreach (var shape in Volatile.Read(ref _shapes))
        {
            var buffer = ArrayPool<byte>.Shared.Rent(256);
            try
            {
                if (!shape.TryEncode(request, ref buffer, out var length))
                {
                    continue;
                }

                lock (_lock)
                {
                    if (_lookup.TryGetValue(buffer.AsSpan(0, length), out var node) && ReferenceEquals(node.Value.Value, value))
                    {
                        _order.Remove(node);
                        _entries.Remove(node.Value.Key);
                        return;
                    }
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    private Shape? ShapeFor(IReadOnlyList<ReferencedAttribute> matches)
    {
        var candidate = new Shape(matches);
        lock (_lock)
        {
            foreach (var s in _shapes)
            {
                if (s.Id == candidate.Id)
                {
                    return s;
                }
            }

            if (_shapes.Length >= MaxShapes)
            {
                return null;
            }

            candidate.Number = _shapes.Length;
            Volatile.Write(ref _shapes, [.. _shapes, candidate]);
            return candidate;
        }
    }

    /// <summary>
    /// One set of referenced names and map keys: which must be absent, which must be present, and
    /// how the present ones' values are written into a key.
    /// </summary>
    private sealed class Shape
    {
        private readonly (string Name, string? Key)[] _absent;
        private readonly (string Name, string? Key)[] _exact;

        public Shape(IReadOnlyList<ReferencedAttribute> matches)
        {
            _absent = [.. matches.Where(m => m.Condition == Condition.Absence).Select(m => (m.Name, m.MapKey)).Distinct().Order()];
            _exact = [.. matches.Where(m => m.Condition == Condition.Exact).Select(m => (m.Name, m.MapKey)).Distinct().Order()];
            Id = string.Join('\u0001', _absent.Select(a => a.Name + '\u0002' + a.Key)) + '\u0003' + string.Join('\u0001', _exact.Select(a => a.Name + '\u0002' + a.Key));
        }

        public string Id { get; }

        public int Number { get; set; }

        public bool TryEncode(Attributes request, ref byte[] buffer, out int length) => TryEncode(new AttributeSource(request), ref buffer, out length);

        // One key layout for both forms of a set (so an answer stored from one serves the other):
        // every ABSENCE must hold, then the shape's number, then each EXACT value in order, a map
        // key's value marked 0xFE.
        public bool TryEncode(AttributeSource source, ref byte[] buffer, out int length)
        {
            length = 0;
            foreach (var (name, key) in _absent)
            {
                if (source.Has(name, key))
                {
                    return false;
                }
            }

            var writer = new KeyWriter(buffer);
            writer.Int(Number);
            foreach (var (name, key) in _exact)
            {
                if (key is not null)
                {
                    if (!source.TryGetMapEntry(name, key, out var entry))
                    {
                        return false;
                    }

                    writer.Byte(0xFE);
                    writer.String(entry);
                }
                else if (!source.TryWriteValue(ref writer, name))
                {
                    return false;
                }
            }

            buffer = writer.Buffer;
            length = writer.Length;
            return true;
        }
    }

    private sealed class ByteKeyComparer : IEqualityComparer<byte[]>, IAlternateEqualityComparer<ReadOnlySpan<byte>, byte[]>
    {
        public static readonly ByteKeyComparer Instance = new();

        public bool Equals(byte[]? x, byte[]? y) => x.AsSpan().SequenceEqual(y);

        public int GetHashCode(byte[] obj) => GetHashCode((ReadOnlySpan<byte>)obj);

        public bool Equals(ReadOnlySpan<byte> alternate, byte[] other) => alternate.SequenceEqual(other);

        public int GetHashCode(ReadOnlySpan<byte> alternate)
        {
            var h = new HashCode();
            h.AddBytes(alternate);
            return h.ToHashCode();
        }

        public byte[] Create(ReadOnlySpan<byte> alternate) => alternate.ToArray();
    }
}

/// <summary>
/// An attribute set in either of the client's two forms: an <see cref="Attributes"/> message, or an
/// <see cref="AttributeRecord"/> (the sidecar's). The caches read both alike.
/// </summary>
internal readonly struct AttributeSource
{
    public AttributeSource(Attributes message) => Message = message ?? throw new ArgumentNullException(nameof(message));

    public AttributeSource(AttributeRecord record) => Record = record ?? throw new ArgumentNullException(nameof(record));

    public Attributes? Message { get; }

    public AttributeRecord? Record { get; }

    /// <summary>The set as a message: the message itself, or a copy of the record.</summary>
    public Attributes ToAttributes() => Message ?? Record!.ToAttributes();

    /// <summary>Whether the set holds <paramref name="name"/> (and, for a map key, that key in it).</summary>
    public bool Has(string name, string? key)
    {
        if (key is not null)
        {
            return TryGetMapEntry(name, key, out _);
        }

        if (Record is { } record)
        {
            var slot = record.Layout.SlotOf(name);
            return slot >= 0 && record.Has(slot);
        }

        return Message!.Attributes_.ContainsKey(name);
    }

    /// <summary>The value under <paramref name="key"/> of the string map <paramref name="name"/>.</summary>
    public bool TryGetMapEntry(string name, string key, out string value)
    {
        if (Record is { } record)
        {
            var slot = record.Layout.SlotOf(name);
            if (slot >= 0 && record.KindOf(slot) == AttributeValue.ValueOneofCase.StringMapValue)
            {
                return record.MapOf(slot).TryGetValue(key, out value);
            }
        }
        else if (Message!.Attributes_.TryGetValue(name, out var v) && v.ValueCase == AttributeValue.ValueOneofCase.StringMapValue)
        {
            return v.StringMapValue.Entries.TryGetValue(key, out value!);
        }

        value = string.Empty;
        return false;
    }

    /// <summary>Writes the typed value of <paramref name="name"/> into a cache key; false when the set lacks it.</summary>
    public bool TryWriteValue(ref KeyWriter writer, string name)
    {
        if (Record is { } record)
        {
            var slot = record.Layout.SlotOf(name);
            if (slot < 0 || !record.Has(slot))
            {
                return false;
            }

            writer.Value(record.Slots[slot]);
            return true;
        }

        if (!Message!.Attributes_.TryGetValue(name, out var v))
        {
            return false;
        }

        writer.Value(v);
        return true;
    }
}

/// <summary>Writes typed, length-prefixed values into a growable buffer, so no two values share an encoding.</summary>
internal ref struct KeyWriter(byte[] buffer)
{
    public byte[] Buffer = buffer;
    public int Length;

    public void Byte(byte b)
    {
        Ensure(1);
        Buffer[Length++] = b;
    }

    public void Int(int i)
    {
        Ensure(4);
        BinaryPrimitives.WriteInt32LittleEndian(Buffer.AsSpan(Length), i);
        Length += 4;
    }

    public void Long(long l)
    {
        Ensure(8);
        BinaryPrimitives.WriteInt64LittleEndian(Buffer.AsSpan(Length), l);
        Length += 8;
    }

    public void Bytes(ReadOnlySpan<byte> bytes)
    {
        Int(bytes.Length);
        Ensure(bytes.Length);
        bytes.CopyTo(Buffer.AsSpan(Length));
        Length += bytes.Length;
    }

    public void String(string s) => Bytes(MemoryMarshal.AsBytes(s.AsSpan()));

    public void Value(AttributeValue v)
    {
        Byte((byte)v.ValueCase);
        switch (v.ValueCase)
        {
            case AttributeValue.ValueOneofCase.StringValue:
                String(v.StringValue);
                break;
            case AttributeValue.ValueOneofCase.Int64Value:
                Long(v.Int64Value);
                break;
            case AttributeValue.ValueOneofCase.DoubleValue:
                Long(BitConverter.DoubleToInt64Bits(v.DoubleValue));
                break;
            case AttributeValue.ValueOneofCase.BoolValue:
                Byte(v.BoolValue ? (byte)1 : (byte)0);
                break;
            case AttributeValue.ValueOneofCase.BytesValue:
                Bytes(v.BytesValue.Span);
                break;
            case AttributeValue.ValueOneofCase.TimestampValue:
                Long(v.TimestampValue.Seconds);
                Int(v.TimestampValue.Nanos);
                break;
            case AttributeValue.ValueOneofCase.DurationValue:
                Long(v.DurationValue.Seconds);
                Int(v.DurationValue.Nanos);
                break;
            case AttributeValue.ValueOneofCase.StringMapValue:
                Map([.. v.StringMapValue.Entries.OrderBy(e => e.Key, StringComparer.Ordinal)]);
                break;
            default:
                break;
        }
    }

    public void Value(in AttributeRecord.Slot v)
    {
        Byte((byte)v.Kind);
        switch (v.Kind)
        {
            case AttributeValue.ValueOneofCase.StringValue:
                String((string)v.Ref!);
                break;
            case AttributeValue.ValueOneofCase.Int64Value:
            case AttributeValue.ValueOneofCase.DoubleValue:
                Long(v.Number);
                break;
            case AttributeValue.ValueOneofCase.BoolValue:
                Byte(v.Number != 0 ? (byte)1 : (byte)0);
                break;
            case AttributeValue.ValueOneofCase.BytesValue:
                Bytes(((Google.Protobuf.ByteString)v.Ref!).Span);
                break;
            case AttributeValue.ValueOneofCase.TimestampValue:
            case AttributeValue.ValueOneofCase.DurationValue:
                Long(v.Number);
                Int(v.Nanos);
                break;
            case AttributeValue.ValueOneofCase.StringMapValue:
                Map(v.Map.Sorted());
                break;
            default:
                break;
        }
    }

    // A whole map, its entries sorted by key (Mixer 1.0 never references one without a key, but be exact if one does).
    private void Map(List<KeyValuePair<string, string>> sorted)
    {
        Int(sorted.Count);
        foreach (var (k, val) in sorted)
        {
            String(k);
            String(val);
        }
    }

    private void Ensure(int more)
    {
        if (Length + more > Buffer.Length)
        {
            var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(Buffer.Length * 2, Length + more));
            Buffer.AsSpan(0, Length).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(Buffer);
            Buffer = bigger;
        }
    }
}
