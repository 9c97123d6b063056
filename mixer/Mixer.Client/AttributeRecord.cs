using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Istio.Mixer.V1;
using AttributeValue = Istio.Mixer.V1.Attributes.Types.AttributeValue;
using ValueCase = Istio.Mixer.V1.Attributes.Types.AttributeValue.ValueOneofCase;

namespace Mixer.Client;

/// <summary>
/// The attribute names a family of <see cref="AttributeRecord"/>s can hold, each at a fixed slot.
/// Built once (a sidecar builds one per listener) and shared by every record of the family; the
/// report batcher delta-encodes two records of one layout slot by slot, with no name lookups.
/// </summary>
public sealed class AttributeLayout
{
    private readonly string[] _names;
    private readonly int[] _global;
    private readonly Dictionary<string, int> _slots;

    /// <summary>A layout of <paramref name="names"/>, slot i holding the i-th.</summary>
    /// <exception cref="ArgumentException">A name is empty or given twice.</exception>
    public AttributeLayout(IEnumerable<string> names)
    {
        ArgumentNullException.ThrowIfNull(names);
        _names = [.. names];
        _slots = new Dictionary<string, int>(_names.Length, StringComparer.Ordinal);
        _global = new int[_names.Length];
        for (var i = 0; i < _names.Length; i++)
        {
            var name = _names[i];
            if (string.IsNullOrEmpty(name))
            {
                throw new ArgumentException($"attribute name {i} is empty", nameof(names));
            }

            if (!_slots.TryAdd(name, i))
            {
                throw new ArgumentException($"attribute '{name}' is listed twice", nameof(names));
            }

            _global[i] = GlobalDictionary.IndexOf(name);
        }
    }

    /// <summary>How many slots a record of this layout has.</summary>
    public int Count => _names.Length;

    /// <summary>The attribute name of <paramref name="slot"/>.</summary>
    public string NameOf(int slot) => _names[slot];

    /// <summary>The slot of <paramref name="name"/>, or -1 when the layout has none.</summary>
    public int SlotOf(string name) => _slots.TryGetValue(name, out var slot) ? slot : -1;

    /// <summary>The slot of <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">The layout has no such name.</exception>
    public int this[string name] => _slots.TryGetValue(name, out var slot) ? slot : throw new KeyNotFoundException($"the layout has no attribute '{name}'");

    /// <summary>The global dictionary index of the name in <paramref name="slot"/>, or -1.</summary>
    internal int GlobalIndexOf(int slot) => _global[slot];
}

/// <summary>
/// One attribute set as typed values in the slots of an <see cref="AttributeLayout"/>: what a
/// sidecar fills per request instead of an <see cref="Attributes"/> message, without a map node per
/// attribute. A record is meant to be reused: give it to <see cref="MixerClient.Report(AttributeRecord)"/>,
/// leave it untouched until <see cref="Released"/> hands it back, then overwrite its slots for the
/// next request. Not thread-safe.
/// </summary>
public sealed class AttributeRecord
{
    private readonly Slot[] _slots;

    // Each slot's own map entries, kept for reuse while the slot holds another type or nothing.
    private readonly StringPairs?[] _maps;

    /// <summary>An empty record of <paramref name="layout"/>.</summary>
    public AttributeRecord(AttributeLayout layout)
    {
        Layout = layout ?? throw new ArgumentNullException(nameof(layout));
        _slots = new Slot[layout.Count];
        _maps = new StringPairs?[layout.Count];
    }

    /// <summary>The layout its slots follow.</summary>
    public AttributeLayout Layout { get; }

    /// <summary>
    /// Called (on the report batcher's thread) once a reported record is no longer needed: it was
    /// encoded and the record after it compared with it. The owner may then reuse it. Not called for
    /// a record that was dropped because the report buffer was full.
    /// </summary>
    public Action<AttributeRecord>? Released { get; set; }

    internal ReadOnlySpan<Slot> Slots => _slots;

    /// <summary>Whether <paramref name="slot"/> holds a value.</summary>
    public bool Has(int slot) => _slots[slot].Kind != ValueCase.None;

    /// <summary>The value type held in <paramref name="slot"/> (None: absent).</summary>
    public ValueCase KindOf(int slot) => _slots[slot].Kind;

    /// <summary>The string in <paramref name="slot"/>.</summary>
    /// <exception cref="InvalidOperationException">The slot holds no string.</exception>
    public string StringOf(int slot) => _slots[slot] is { Kind: ValueCase.StringValue } s ? (string)s.Ref! : throw NotA(slot, "string");

    /// <summary>The int64 in <paramref name="slot"/>.</summary>
    /// <exception cref="InvalidOperationException">The slot holds no int64.</exception>
    public long Int64Of(int slot) => _slots[slot] is { Kind: ValueCase.Int64Value } s ? s.Number : throw NotA(slot, "int64");

    /// <summary>The string map in <paramref name="slot"/>.</summary>
    /// <exception cref="InvalidOperationException">The slot holds no string map.</exception>
    public StringPairs MapOf(int slot) => _slots[slot] is { Kind: ValueCase.StringMapValue } s ? (StringPairs)s.Ref! : throw NotA(slot, "string map");

    /// <summary>Sets a string.</summary>
    public void SetString(int slot, string value) =>
        _slots[slot] = new Slot(ValueCase.StringValue, 0, 0, value ?? throw new ArgumentNullException(nameof(value)));

    /// <summary>Sets an int64.</summary>
    public void SetInt64(int slot, long value) => _slots[slot] = new Slot(ValueCase.Int64Value, value, 0, null);

    /// <summary>Sets a double.</summary>
    public void SetDouble(int slot, double value) => _slots[slot] = new Slot(ValueCase.DoubleValue, BitConverter.DoubleToInt64Bits(value), 0, null);

    /// <summary>Sets a bool.</summary>
    public void SetBool(int slot, bool value) => _slots[slot] = new Slot(ValueCase.BoolValue, value ? 1 : 0, 0, null);

    /// <summary>Sets bytes (an IP address, say).</summary>
    public void SetBytes(int slot, ByteString value) =>
        _slots[slot] = new Slot(ValueCase.BytesValue, 0, 0, value ?? throw new ArgumentNullException(nameof(value)));

    /// <summary>Sets a timestamp, from 100 ns ticks of UTC (<see cref="DateTime.Ticks"/> of a UTC time).</summary>
    public void SetTimestamp(int slot, long utcTicks)
    {
        var seconds = Math.DivRem(utcTicks - DateTime.UnixEpoch.Ticks, TimeSpan.TicksPerSecond, out var rest);
        _slots[slot] = new Slot(ValueCase.TimestampValue, seconds, (int)rest * 100, null);
    }

    /// <summary>Sets a duration.</summary>
    public void SetDuration(int slot, TimeSpan value)
    {
        var seconds = Math.DivRem(value.Ticks, TimeSpan.TicksPerSecond, out var rest);
        _slots[slot] = new Slot(ValueCase.DurationValue, seconds, (int)rest * 100, null);
    }

    /// <summary>
    /// Makes <paramref name="slot"/> a string map and returns its entries, emptied, to fill. The
    /// record keeps the same <see cref="StringPairs"/> for the slot across uses (no allocation).
    /// </summary>
    public StringPairs SetStringMap(int slot)
    {
        var pairs = _maps[slot] ??= new StringPairs();
        pairs.Clear();
        _slots[slot] = new Slot(ValueCase.StringMapValue, 0, 0, pairs);
        return pairs;
    }

    /// <summary>Sets a message value (a copy of it: the record keeps no reference to <paramref name="value"/> or its map).</summary>
    /// <exception cref="ArgumentException">The value has none of its typed fields set.</exception>
    public void Set(int slot, AttributeValue value)
    {
        ArgumentNullException.ThrowIfNull(value);
        switch (value.ValueCase)
        {
            case ValueCase.StringValue:
                SetString(slot, value.StringValue);
                break;
            case ValueCase.Int64Value:
                SetInt64(slot, value.Int64Value);
                break;
            case ValueCase.DoubleValue:
                SetDouble(slot, value.DoubleValue);
                break;
            case ValueCase.BoolValue:
                SetBool(slot, value.BoolValue);
                break;
            case ValueCase.BytesValue:
                SetBytes(slot, value.BytesValue);
                break;
            case ValueCase.TimestampValue:
                _slots[slot] = new Slot(ValueCase.TimestampValue, value.TimestampValue.Seconds, value.TimestampValue.Nanos, null);
                break;
            case ValueCase.DurationValue:
                _slots[slot] = new Slot(ValueCase.DurationValue, value.DurationValue.Seconds, value.DurationValue.Nanos, null);
                break;
            case ValueCase.StringMapValue:
                var pairs = SetStringMap(slot);
                foreach (var (k, v) in value.StringMapValue.Entries)
                {
                    pairs.Add(k, v);
                }

                break;
            default:
                throw new ArgumentException($"attribute '{Layout.NameOf(slot)}' has no value: set one of its typed fields", nameof(value));
        }
    }

    /// <summary>Copies shared, never-changed values: each slot <paramref name="from"/> holds is set here to the same value.</summary>
    public void CopyFrom(AttributeRecord from)
    {
        ArgumentNullException.ThrowIfNull(from);
        if (!ReferenceEquals(from.Layout, Layout))
        {
            throw new ArgumentException("the records have different layouts", nameof(from));
        }

        for (var i = 0; i < _slots.Length; i++)
        {
            if (from._slots[i].Kind == ValueCase.StringMapValue)
            {
                SetStringMap(i).AddAll((StringPairs)from._slots[i].Ref!);
            }
            else if (from._slots[i].Kind != ValueCase.None)
            {
                _slots[i] = from._slots[i];
            }
        }
    }

    /// <summary>Makes <paramref name="slot"/> absent.</summary>
    public void Remove(int slot) => _slots[slot] = default;

    /// <summary>The value of <paramref name="slot"/> as a message value (a new object), or null when absent.</summary>
    public AttributeValue? ValueOf(int slot)
    {
        ref readonly var s = ref _slots[slot];
        switch (s.Kind)
        {
            case ValueCase.StringValue:
                return new AttributeValue { StringValue = (string)s.Ref! };
            case ValueCase.Int64Value:
                return new AttributeValue { Int64Value = s.Number };
            case ValueCase.DoubleValue:
                return new AttributeValue { DoubleValue = BitConverter.Int64BitsToDouble(s.Number) };
            case ValueCase.BoolValue:
                return new AttributeValue { BoolValue = s.Number != 0 };
            case ValueCase.BytesValue:
                return new AttributeValue { BytesValue = (ByteString)s.Ref! };
            case ValueCase.TimestampValue:
                return new AttributeValue { TimestampValue = new Timestamp { Seconds = s.Number, Nanos = s.Nanos } };
            case ValueCase.DurationValue:
                return new AttributeValue { DurationValue = new Duration { Seconds = s.Number, Nanos = s.Nanos } };
            case ValueCase.StringMapValue:
                var map = new Attributes.Types.StringMap();
                var pairs = (StringPairs)s.Ref!;
                for (var i = 0; i < pairs.Count; i++)
                {
                    map.Entries[pairs.KeyAt(i)] = pairs.ValueAt(i);
                }

                return new AttributeValue { StringMapValue = map };
            default:
                return null;
        }
    }

    /// <summary>The record as an <see cref="Attributes"/> message (a copy: later changes to the record do not show in it).</summary>
    public Attributes ToAttributes()
    {
        var attributes = new Attributes();
        var map = attributes.Attributes_;
        for (var i = 0; i < _slots.Length; i++)
        {
            if (ValueOf(i) is { } value)
            {
                map[Layout.NameOf(i)] = value;
            }
        }

        return attributes;
    }

    private InvalidOperationException NotA(int slot, string type) =>
        new($"attribute '{Layout.NameOf(slot)}' holds {(_slots[slot].Kind == ValueCase.None ? "nothing" : _slots[slot].Kind.ToString())}, not a {type}");

    /// <summary>
    /// One slot: the value type, a number (int64, double bits, bool, or a time's seconds), a time's
    /// nanos, and a reference (string, bytes, or the map's entries).
    /// </summary>
    internal readonly record struct Slot(ValueCase Kind, long Number, int Nanos, object? Ref)
    {
        /// <summary>The entries of a string-map slot.</summary>
        public StringPairs Map => (StringPairs)Ref!;

        /// <summary>Same type and equal value (strings and bytes by content, maps entry by entry in order).</summary>
        public bool SameValue(in Slot other)
        {
            if (Kind != other.Kind)
            {
                return false;
            }

            return Kind switch
            {
                ValueCase.StringValue => ReferenceEquals(Ref, other.Ref) || string.Equals((string)Ref!, (string)other.Ref!, StringComparison.Ordinal),
                ValueCase.BytesValue => ReferenceEquals(Ref, other.Ref) || ((ByteString)Ref!).Span.SequenceEqual(((ByteString)other.Ref!).Span),
                ValueCase.StringMapValue => Map.SameAs(other.Map),
                ValueCase.None => true,
                _ => Number == other.Number && Nanos == other.Nanos,
            };
        }
    }
}

/// <summary>
/// The entries of a string-map attribute (request.headers, say) in the order they were added,
/// reused from request to request. A key added twice counts with its last value, as on the wire.
/// </summary>
public sealed class StringPairs
{
    private string[] _keys = new string[8];
    private string[] _values = new string[8];

    /// <summary>How many entries were added.</summary>
    public int Count { get; private set; }

    /// <summary>The key of entry <paramref name="index"/>.</summary>
    public string KeyAt(int index) => index < Count ? _keys[index] : throw new ArgumentOutOfRangeException(nameof(index));

    /// <summary>The value of entry <paramref name="index"/>.</summary>
    public string ValueAt(int index) => index < Count ? _values[index] : throw new ArgumentOutOfRangeException(nameof(index));

    /// <summary>Adds an entry.</summary>
    public void Add(string key, string value)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        if (Count == _keys.Length)
        {
            Array.Resize(ref _keys, Count * 2);
            Array.Resize(ref _values, Count * 2);
        }

        _keys[Count] = key;
        _values[Count] = value;
        Count++;
    }

    /// <summary>The value under <paramref name="key"/> (its last, if added twice).</summary>
    public bool TryGetValue(string key, out string value)
    {
        for (var i = Count - 1; i >= 0; i--)
        {
            if (string.Equals(_keys[i], key, StringComparison.Ordinal))
            {
                value = _values[i];
                return true;
            }
        }

        value = string.Empty;
        return false;
    }

    /// <summary>Removes every entry (the room stays).</summary>
    public void Clear()
    {
        Array.Clear(_keys, 0, Count);
        Array.Clear(_values, 0, Count);
        Count = 0;
    }

    internal void AddAll(StringPairs other)
    {
        for (var i = 0; i < other.Count; i++)
        {
            Add(other._keys[i], other._values[i]);
        }
    }

    /// <summary>The distinct keys with their last values, sorted by key (ordinal).</summary>
    internal List<KeyValuePair<string, string>> Sorted()
    {
        var last = new Dictionary<string, string>(Count, StringComparer.Ordinal);
        for (var i = 0; i < Count; i++)
        {
            last[_keys[i]] = _values[i];
        }

        var sorted = last.ToList();
        sorted.Sort(static (a, b) => string.CompareOrdinal(a.Key, b.Key));
        return sorted;
    }

    internal bool SameAs(StringPairs other)
    {
        if (ReferenceEquals(this, other))
        {
            return true;
        }

        if (Count != other.Count)
        {
            return false;
        }

        for (var i = 0; i < Count; i++)
        {
            if (!(ReferenceEquals(_keys[i], other._keys[i]) || string.Equals(_keys[i], other._keys[i], StringComparison.Ordinal))
                || !(ReferenceEquals(_values[i], other._values[i]) || string.Equals(_values[i], other._values[i], StringComparison.Ordinal)))
            {
                return false;
            }
        }

        return true;
    }
}
